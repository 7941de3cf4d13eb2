/**
 * The health-check state machine of dockerd (moby `daemon/health.go`, `container/health.go`),
 * pure: what a probe runs, how often, how a result changes `State.Health`, and how the status
 * shows in `docker ps`. No I/O and no clock: the monitor feeds it times and results.
 */
import { InvalidArgumentError } from '../../errors/index.js';
import type { HealthConfig } from '../../oci/image-config.js';

/** HealthStatus is `State.Health.Status`. */
export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** HEALTH_FILTER_VALUES are the values of the `health` filter of GET /containers/json. */
export const HEALTH_FILTER_VALUES: readonly string[] = ['starting', 'healthy', 'unhealthy', 'none'];

/** HealthcheckResult is one entry of `State.Health.Log` (times are RFC 3339 with nanoseconds). */
export interface HealthcheckResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** HealthState is `State.Health`. */
export interface HealthState {
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthcheckResult[];
}

const MS = 1_000_000; // nanoseconds in a millisecond

/** MAX_OUTPUT_LEN is the longest probe output kept (moby maxOutputLen); more is cut, with "...". */
export const MAX_OUTPUT_LEN = 4096;
/** MAX_LOG_ENTRIES is how many results State.Health.Log keeps (moby maxLogEntries). */
export const MAX_LOG_ENTRIES = 5;
/** DEFAULT_INTERVAL_MS is the default time between probes, and before the first (30 s). */
export const DEFAULT_INTERVAL_MS = 30_000;
/** DEFAULT_TIMEOUT_MS is the default time a probe may run (30 s). */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** DEFAULT_START_INTERVAL_MS is the default time between probes during the start period (5 s). */
export const DEFAULT_START_INTERVAL_MS = 5_000;
/** DEFAULT_RETRIES is the default number of consecutive failures that make a container unhealthy. */
export const DEFAULT_RETRIES = 3;
/** EXEC_START_TIMEOUT_MS bounds the start of a probe's exec, which the probe timeout does not count. */
export const EXEC_START_TIMEOUT_MS = 30_000;

const DURATION_FIELDS = ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const;

/**
 * validateHealthConfig refuses a Healthcheck dockerd refuses (moby `validateHealthCheck`, with its
 * words: `Interval in Healthcheck cannot be less than 1ms`, `Retries in Healthcheck cannot be
 * negative`), and, so that nothing is accepted and then not run, a Test dockerd would accept but
 * never run (an unknown type, a CMD without a command).
 */
export function validateHealthConfig(h: HealthConfig | null | undefined, field = 'Healthcheck'): void {
  if (h === undefined || h === null) return;
  if (typeof h !== 'object' || Array.isArray(h))
    throw new InvalidArgumentError(`${field}: must be an object`);
  for (const k of DURATION_FIELDS) {
    const v = h[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v))
      throw new InvalidArgumentError(`${field}.${k}: must be an integer (nanoseconds)`);
    if (v !== 0 && v < MS) throw new InvalidArgumentError(`${k} in Healthcheck cannot be less than 1ms`);
  }
  if (h.Retries !== undefined && h.Retries !== null) {
    if (typeof h.Retries !== 'number' || !Number.isInteger(h.Retries))
      throw new InvalidArgumentError(`${field}.Retries: must be an integer`);
    if (h.Retries < 0) throw new InvalidArgumentError('Retries in Healthcheck cannot be negative');
  }
  const test = h.Test;
  if (test === undefined || test === null || test.length === 0) return;
  if (!Array.isArray(test) || !test.every((t) => typeof t === 'string'))
    throw new InvalidArgumentError(`${field}.Test: must be an array of strings`);
  const [kind, ...cmd] = test;
  if (kind === 'NONE') return;
  if (kind !== 'CMD' && kind !== 'CMD-SHELL') {
    throw new InvalidArgumentError(
      `${field}.Test: unknown healthcheck type ${JSON.stringify(kind)} (expected CMD, CMD-SHELL or NONE)`,
    );
  }
  if (cmd.length === 0 || cmd[0] === '')
    throw new InvalidArgumentError(`${field}.Test: ${kind} needs a command`);
}

/**
 * probeCommand is the argv a probe runs (moby `cmdProbe.run`): `CMD` runs its arguments, `CMD-SHELL`
 * runs them through the container's shell (Config.Shell, else `/bin/sh -c`). Undefined when no
 * probe runs (no healthcheck, `NONE`, an empty Test): then the container has no State.Health.
 */
export function probeCommand(
  h: HealthConfig | null | undefined,
  shell?: readonly string[] | null,
): string[] | undefined {
  const test = h?.Test;
  if (!test || test.length < 2) return undefined;
  const [kind, ...cmd] = test;
  if (kind === 'CMD') return cmd;
  if (kind === 'CMD-SHELL') return [...(shell && shell.length > 0 ? shell : ['/bin/sh', '-c']), ...cmd];
  return undefined;
}

/** HealthTiming is a healthcheck's durations in milliseconds, defaults applied (moby timeoutWithDefault). */
export interface HealthTiming {
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

const orDefault = (ns: number | undefined, dflt: number): number => (ns ? ns / MS : dflt);

/** healthTiming applies dockerd's defaults to a healthcheck's durations and retries. */
export function healthTiming(h: HealthConfig): HealthTiming {
  return {
    intervalMs: orDefault(h.Interval, DEFAULT_INTERVAL_MS),
    timeoutMs: orDefault(h.Timeout, DEFAULT_TIMEOUT_MS),
    startPeriodMs: orDefault(h.StartPeriod, 0),
    startIntervalMs: orDefault(h.StartInterval, DEFAULT_START_INTERVAL_MS),
    retries: h.Retries && h.Retries > 0 ? h.Retries : DEFAULT_RETRIES,
  };
}

/**
 * nextDelay is the time until the next probe (moby monitor's getInterval): the interval once the
 * start period is over; within it, at most what is left of it, and the start interval while the
 * container is still starting.
 */
export function nextDelay(t: HealthTiming, sinceStartMs: number, status: HealthStatus): number {
  if (sinceStartMs >= t.startPeriodMs) return t.intervalMs;
  const remaining = t.startPeriodMs - sinceStartMs;
  if (remaining < t.intervalMs) return remaining;
  return status === 'starting' ? t.startIntervalMs : t.intervalMs;
}

/** startingHealth is the health of a newly started container (moby initHealthMonitor): the log stays. */
export function startingHealth(prev: HealthState | undefined): HealthState {
  return { Status: 'starting', FailingStreak: 0, Log: prev ? [...prev.Log] : [] };
}

/**
 * applyResult is moby's handleProbeResult: the result joins the log (the last five are kept); exit
 * 0 makes the container healthy and resets the streak; a failure outside the start period (or
 * once the container was healthy) lengthens the streak, and `retries` failures in a row make it
 * unhealthy. `probeStartMs - startedAtMs` is the time since the container started.
 */
export function applyResult(
  h: HealthState,
  result: HealthcheckResult,
  t: HealthTiming,
  probeStartMs: number,
  startedAtMs: number,
): HealthState {
  const log = [...h.Log, result].slice(-MAX_LOG_ENTRIES);
  if (result.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log: log };
  if (h.Status === 'starting' && probeStartMs - startedAtMs < t.startPeriodMs) {
    return { ...h, Log: log };
  }
  const streak = h.FailingStreak + 1;
  return { Status: streak >= t.retries ? 'unhealthy' : h.Status, FailingStreak: streak, Log: log };
}

/** healthStatusSuffix is what `docker ps` adds to "Up 5 seconds" (moby Health.String). */
export function healthStatusSuffix(status: HealthStatus): string {
  return status === 'starting' ? 'health: starting' : status;
}

/** LimitedBuffer keeps the first MAX_OUTPUT_LEN bytes of a probe's output (moby limitedBuffer). */
export class LimitedBuffer {
  readonly #chunks: Buffer[] = [];
  #len = 0;
  #truncated = false;

  write(data: Buffer): void {
    const keep = Math.min(MAX_OUTPUT_LEN - this.#len, data.length);
    if (keep > 0) {
      this.#chunks.push(data.subarray(0, keep));
      this.#len += keep;
    }
    if (keep < data.length) this.#truncated = true;
  }

  /** toString is the output kept, with "..." appended when some was dropped. */
  toString(): string {
    const out = Buffer.concat(this.#chunks).toString('utf8');
    return this.#truncated ? `${out}...` : out;
  }
}

/** goDuration formats milliseconds as Go's time.Duration String does (`30s`, `1.5s`, `500ms`, `1m30s`). */
export function goDuration(ms: number): string {
  const ns = Math.round(ms * MS);
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let n = Math.abs(ns);
  const frac = (v: number, digits: number): string => {
    const s = v.toString().padStart(digits, '0').replace(/0+$/, '');
    return s === '' ? '' : `.${s}`;
  };
  if (n < 1000) return `${sign}${n}ns`;
  if (n < 1_000_000) return `${sign}${Math.floor(n / 1000)}${frac(n % 1000, 3)}µs`;
  if (n < 1_000_000_000) return `${sign}${Math.floor(n / MS)}${frac(n % MS, 6)}ms`;
  const h = Math.floor(n / 3_600_000_000_000);
  n -= h * 3_600_000_000_000;
  const m = Math.floor(n / 60_000_000_000);
  n -= m * 60_000_000_000;
  const s = `${Math.floor(n / 1_000_000_000)}${frac(n % 1_000_000_000, 9)}s`;
  if (h > 0) return `${sign}${h}h${m}m${s}`;
  if (m > 0) return `${sign}${m}m${s}`;
  return `${sign}${s}`;
}

/** timeoutMessage is the output of a probe that ran out of time (moby: exit code -1). */
export function timeoutMessage(timeoutMs: number, output: string): string {
  const base = `Health check exceeded timeout (${goDuration(timeoutMs)})`;
  return output === '' ? base : `${base}: ${output}`;
}

/**
 * parseHealthState checks a recorded health state (health.json, a checkpoint's ckptd.dump) and
 * returns it, or undefined when it is not one: a record never makes up a status.
 */
export function parseHealthState(v: unknown): HealthState | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (o.Status !== 'starting' && o.Status !== 'healthy' && o.Status !== 'unhealthy') return undefined;
  if (typeof o.FailingStreak !== 'number' || !Number.isInteger(o.FailingStreak) || o.FailingStreak < 0)
    return undefined;
  if (!Array.isArray(o.Log)) return undefined;
  const log: HealthcheckResult[] = [];
  for (const e of o.Log.slice(-MAX_LOG_ENTRIES) as unknown[]) {
    if (e === null || typeof e !== 'object') return undefined;
    const r = e as Record<string, unknown>;
    if (typeof r.Start !== 'string' || typeof r.End !== 'string') return undefined;
    if (typeof r.ExitCode !== 'number' || typeof r.Output !== 'string') return undefined;
    log.push({
      Start: r.Start,
      End: r.End,
      ExitCode: r.ExitCode,
      Output: r.Output.slice(0, MAX_OUTPUT_LEN + 3),
    });
  }
  return { Status: o.Status, FailingStreak: o.FailingStreak, Log: log };
}
