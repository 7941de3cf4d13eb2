/**
 * HealthMonitor runs one container's health probes (moby `daemon/health.go` monitor): it waits
 * the interval (the start interval while starting within the start period), runs the probe,
 * applies the result, and again, until stopped. Stopping while a probe runs cancels the probe
 * and waits for it, so dying probes never pile up. Time and probes are ports, so the loop is
 * unit-tested with a fake clock.
 */
import {
  applyResult,
  nextDelay,
  type HealthState,
  type HealthTiming,
  type HealthcheckResult,
} from './health-state.js';

/** Clock is the monitor's time source; setTimeout returns a function that cancels the timer. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): () => void;
}

/** systemClock is the real clock (timers unref'd: a monitor never keeps ckptd alive). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** ProbeOutcome is what one probe run reports; a probe that could not run rejects. */
export interface ProbeOutcome {
  ExitCode: number;
  Output: string;
}

/** ProbeRunner runs a probe's command in a container; abort `signal` to cancel it (its process is killed). */
export interface ProbeRunner {
  run(
    containerId: string,
    argv: readonly string[],
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<ProbeOutcome>;
}

/** HealthMonitorOptions configure a HealthMonitor. */
export interface HealthMonitorOptions {
  containerId: string;
  argv: readonly string[];
  timing: HealthTiming;
  /** startedAtMs is when the container's task started (the start period counts from it). */
  startedAtMs: number;
  /** state is the health to continue from. */
  state: HealthState;
  clock: Clock;
  probe: ProbeRunner;
  /** onResult receives the new state after each probe, and the status before it. */
  onResult(state: HealthState, previous: HealthState['Status']): void;
  onError?(err: unknown): void;
}

/** HealthMonitor is the probe loop of one running (not paused) container. */
export class HealthMonitor {
  readonly #o: HealthMonitorOptions;
  #state: HealthState;
  #cancelTimer: (() => void) | undefined;
  #probing: { abort: AbortController; done: Promise<void> } | undefined;
  #stopped = false;

  constructor(o: HealthMonitorOptions) {
    this.#o = o;
    this.#state = o.state;
  }

  /** state is the health as the monitor last saw it. */
  get state(): HealthState {
    return this.#state;
  }

  /** start schedules the first probe (an interval after now, as dockerd). */
  start(): void {
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    const { clock, timing, startedAtMs } = this.#o;
    const delay = nextDelay(timing, clock.now() - startedAtMs, this.#state.Status);
    this.#cancelTimer = clock.setTimeout(() => {
      this.#cancelTimer = undefined;
      this.#runProbe();
    }, delay);
  }

  #runProbe(): void {
    if (this.#stopped) return;
    const { clock, probe, containerId, argv, timing } = this.#o;
    const abort = new AbortController();
    const startMs = clock.now();
    const done = probe
      .run(containerId, argv, timing.timeoutMs, abort.signal)
      .catch((err: unknown): ProbeOutcome => ({
        ExitCode: -1,
        Output: err instanceof Error ? err.message : String(err),
      }))
      .then((outcome) => {
        this.#probing = undefined;
        if (this.#stopped) return; // cancelled: the result is dropped (moby handleProbeResult)
        const result: HealthcheckResult = {
          Start: new Date(startMs).toISOString(),
          End: new Date(clock.now()).toISOString(),
          ExitCode: outcome.ExitCode,
          Output: outcome.Output,
        };
        const previous = this.#state.Status;
        this.#state = applyResult(this.#state, result, timing, startMs, this.#o.startedAtMs);
        try {
          this.#o.onResult(this.#state, previous);
        } catch (err) {
          this.#o.onError?.(err);
        }
        this.#schedule();
      });
    this.#probing = { abort, done };
  }

  /** stop ends the loop; a running probe is cancelled and awaited. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const p = this.#probing;
    if (p) {
      p.abort.abort();
      await p.done;
    }
  }
}
