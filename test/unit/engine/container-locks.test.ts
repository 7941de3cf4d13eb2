import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContainerLocks } from '../../../src/engine/container-locks.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('one container: sections run one at a time, in arrival order', async () => {
  const locks = new ContainerLocks();
  const log: string[] = [];
  let inside = 0;
  const section = (name: string) => async (): Promise<void> => {
    inside++;
    assert.equal(inside, 1, `${name} overlapped another section`);
    log.push(`${name}+`);
    await tick();
    await tick();
    log.push(`${name}-`);
    inside--;
  };
  await Promise.all([
    locks.run('a', section('1')),
    locks.run('a', section('2')),
    locks.run('a', section('3')),
  ]);
  assert.deepEqual(log, ['1+', '1-', '2+', '2-', '3+', '3-']);
  assert.equal(locks.size, 0);
});

test('different containers do not wait for each other', async () => {
  const locks = new ContainerLocks();
  let release!: () => void;
  const blocker = locks.run('a', () => new Promise<void>((r) => (release = r)));
  let bRan = false;
  await locks.run('b', async () => {
    bRan = true;
  });
  assert.ok(bRan);
  release();
  await blocker;
});

test('a failed section releases the lock and its error reaches its caller only', async () => {
  const locks = new ContainerLocks();
  const failed = locks.run('a', () => Promise.reject(new Error('boom')));
  const next = locks.run('a', () => Promise.resolve(7));
  await assert.rejects(failed, /boom/);
  assert.equal(await next, 7);
});

test('re-entry along one call chain runs at once (a checkpoint that stops its container)', async () => {
  const locks = new ContainerLocks();
  const got = await locks.run('a', async () => {
    await tick();
    return locks.run('a', async () => locks.run('a', () => Promise.resolve('inner')));
  });
  assert.equal(got, 'inner');
});

test('work a section left in the background takes the lock like anyone once the section ended', async () => {
  const locks = new ContainerLocks();
  let later!: Promise<string[]>;
  const log: string[] = [];
  let release!: () => void;
  await locks.run('a', async () => {
    // an exit watcher started inside start(): it runs after start() returned
    later = (async () => {
      await new Promise((r) => setTimeout(r, 20));
      await locks.run('a', async () => {
        log.push('watcher');
      });
      return log;
    })();
  });
  // someone else holds the lock when the watcher wakes up: the watcher must wait for it
  const other = locks.run('a', async () => {
    await new Promise<void>((r) => (release = r));
    log.push('other');
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(log, [], 'the watcher ran while another section held the lock');
  release();
  await other;
  assert.deepEqual(await later, ['other', 'watcher']);
});

test('held() is true only inside a live section of that container', async () => {
  const locks = new ContainerLocks();
  assert.equal(locks.held('a'), false);
  await locks.run('a', async () => {
    assert.equal(locks.held('a'), true);
    assert.equal(locks.held('b'), false);
    await locks.run('b', async () => {
      assert.equal(locks.held('a'), true);
      assert.equal(locks.held('b'), true);
    });
  });
  assert.equal(locks.held('a'), false);
});
