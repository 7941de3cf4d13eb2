import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Fanout, SlowConsumerError } from '../../../src/engine/io/fanout.js';

const size = (b: Buffer) => b.length;

test('every subscriber gets every chunk, in order, and ends when the fanout ends', async () => {
  const f = new Fanout(size, 1024);
  const a = f.subscribe();
  const b = f.subscribe();
  f.publish(Buffer.from('x'));
  f.publish(Buffer.from('y'));
  f.end();
  for (const s of [a, b]) {
    const got: string[] = [];
    for await (const c of s) got.push(c.toString());
    assert.deepEqual(got, ['x', 'y']);
  }
  assert.equal(f.size, 0);
});

test('a slow subscriber is cut off at its byte limit while a fast one keeps everything; memory stays bounded', async () => {
  const limit = 64 * 1024;
  const f = new Fanout(size, limit);
  const slow = f.subscribe();
  const fast = f.subscribe();
  let fastBytes = 0;
  const consuming = (async () => {
    for await (const c of fast) fastBytes += c.length;
  })();
  const chunk = Buffer.alloc(4096);
  let maxQueued = 0;
  for (let i = 0; i < 1000; i++) {
    f.publish(chunk);
    maxQueued = Math.max(maxQueued, slow.queuedBytes);
    if (i % 8 === 0) await new Promise((r) => setImmediate(r));
  }
  f.end();
  await consuming;
  assert.equal(fastBytes, 1000 * 4096);
  assert.ok(maxQueued <= limit, `slow queue peaked at ${maxQueued}`);
  await assert.rejects(
    (async () => {
      for await (const _ of slow) void _;
    })(),
    SlowConsumerError,
  );
  assert.equal(f.size, 0);
});

test('subscribing to an ended fanout yields nothing; closing a subscription unsubscribes it', async () => {
  const f = new Fanout(size, 10);
  const s = f.subscribe();
  s.close();
  assert.equal(f.size, 0);
  f.end();
  const late = f.subscribe();
  for await (const _ of late) assert.fail('nothing expected');
});
