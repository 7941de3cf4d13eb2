import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from '../../../src/errors/index.js';
import {
  LimitedBuffer,
  MAX_OUTPUT_LEN,
  applyResult,
  goDuration,
  healthStatusSuffix,
  healthTiming,
  nextDelay,
  parseHealthState,
  probeCommand,
  startingHealth,
  timeoutMessage,
  validateHealthConfig,
  type HealthState,
  type HealthcheckResult,
} from '../../../src/engine/health/health-state.js';
import { selectContainers, statusString, type ListEntry } from '../../../src/engine/containers/shape.js';
import { parseFilters } from '../../../src/oci/filters.js';

const S = 1_000_000_000;
const r = (code: number, out = ''): HealthcheckResult => ({
  Start: 's',
  End: 'e',
  ExitCode: code,
  Output: out,
});

describe('validateHealthConfig (moby validateHealthCheck)', () => {
  test('durations under 1ms and negative retries are refused with dockerd words', () => {
    assert.throws(() => validateHealthConfig({ Interval: 10 }), {
      message: 'Interval in Healthcheck cannot be less than 1ms',
    });
    assert.throws(() => validateHealthConfig({ Timeout: -S }), {
      message: 'Timeout in Healthcheck cannot be less than 1ms',
    });
    assert.throws(
      () => validateHealthConfig({ StartPeriod: 5 }),
      /StartPeriod in Healthcheck cannot be less/,
    );
    assert.throws(() => validateHealthConfig({ StartInterval: 5 }), /StartInterval in Healthcheck/);
    assert.throws(() => validateHealthConfig({ Retries: -1 }), {
      message: 'Retries in Healthcheck cannot be negative',
    });
    assert.throws(() => validateHealthConfig({ Retries: -1 }), InvalidArgumentError);
  });
  test('zero values, NONE and an empty Test are accepted', () => {
    validateHealthConfig({ Test: [], Interval: 0, Timeout: 0, Retries: 0 });
    validateHealthConfig({ Test: ['NONE'] });
    validateHealthConfig({ Test: ['CMD', 'true'], Interval: 1_000_000 });
    validateHealthConfig(null);
  });
  test('a Test that would never run is refused, naming the field', () => {
    assert.throws(
      () => validateHealthConfig({ Test: ['FOO', 'x'] }),
      /^InvalidArgumentError: Healthcheck\.Test: unknown/,
    );
    assert.throws(() => validateHealthConfig({ Test: ['CMD'] }), /Healthcheck\.Test: CMD needs a command/);
    assert.throws(() => validateHealthConfig({ Test: ['CMD-SHELL', ''] }), /CMD-SHELL needs a command/);
  });
});

describe('probeCommand', () => {
  test('CMD runs its arguments, CMD-SHELL the shell, NONE nothing', () => {
    assert.deepEqual(probeCommand({ Test: ['CMD', 'a', 'b c'] }), ['a', 'b c']);
    assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'x || y'] }), ['/bin/sh', '-c', 'x || y']);
    assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'x'] }, ['/bin/bash', '-ec']), [
      '/bin/bash',
      '-ec',
      'x',
    ]);
    assert.equal(probeCommand({ Test: ['NONE'] }), undefined);
    assert.equal(probeCommand({ Test: [] }), undefined);
    assert.equal(probeCommand(undefined), undefined);
  });
});

describe('timing (moby timeoutWithDefault, getInterval)', () => {
  test('defaults: 30s interval and timeout, 5s start interval, 3 retries, no start period', () => {
    assert.deepEqual(healthTiming({ Test: ['CMD', 'x'] }), {
      intervalMs: 30_000,
      timeoutMs: 30_000,
      startPeriodMs: 0,
      startIntervalMs: 5_000,
      retries: 3,
    });
    assert.equal(healthTiming({ Interval: 2 * S, Retries: 7 }).intervalMs, 2000);
  });
  test('within the start period: start interval while starting, never past its end', () => {
    const t = healthTiming({ Interval: 30 * S, StartPeriod: 60 * S, StartInterval: 2 * S });
    assert.equal(nextDelay(t, 0, 'starting'), 2000);
    assert.equal(nextDelay(t, 0, 'healthy'), 30_000);
    assert.equal(nextDelay(t, 50_000, 'starting'), 10_000);
    assert.equal(nextDelay(t, 60_000, 'starting'), 30_000);
  });
});

describe('applyResult (moby handleProbeResult)', () => {
  const t = healthTiming({ Retries: 2, StartPeriod: 10 * S });
  const starting: HealthState = startingHealth(undefined);
  test('a success is healthy and resets the streak', () => {
    const h = applyResult({ Status: 'unhealthy', FailingStreak: 4, Log: [] }, r(0, 'ok'), t, 20_000, 0);
    assert.deepEqual(h, { Status: 'healthy', FailingStreak: 0, Log: [r(0, 'ok')] });
  });
  test('failures within the start period do not count while starting', () => {
    const h = applyResult(starting, r(1), t, 5_000, 0);
    assert.equal(h.Status, 'starting');
    assert.equal(h.FailingStreak, 0);
    assert.equal(h.Log.length, 1);
  });
  test('retries failures in a row make it unhealthy', () => {
    let h = applyResult(starting, r(1), t, 11_000, 0);
    assert.deepEqual([h.Status, h.FailingStreak], ['starting', 1]);
    h = applyResult(h, r(-1), t, 12_000, 0);
    assert.deepEqual([h.Status, h.FailingStreak], ['unhealthy', 2]);
  });
  test('a healthy container counts failures even within the start period', () => {
    const h = applyResult({ Status: 'healthy', FailingStreak: 0, Log: [] }, r(1), t, 1_000, 0);
    assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 1]);
  });
  test('the log keeps the last five results', () => {
    let h = starting;
    for (let i = 0; i < 7; i++) h = applyResult(h, r(0, String(i)), t, 20_000, 0);
    assert.deepEqual(
      h.Log.map((e) => e.Output),
      ['2', '3', '4', '5', '6'],
    );
  });
  test('a start keeps the log and resets status and streak', () => {
    assert.deepEqual(startingHealth({ Status: 'unhealthy', FailingStreak: 3, Log: [r(1)] }), {
      Status: 'starting',
      FailingStreak: 0,
      Log: [r(1)],
    });
  });
});

describe('output and messages', () => {
  test('LimitedBuffer keeps 4096 bytes and marks the cut with "..."', () => {
    const b = new LimitedBuffer();
    b.write(Buffer.alloc(4000, 'a'));
    b.write(Buffer.alloc(200, 'b'));
    const s = b.toString();
    assert.equal(s.length, MAX_OUTPUT_LEN + 3);
    assert.ok(s.endsWith('bbb...'));
    const small = new LimitedBuffer();
    small.write(Buffer.from('ok\n'));
    assert.equal(small.toString(), 'ok\n');
  });
  test('goDuration formats as Go time.Duration', () => {
    assert.equal(goDuration(30_000), '30s');
    assert.equal(goDuration(500), '500ms');
    assert.equal(goDuration(1500), '1.5s');
    assert.equal(goDuration(90_000), '1m30s');
    assert.equal(goDuration(3_600_000), '1h0m0s');
    assert.equal(goDuration(1), '1ms');
  });
  test("timeoutMessage is dockerd's", () => {
    assert.equal(timeoutMessage(1000, ''), 'Health check exceeded timeout (1s)');
    assert.equal(timeoutMessage(500, 'slow\n'), 'Health check exceeded timeout (500ms): slow\n');
  });
  test('parseHealthState accepts a record and refuses what is not one', () => {
    const h = { Status: 'healthy', FailingStreak: 0, Log: [r(0)] };
    assert.deepEqual(parseHealthState(h), h);
    assert.equal(parseHealthState({ ...h, Status: 'great' }), undefined);
    assert.equal(parseHealthState({ ...h, FailingStreak: -1 }), undefined);
    assert.equal(parseHealthState({ ...h, Log: [{ Start: 1 }] }), undefined);
    assert.equal(parseHealthState('x'), undefined);
  });
});

describe('docker ps shaping', () => {
  const started = '2024-01-01T00:00:00Z';
  const now = Date.parse(started) + 5000;
  test('the STATUS column shows the health of a running container', () => {
    const base = { status: 'running' as const, exitCode: 0, startedAt: started, finishedAt: started };
    assert.equal(statusString({ ...base, health: 'healthy' }, now), 'Up 5 seconds (healthy)');
    assert.equal(statusString({ ...base, health: 'starting' }, now), 'Up 5 seconds (health: starting)');
    assert.equal(statusString({ ...base, health: 'unhealthy' }, now), 'Up 5 seconds (unhealthy)');
    assert.equal(statusString(base, now), 'Up 5 seconds');
    assert.equal(
      statusString({ ...base, status: 'paused', health: 'unhealthy' }, now),
      'Up 5 seconds (Paused)',
    );
    assert.equal(healthStatusSuffix('starting'), 'health: starting');
  });
  test('the health filter matches exactly, none matches containers without a health check', () => {
    const e = (id: string, health?: ListEntry['health']): ListEntry => ({
      id,
      name: id,
      status: 'running',
      exitCode: 0,
      labels: {},
      image: 'x',
      imageId: '',
      created: 0,
      ...(health ? { health } : {}),
    });
    const all = [e('a', 'healthy'), e('b', 'unhealthy'), e('c'), e('d', 'starting')];
    const pick = (v: string[]) =>
      selectContainers(all, { filters: parseFilters(JSON.stringify({ health: v })) }).map((x) => x.id);
    assert.deepEqual(pick(['healthy']), ['a']);
    assert.deepEqual(pick(['none']).sort(), ['c']);
    assert.deepEqual(pick(['starting', 'unhealthy']).sort(), ['b', 'd']);
    assert.throws(() => pick(['bogus']), {
      name: 'InvalidArgumentError',
      message: 'Unrecognised filter value for health: bogus',
    });
  });
});
