import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import {
  encodeFrame,
  encodeFrames,
  MAX_FRAME_PAYLOAD,
  MuxDecoder,
  type DecodedFrame,
} from '../../../src/engine/io/mux.js';

async function decode(chunks: Buffer[]): Promise<DecodedFrame[]> {
  const out: DecodedFrame[] = [];
  for await (const f of Readable.from(chunks).pipe(new MuxDecoder())) out.push(f as DecodedFrame);
  return out;
}

test('encodeFrame writes the 8-byte stdcopy header: stream, three zeros, big-endian length', () => {
  const f = encodeFrame('stderr', Buffer.from('oops\n'));
  assert.deepEqual([...f.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 5]);
  assert.equal(f.subarray(8).toString(), 'oops\n');
});

test('MuxDecoder reassembles frames split at any byte boundary', async () => {
  const wire = Buffer.concat([
    encodeFrame('stdout', Buffer.from('out\n')),
    encodeFrame('stderr', Buffer.from('err\n')),
  ]);
  const chunks = [...wire].map((b) => Buffer.from([b]));
  const frames = await decode(chunks);
  assert.deepEqual(
    frames.map((f) => [f.stream, f.data.toString()]),
    [
      ['stdout', 'out\n'],
      ['stderr', 'err\n'],
    ],
  );
});

test('encodeFrames splits payloads larger than MAX_FRAME_PAYLOAD', () => {
  const frames = encodeFrames('stdout', Buffer.alloc(MAX_FRAME_PAYLOAD + 3));
  assert.equal(frames.length, 4);
  assert.equal(frames[2]?.readUInt32BE(4), 3);
});

test('MuxDecoder rejects an unknown stream byte and a truncated frame', async () => {
  await assert.rejects(decode([Buffer.from([7, 0, 0, 0, 0, 0, 0, 1, 65])]), /unrecognized stream/);
  await assert.rejects(decode([encodeFrame('stdout', Buffer.from('abc')).subarray(0, 10)]), /truncated/);
});
