import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { execProbe, type ProbeExecs } from '../../../src/engine/health/exec-probe.js';
import { HealthService } from '../../../src/engine/health/health-service.js';
import type { Clock, ProbeOutcome, ProbeRunner } from '../../../src/engine/health/monitor.js';
import type { AttachSession } from '../../../src/engine/io/container-io.js';
import type { ExecInspect } from '../../../src/engine/io/exec.js';

const S = 1_000_000_000;

/** FakeClock fires timers only when the test advances it. */
class FakeClock implements Clock {
  t = Date.parse('2024-01-01T00:00:00Z');
  #timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.#timers.push(timer);
    return () => (timer.live = false);
  }
  get pending(): number {
    return this.#timers.filter((x) => x.live).length;
  }
  /** advance moves time in 1 ms steps' worth of due timers, letting promises settle between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const due = this.#timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = Math.max(this.t, due.at);
      due.live = false;
      due.fn();
    }
    this.t = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
  // the service persists health.json for real: on a loaded machine that I/O outlasts 20 turns
  await new Promise<void>((r) => setTimeout(r, 5));
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** ScriptedProbe answers each run with the next outcome (the last repeats); 'hang' waits for abort. */
class ScriptedProbe implements ProbeRunner {
  runs: { at: number; argv: readonly string[]; timeoutMs: number }[] = [];
  aborted = 0;
  constructor(
    private readonly clock: FakeClock,
    private readonly outcomes: (ProbeOutcome | 'hang')[],
  ) {}
  run(_id: string, argv: readonly string[], timeoutMs: number, signal: AbortSignal): Promise<ProbeOutcome> {
    this.runs.push({ at: this.clock.now(), argv, timeoutMs });
    const o = this.outcomes[Math.min(this.runs.length - 1, this.outcomes.length - 1)];
    if (o === 'hang' || o === undefined) {
      return new Promise((_, reject) =>
        signal.addEventListener('abort', () => {
          this.aborted++;
          reject(new Error('killed'));
        }),
      );
    }
    return Promise.resolve(o);
  }
}

const ok: ProbeOutcome = { ExitCode: 0, Output: 'ok\n' };
const bad: ProbeOutcome = { ExitCode: 1, Output: 'bad\n' };

async function setup(outcomes: (ProbeOutcome | 'hang')[]) {
  const dir = await mkdtemp(join(tmpdir(), 'ckptd-health-'));
  await mkdir(join(dir, 'c1'));
  const clock = new FakeClock();
  const probe = new ScriptedProbe(clock, outcomes);
  const events: string[] = [];
  const svc = new HealthService({
    probe,
    containersDir: dir,
    clock,
    events: { publishContainer: (action) => events.push(action) },
  });
  const startedAt = new Date(clock.now()).toISOString();
  return {
    dir,
    clock,
    probe,
    events,
    svc,
    startedAt,
    [Symbol.asyncDispose]: () => rm(dir, { recursive: true }),
  };
}

describe('HealthService and its monitor (fake clock, scripted probe)', () => {
  test('a container without a probe (no healthcheck, NONE) has no health and no monitor', async () => {
    await using s = await setup([ok]);
    await s.svc.started('c1', { config: { Test: ['NONE'] }, startedAt: s.startedAt });
    await s.svc.started('c1', { config: undefined, startedAt: s.startedAt });
    assert.equal(s.svc.state('c1'), undefined);
    assert.equal(s.clock.pending, 0);
  });

  test('first probe one interval after start; healthy emits health_status: healthy once', async () => {
    await using s = await setup([ok]);
    await s.svc.started('c1', {
      config: { Test: ['CMD-SHELL', 'true'], Interval: 2 * S, Timeout: 3 * S },
      startedAt: s.startedAt,
    });
    assert.deepEqual(s.svc.state('c1'), { Status: 'starting', FailingStreak: 0, Log: [] });
    await s.clock.advance(1999);
    assert.equal(s.probe.runs.length, 0);
    await s.clock.advance(1);
    assert.equal(s.probe.runs.length, 1);
    assert.deepEqual(s.probe.runs[0]?.argv, ['/bin/sh', '-c', 'true']);
    assert.equal(s.probe.runs[0]?.timeoutMs, 3000);
    await s.clock.advance(4000);
    assert.equal(s.probe.runs.length, 3);
    assert.equal(s.svc.state('c1')?.Status, 'healthy');
    assert.deepEqual(s.events, ['health_status: healthy']);
    await s.svc.close(); // waits for the writes of health.json
    const saved = JSON.parse(await readFile(join(s.dir, 'c1', 'health.json'), 'utf8')) as { Status: string };
    assert.equal(saved.Status, 'healthy');
    await s.svc.close();
  });

  test('retries failures make it unhealthy; a probe error is exit -1 with its message', async () => {
    await using s = await setup([bad, bad, bad]);
    await s.svc.started('c1', {
      config: { Test: ['CMD', 'x'], Interval: S, Retries: 3 },
      startedAt: s.startedAt,
    });
    await s.clock.advance(2000);
    assert.deepEqual([s.svc.state('c1')?.Status, s.svc.state('c1')?.FailingStreak], ['starting', 2]);
    await s.clock.advance(1000);
    assert.deepEqual([s.svc.state('c1')?.Status, s.svc.state('c1')?.FailingStreak], ['unhealthy', 3]);
    assert.deepEqual(s.events, ['health_status: unhealthy']);
    assert.equal(s.svc.state('c1')?.Log[0]?.Output, 'bad\n');
    await s.svc.close();
  });

  test('start period: failures do not count, probes come at the start interval', async () => {
    await using s = await setup([bad]);
    await s.svc.started('c1', {
      config: { Test: ['CMD', 'x'], Interval: 10 * S, StartPeriod: 30 * S, StartInterval: S, Retries: 1 },
      startedAt: s.startedAt,
    });
    await s.clock.advance(5000);
    assert.equal(s.probe.runs.length, 5);
    assert.deepEqual([s.svc.state('c1')?.Status, s.svc.state('c1')?.FailingStreak], ['starting', 0]);
    await s.clock.advance(26_000); // past the start period
    assert.equal(s.svc.state('c1')?.Status, 'unhealthy');
    await s.svc.close();
  });

  test('stop cancels a running probe, drops its result and marks the health unhealthy', async () => {
    await using s = await setup([ok, 'hang']);
    await s.svc.started('c1', { config: { Test: ['CMD', 'x'], Interval: S }, startedAt: s.startedAt });
    await s.clock.advance(2000);
    assert.equal(s.probe.runs.length, 2);
    await s.svc.stopped('c1');
    assert.equal(s.probe.aborted, 1);
    assert.deepEqual([s.svc.state('c1')?.Status, s.svc.state('c1')?.Log.length], ['unhealthy', 1]);
    await s.clock.advance(5000);
    assert.equal(s.probe.runs.length, 2);
    assert.equal(s.clock.pending, 0);
  });

  test('pause stops probes (unhealthy, as dockerd); unpause runs them again', async () => {
    await using s = await setup([ok]);
    await s.svc.started('c1', { config: { Test: ['CMD', 'x'], Interval: S }, startedAt: s.startedAt });
    await s.clock.advance(1000);
    await s.svc.paused('c1');
    assert.equal(s.svc.state('c1')?.Status, 'unhealthy');
    await s.clock.advance(5000);
    assert.equal(s.probe.runs.length, 1);
    s.svc.unpaused('c1');
    await s.clock.advance(1000);
    assert.equal(s.probe.runs.length, 2);
    assert.equal(s.svc.state('c1')?.Status, 'healthy');
    assert.deepEqual(s.events, ['health_status: healthy', 'health_status: healthy']);
    await s.svc.close();
  });

  test('suspend for a checkpoint keeps the status; a restore continues from the recorded health', async () => {
    await using s = await setup([ok]);
    const config = { Test: ['CMD', 'x'], Interval: S };
    await s.svc.started('c1', { config, startedAt: s.startedAt });
    await s.clock.advance(1000);
    const recorded = await s.svc.suspend('c1');
    assert.equal(recorded?.Status, 'healthy');
    await s.svc.stopped('c1'); // the checkpoint's exit
    assert.equal(s.svc.state('c1')?.Status, 'unhealthy');
    assert.ok(recorded);
    await s.svc.started('c1', { config, startedAt: s.startedAt, continueWith: recorded });
    assert.deepEqual(s.svc.state('c1'), recorded);
    await s.clock.advance(1000);
    assert.equal(s.probe.runs.length, 2);
    assert.equal(s.svc.state('c1')?.Log.length, 2);
    await s.svc.close();
  });

  test('a leave-running checkpoint resumes the monitor', async () => {
    await using s = await setup([ok]);
    await s.svc.started('c1', { config: { Test: ['CMD', 'x'], Interval: S }, startedAt: s.startedAt });
    await s.svc.suspend('c1');
    await s.clock.advance(3000);
    assert.equal(s.probe.runs.length, 0);
    s.svc.resume('c1');
    await s.clock.advance(1000);
    assert.equal(s.probe.runs.length, 1);
    await s.svc.close();
  });

  test('ckptd restart: the recorded health is loaded and its monitor continues from it', async () => {
    await using s = await setup([bad]);
    const config = { Test: ['CMD', 'x'], Interval: S, Retries: 1 };
    await s.svc.started('c1', { config, startedAt: s.startedAt });
    await s.clock.advance(1000);
    await s.svc.close();
    const again = new HealthService({ probe: s.probe, containersDir: s.dir, clock: s.clock });
    await again.load('c1');
    assert.equal(again.state('c1')?.Status, 'unhealthy');
    await again.started('c1', { config, startedAt: s.startedAt, continueWith: 'recorded' });
    assert.equal(again.state('c1')?.Log.length, 1);
    await s.clock.advance(1000);
    assert.equal(again.state('c1')?.Log.length, 2);
    await again.close();
  });

  test('a new start resets status and streak and keeps the log', async () => {
    await using s = await setup([bad]);
    const config = { Test: ['CMD', 'x'], Interval: S, Retries: 1 };
    await s.svc.started('c1', { config, startedAt: s.startedAt });
    await s.clock.advance(1000);
    await s.svc.stopped('c1');
    await s.svc.started('c1', { config, startedAt: s.startedAt });
    assert.deepEqual(
      [s.svc.state('c1')?.Status, s.svc.state('c1')?.FailingStreak, s.svc.state('c1')?.Log.length],
      ['starting', 0, 1],
    );
    await s.svc.close();
  });
});

/** fakeExecs runs one scripted exec: its output chunks, then its exit code (or until killed). */
function fakeExecs(chunks: string[], exitCode: number | 'hang', clock: FakeClock) {
  const calls: string[] = [];
  let code: number | null = null;
  const execs: ProbeExecs = {
    execCreate: (id, config) => {
      calls.push(`create ${id} ${(config.Cmd ?? []).join(' ')}`);
      return Promise.resolve('e1');
    },
    execStart: (_id, _opts, signal) =>
      Promise.resolve({
        tty: false,
        start: () => {
          async function* output() {
            for (const c of chunks) yield { stream: 'stdout' as const, data: Buffer.from(c) };
            if (exitCode === 'hang') {
              await new Promise<void>((r) => signal?.addEventListener('abort', () => r()));
              code = 137;
              calls.push('killed');
            } else code = exitCode;
          }
          return Promise.resolve<AttachSession>({ tty: false, output: output() });
        },
      }),
    execInspect: () => ({ ExitCode: code }) as ExecInspect,
    execForget: (id) => calls.push(`forget ${id}`),
  };
  return { execs, calls, probe: execProbe(execs, clock) };
}

describe('execProbe', () => {
  test('runs the command as an exec and reports its exit code and output; the record is dropped', async () => {
    const clock = new FakeClock();
    const f = fakeExecs(['hel', 'lo\n'], 3, clock);
    const out = await f.probe.run('c1', ['sh', '-c', 'x'], 1000, new AbortController().signal);
    assert.deepEqual(out, { ExitCode: 3, Output: 'hello\n' });
    assert.deepEqual(f.calls, ['create c1 sh -c x', 'forget e1']);
  });

  test("a probe past its timeout is killed: exit -1 and dockerd's message with the output", async () => {
    const clock = new FakeClock();
    const f = fakeExecs(['partial'], 'hang', clock);
    const p = f.probe.run('c1', ['x'], 1500, new AbortController().signal);
    await clock.advance(1500);
    assert.deepEqual(await p, { ExitCode: -1, Output: 'Health check exceeded timeout (1.5s): partial' });
    assert.ok(f.calls.includes('killed'));
  });
});
