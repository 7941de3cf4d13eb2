import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from '../../../src/errors/index.js';
import {
  RestartManager,
  checkAutoRemove,
  restartPolicyOf,
  storedPolicy,
  type RestartPolicy,
  type Timers,
} from '../../../src/engine/restart-manager.js';

/** FakeTimers fires timers only when the test advances its clock. */
class FakeTimers implements Timers {
  now = 0;
  #timers: { at: number; fn: () => void; live: boolean }[] = [];
  setTimeout(fn: () => void, ms: number): () => void {
    const t = { at: this.now + ms, fn, live: true };
    this.#timers.push(t);
    return () => (t.live = false);
  }
  /** advance moves the clock and runs the timers due. */
  advance(ms: number): void {
    this.now += ms;
    for (const t of this.#timers.filter((x) => x.live && x.at <= this.now)) {
      t.live = false;
      t.fn();
    }
  }
  get pending(): number {
    return this.#timers.filter((t) => t.live).length;
  }
}

const policy = (Name: RestartPolicy['Name'], MaximumRetryCount = 0): RestartPolicy => ({
  Name,
  MaximumRetryCount,
});

/** settled tells whether a promise has settled, without waiting for it. */
async function settled<T>(p: Promise<T>): Promise<{ done: boolean; value?: T }> {
  const marker = Symbol('pending');
  const v = await Promise.race([p, new Promise<typeof marker>((r) => setImmediate(() => r(marker)))]);
  return v === marker ? { done: false } : { done: true, value: v as T };
}

describe('restartPolicyOf (dockerd ValidateRestartPolicy)', () => {
  test('absent, empty and "no" mean no restarts', () => {
    assert.deepEqual(restartPolicyOf(undefined), policy('no'));
    assert.deepEqual(restartPolicyOf(null), policy('no'));
    assert.deepEqual(restartPolicyOf({}), policy('no'));
    assert.deepEqual(restartPolicyOf({ Name: '', MaximumRetryCount: 5 }), policy('no'));
    assert.deepEqual(restartPolicyOf({ Name: 'no', MaximumRetryCount: 0 }), policy('no'));
  });

  test('always, unless-stopped and on-failure[:N] are kept', () => {
    assert.deepEqual(restartPolicyOf({ Name: 'always' }), policy('always'));
    assert.deepEqual(
      restartPolicyOf({ Name: 'unless-stopped', MaximumRetryCount: 0 }),
      policy('unless-stopped'),
    );
    assert.deepEqual(restartPolicyOf({ Name: 'on-failure', MaximumRetryCount: 3 }), policy('on-failure', 3));
    assert.deepEqual(restartPolicyOf({ Name: 'on-failure' }), policy('on-failure', 0));
  });

  test('a retry count with another policy is refused with dockerd words', () => {
    for (const Name of ['no', 'always', 'unless-stopped']) {
      assert.throws(
        () => restartPolicyOf({ Name, MaximumRetryCount: 2 }),
        (e: unknown) =>
          e instanceof InvalidArgumentError &&
          e.message === "invalid restart policy: maximum retry count can only be used with 'on-failure'",
      );
    }
    assert.throws(
      () => restartPolicyOf({ Name: 'always', MaximumRetryCount: -1 }),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        e.message ===
          "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative",
    );
    assert.throws(
      () => restartPolicyOf({ Name: 'on-failure', MaximumRetryCount: -1 }),
      /invalid restart policy: maximum retry count cannot be negative/,
    );
  });

  test('an unknown policy is refused with dockerd words', () => {
    assert.throws(
      () => restartPolicyOf({ Name: 'sometimes' }),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        e.message ===
          "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
    );
  });

  test('wrong types name the field', () => {
    assert.throws(() => restartPolicyOf({ Name: 3 }), /HostConfig\.RestartPolicy\.Name/);
    assert.throws(
      () => restartPolicyOf({ Name: 'on-failure', MaximumRetryCount: '2' }),
      /HostConfig\.RestartPolicy\.MaximumRetryCount/,
    );
    assert.throws(() => restartPolicyOf('always'), /HostConfig\.RestartPolicy: must be an object/);
  });

  test('storedPolicy reads old records as "no"', () => {
    assert.deepEqual(storedPolicy(undefined), policy('no'));
    assert.deepEqual(storedPolicy({ Name: 'bogus' }), policy('no'));
    assert.deepEqual(storedPolicy({ Name: 'always', MaximumRetryCount: 0 }), policy('always'));
  });
});

describe('checkAutoRemove', () => {
  test('AutoRemove with a restart policy is refused as dockerd refuses it', () => {
    assert.throws(
      () => checkAutoRemove(true, { Name: 'always' }),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        e.message === "can't create 'AutoRemove' container with restart policy",
    );
    assert.throws(() => checkAutoRemove(true, { Name: 'on-failure', MaximumRetryCount: 1 }), /AutoRemove/);
  });

  test('AutoRemove without a policy, or a policy without AutoRemove, is fine', () => {
    checkAutoRemove(true, { Name: 'no' });
    checkAutoRemove(true, { Name: '' });
    checkAutoRemove(true, undefined);
    checkAutoRemove(false, { Name: 'always' });
  });
});

describe('RestartManager', () => {
  test('"no" never restarts', () => {
    const rm = new RestartManager(0, new FakeTimers());
    assert.equal(rm.shouldRestart(policy('no'), 1, false, 0).restart, false);
  });

  test('the back-off starts at 100 ms and doubles with each restart', async () => {
    const timers = new FakeTimers();
    const rm = new RestartManager(0, timers);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const d = rm.shouldRestart(policy('always'), 0, false, 50);
      assert.ok(d.restart);
      delays.push(d.delayMs);
      assert.equal((await settled(d.wait)).done, false, 'the start waits for the back-off');
      timers.advance(d.delayMs - 1);
      assert.equal((await settled(d.wait)).done, false);
      timers.advance(1);
      assert.deepEqual(await settled(d.wait), { done: true, value: true });
    }
    assert.deepEqual(delays, [100, 200, 400, 800, 1600]);
  });

  test('the back-off is capped at one minute', async () => {
    const timers = new FakeTimers();
    const rm = new RestartManager(0, timers);
    let last = 0;
    for (let i = 0; i < 12; i++) {
      const d = rm.shouldRestart(policy('always'), 1, false, 10);
      assert.ok(d.restart);
      last = d.delayMs;
      timers.advance(d.delayMs);
      await d.wait;
    }
    assert.equal(last, 60_000);
  });

  test('a run of 10 s or more resets the back-off to 100 ms', async () => {
    const timers = new FakeTimers();
    const rm = new RestartManager(0, timers);
    for (const expected of [100, 200, 400]) {
      const d = rm.shouldRestart(policy('always'), 0, false, 9_999);
      assert.ok(d.restart);
      assert.equal(d.delayMs, expected);
      timers.advance(d.delayMs);
      await d.wait;
    }
    const d = rm.shouldRestart(policy('always'), 0, false, 10_000);
    assert.ok(d.restart);
    assert.equal(d.delayMs, 100);
  });

  test('on-failure does not restart after exit code 0', () => {
    const rm = new RestartManager(0, new FakeTimers());
    assert.equal(rm.shouldRestart(policy('on-failure'), 0, false, 0).restart, false);
  });

  test('on-failure:N restarts N times, counting from the container RestartCount', async () => {
    const timers = new FakeTimers();
    const rm = new RestartManager(0, timers);
    const answers: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const d = rm.shouldRestart(policy('on-failure', 2), 3, false, 0);
      answers.push(d.restart);
      if (d.restart) {
        timers.advance(d.delayMs);
        await d.wait;
      }
    }
    assert.deepEqual(answers, [true, true, false, false]);
    assert.equal(rm.restartCount, 2);
    const resumed = new RestartManager(2, timers);
    assert.equal(resumed.shouldRestart(policy('on-failure', 2), 3, false, 0).restart, false);
    const unlimited = new RestartManager(50, timers);
    assert.equal(unlimited.shouldRestart(policy('on-failure'), 3, false, 0).restart, true);
  });

  test('unless-stopped does not restart after a manual stop; always does', () => {
    assert.equal(new RestartManager().shouldRestart(policy('unless-stopped'), 0, true, 0).restart, false);
    assert.equal(new RestartManager().shouldRestart(policy('unless-stopped'), 0, false, 0).restart, true);
    assert.equal(new RestartManager().shouldRestart(policy('always'), 0, true, 0).restart, true);
  });

  test('cancel ends a waiting restart (false) and every later one', async () => {
    const timers = new FakeTimers();
    const rm = new RestartManager(0, timers);
    const d = rm.shouldRestart(policy('always'), 0, false, 0);
    assert.ok(d.restart);
    rm.cancel();
    assert.deepEqual(await settled(d.wait), { done: true, value: false });
    assert.equal(timers.pending, 0, 'the timer is cleared');
    assert.ok(rm.canceled);
    assert.equal(rm.shouldRestart(policy('always'), 0, false, 0).restart, false);
  });

  test('an exit while a restart waits is not restarted twice', () => {
    const rm = new RestartManager(0, new FakeTimers());
    assert.equal(rm.shouldRestart(policy('always'), 0, false, 0).restart, true);
    assert.equal(rm.shouldRestart(policy('always'), 0, false, 0).restart, false);
  });
});
