// Recovery pieces of issue 16 without containerd: half checkpoints settled after their dump
// ends, pause marks thawed only when no operation of this run holds them, leases of this run
// kept at a reconnect, and the reconnect recovery serialized.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  halfCheckpoints,
  holdersOf,
  settleInterruptedCheckpoints,
} from '../../../src/engine/checkpoint-recovery.js';
import { PauseMarks } from '../../../src/engine/pause-marks.js';
import { ReconnectRecovery } from '../../../src/engine/reconnect-recovery.js';
import { LEASE_DATA_ROOT_LABEL, removeOwnLeases } from '../../../src/engine/recovery.js';

const ID_A = 'a'.repeat(64);
const ID_B = 'b'.repeat(64);
const quiet = { info: () => undefined, warn: () => undefined };

describe('fault recovery', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ckptd-fault-recovery-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('half checkpoints (no config.dump) are removed once nothing works in them; whole ones stay', async () => {
    const containers = join(root, 'c1');
    await mkdir(join(containers, ID_A, 'checkpoints', 'half', 'checkpoint'), { recursive: true });
    await mkdir(join(containers, ID_A, 'checkpoints', 'whole'), { recursive: true });
    await writeFile(join(containers, ID_A, 'checkpoints', 'whole', 'config.dump'), '{}');
    assert.deepEqual(
      (await halfCheckpoints(containers)).map((h) => h.dir),
      [join(containers, ID_A, 'checkpoints', 'half')],
    );
    let polls = 0;
    const removed = await settleInterruptedCheckpoints(containers, quiet, {
      holders: async () => (++polls < 3 ? [4242] : []),
    });
    assert.equal(polls, 3, 'it waited for the dump to end');
    assert.deepEqual(removed, [join(containers, ID_A, 'checkpoints', 'half')]);
    assert.deepEqual(await readdir(join(containers, ID_A, 'checkpoints')), ['whole']);
  });

  test('a checkpoint still written when the wait runs out is left in place', async () => {
    const containers = join(root, 'c2');
    await mkdir(join(containers, ID_A, 'checkpoints', 'busy'), { recursive: true });
    const removed = await settleInterruptedCheckpoints(containers, quiet, {
      holders: async () => [1],
      waitMs: 300,
    });
    assert.deepEqual(removed, []);
    assert.deepEqual(await readdir(join(containers, ID_A, 'checkpoints')), ['busy']);
  });

  test('holdersOf: a directory no process works in has no holders (the caller itself is skipped)', async () => {
    // holdersOf skips the calling process: a directory nobody else uses has no holders
    const dir = join(root, 'nobody-here');
    await mkdir(dir);
    assert.deepEqual(await holdersOf(dir), []);
  });

  test('pause marks: a freeze this run holds is skipped, a failed thaw (done) is recovered, a busy dump is waited for', async () => {
    const dataRoot = join(root, 'marks');
    for (const id of [ID_A, ID_B]) await mkdir(join(dataRoot, 'containers', id), { recursive: true });
    const marks = new PauseMarks(dataRoot);
    await marks.mark(ID_A);
    await marks.mark(ID_B);
    const status = new Map([
      [ID_A, 'PAUSED'],
      [ID_B, 'PAUSED'],
    ]);
    const resumed: string[] = [];
    const tasks = {
      get: async (id: string) => ({ status: status.get(id) }),
      resume: async (id: string) => {
        resumed.push(id);
        status.set(id, 'RUNNING');
      },
    };
    const skip = (id: string) => marks.isLive(id);
    assert.deepEqual(await marks.recover(tasks, quiet, { skip }), []);
    marks.done(ID_A); // its operation ended, the thaw failed
    let busyPolls = 0;
    const thawed = await marks.recover(tasks, quiet, {
      skip,
      busy: async () => ++busyPolls < 2,
    });
    assert.deepEqual(thawed, [ID_A]);
    assert.ok(busyPolls >= 2);
    assert.deepEqual(resumed, [ID_A]);
    assert.deepEqual(await readdir(join(dataRoot, 'containers', ID_A)), []);
    assert.deepEqual(await readdir(join(dataRoot, 'containers', ID_B)), ['paused-by-ckptd']);
    await marks.clear(ID_B);
    assert.equal(marks.isLive(ID_B), false);
  });

  test('removeOwnLeases keeps the leases in use and those of other data roots', async () => {
    const deleted: string[] = [];
    const leases = {
      list: async () => [
        { id: 'left', labels: { [LEASE_DATA_ROOT_LABEL]: '/d' } },
        { id: 'live', labels: { [LEASE_DATA_ROOT_LABEL]: '/d' } },
        { id: 'other', labels: { [LEASE_DATA_ROOT_LABEL]: '/e' } },
      ],
      delete: async (id: string) => {
        deleted.push(id);
      },
    };
    assert.deepEqual(await removeOwnLeases(leases, '/d', quiet, (id) => id === 'live'), ['left']);
    assert.deepEqual(deleted, ['left']);
  });

  test('the reconnect recovery runs at each reconnect, one at a time', async () => {
    let fire: () => void = () => undefined;
    let lists = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const dataRoot = join(root, 'reconnect');
    const rr = new ReconnectRecovery({
      onReconnect: (fn) => {
        fire = fn;
        return () => undefined;
      },
      leases: {
        list: async () => {
          lists++;
          if (lists === 1) await gate;
          return [];
        },
        delete: async () => undefined,
      },
      leaseInUse: () => false,
      tasks: { get: async () => ({ status: 'RUNNING' }), resume: async () => undefined },
      pauseMarks: new PauseMarks(dataRoot),
      dataRoot,
      logger: quiet,
    });
    rr.start();
    fire();
    fire();
    fire(); // two more while the first runs: one more run
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(lists, 1);
    release();
    for (let i = 0; i < 100 && rr.runs < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(rr.runs, 2);
    assert.equal(lists, 2);
    await rr.stop();
  });
});
