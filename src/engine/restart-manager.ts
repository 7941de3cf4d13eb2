/**
 * Restart policies as dockerd applies them (moby `daemon/internal/restartmanager`, the exit
 * handling of `daemon/monitor.go`, `ValidateRestartPolicy` of `api/types/container`): which
 * policies a create may ask for, and after each exit of a container's task whether and when to
 * start it again. Pure: the container lifecycle supplies the facts and the timers.
 */
import { InvalidArgumentError } from '../errors/index.js';

/** RestartPolicy is `HostConfig.RestartPolicy` as dockerd stores it (Name never empty). */
export interface RestartPolicy {
  Name: 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount: number;
}

/** NO_RESTART is the default policy: never restart. */
export const NO_RESTART: RestartPolicy = Object.freeze({ Name: 'no', MaximumRetryCount: 0 });

/** BACKOFF_START_MS is the delay before the first restart (dockerd's `defaultTimeout`). */
export const BACKOFF_START_MS = 100;
/** BACKOFF_MAX_MS caps the doubling delay between restarts (dockerd's `maxRestartTimeout`). */
export const BACKOFF_MAX_MS = 60_000;
/** BACKOFF_RESET_MS is how long a run must last for the delay to fall back to 100 ms. */
export const BACKOFF_RESET_MS = 10_000;

/**
 * restartPolicyOf validates a create request's `HostConfig.RestartPolicy` as dockerd does
 * (`ValidateRestartPolicy`, with its messages) and returns it normalised: an absent policy or an
 * empty name is "no" (dockerd's create defaults the name; an empty name with a retry count is
 * accepted for clients older than API 1.44, and means "no").
 */
export function restartPolicyOf(v: unknown): RestartPolicy {
  if (v === undefined || v === null) return { ...NO_RESTART };
  if (typeof v !== 'object' || Array.isArray(v))
    throw new InvalidArgumentError('HostConfig.RestartPolicy: must be an object');
  const { Name = '', MaximumRetryCount = 0 } = v as { Name?: unknown; MaximumRetryCount?: unknown };
  if (typeof Name !== 'string')
    throw new InvalidArgumentError('HostConfig.RestartPolicy.Name: must be a string');
  if (typeof MaximumRetryCount !== 'number' || !Number.isInteger(MaximumRetryCount))
    throw new InvalidArgumentError('HostConfig.RestartPolicy.MaximumRetryCount: must be an integer');
  switch (Name) {
    case 'always':
    case 'unless-stopped':
    case 'no':
      if (MaximumRetryCount !== 0) {
        throw new InvalidArgumentError(
          "invalid restart policy: maximum retry count can only be used with 'on-failure'" +
            (MaximumRetryCount < 0 ? ' and cannot be negative' : ''),
        );
      }
      return { Name, MaximumRetryCount: 0 };
    case 'on-failure':
      if (MaximumRetryCount < 0)
        throw new InvalidArgumentError('invalid restart policy: maximum retry count cannot be negative');
      return { Name, MaximumRetryCount };
    case '':
      return { ...NO_RESTART };
    default:
      throw new InvalidArgumentError(
        `invalid restart policy: unknown policy '${Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
      );
  }
}

/**
 * checkAutoRemove refuses AutoRemove with a restart policy other than "no", with dockerd's
 * message (its `validateHostConfig` checks this before the policy itself).
 */
export function checkAutoRemove(autoRemove: unknown, policy: unknown): void {
  if (autoRemove !== true || policy === undefined || policy === null || typeof policy !== 'object') return;
  const name = (policy as { Name?: unknown }).Name;
  if (name !== undefined && name !== '' && name !== 'no')
    throw new InvalidArgumentError("can't create 'AutoRemove' container with restart policy");
}

/** storedPolicy reads the policy of a container record, tolerating records written before policies. */
export function storedPolicy(v: unknown): RestartPolicy {
  try {
    return restartPolicyOf(v);
  } catch {
    return { ...NO_RESTART };
  }
}

/** Timers is the clock a RestartManager waits on (tests pass a fake one). */
export interface Timers {
  /** setTimeout runs fn after ms and returns a function that cancels it. */
  setTimeout(fn: () => void, ms: number): () => void;
}

const realTimers: Timers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** RestartDecision is ShouldRestart's answer. */
export type RestartDecision =
  | { restart: false }
  | {
      restart: true;
      /** delayMs is the back-off before the start. */
      delayMs: number;
      /** wait resolves true once the back-off passed, false when the manager was cancelled first. */
      wait: Promise<boolean>;
    };

/**
 * RestartManager decides, exit after exit, whether a container is started again (moby's
 * RestartManager): one exists from a start by the user until the next one, and `cancel()`
 * (stop, kill, rm -f, daemon shutdown) ends it for good. The delay starts at 100 ms and doubles
 * with each restart up to a minute; a run of 10 s or more resets it to 100 ms.
 */
export class RestartManager {
  #restartCount: number;
  #timeoutMs = 0;
  #active = false;
  #canceled = false;
  readonly #timers: Timers;
  readonly #cancelers = new Set<() => void>();

  /** restartCount is the container's RestartCount so far (on-failure:N counts from it). */
  constructor(restartCount = 0, timers: Timers = realTimers) {
    this.#restartCount = restartCount;
    this.#timers = timers;
  }

  /** canceled tells whether cancel() was called. */
  get canceled(): boolean {
    return this.#canceled;
  }

  /** restartCount is how many restarts this manager has granted, plus the count it started from. */
  get restartCount(): number {
    return this.#restartCount;
  }

  /**
   * shouldRestart decides after an exit. `manuallyStopped` is moby's HasBeenManuallyStopped (or
   * the daemon shutting down); `executionMs` is how long the run lasted. A restart counts at once
   * (RestartCount); its start waits `delayMs` (the `wait` promise).
   */
  shouldRestart(
    policy: RestartPolicy,
    exitCode: number,
    manuallyStopped: boolean,
    executionMs: number,
  ): RestartDecision {
    if (policy.Name === 'no' || this.#canceled || this.#active) return { restart: false };
    if (executionMs >= BACKOFF_RESET_MS) this.#timeoutMs = 0;
    this.#timeoutMs =
      this.#timeoutMs === 0 ? BACKOFF_START_MS : Math.min(this.#timeoutMs * 2, BACKOFF_MAX_MS);
    let restart = false;
    switch (policy.Name) {
      case 'always':
        restart = true;
        break;
      case 'unless-stopped':
        restart = !manuallyStopped;
        break;
      case 'on-failure': {
        const max = policy.MaximumRetryCount;
        if (max === 0 || this.#restartCount < max) restart = exitCode !== 0;
        break;
      }
    }
    if (!restart) return { restart: false };
    this.#restartCount++;
    this.#active = true;
    const delayMs = this.#timeoutMs;
    const wait = new Promise<boolean>((resolve) => {
      let cancelTimer: () => void = () => undefined;
      const onCancel = (): void => {
        cancelTimer();
        this.#cancelers.delete(onCancel);
        resolve(false);
      };
      this.#cancelers.add(onCancel);
      cancelTimer = this.#timers.setTimeout(() => {
        this.#cancelers.delete(onCancel);
        this.#active = false;
        resolve(true);
      }, delayMs);
    });
    return { restart: true, delayMs, wait };
  }

  /** cancel ends the manager: a pending wait resolves false and no exit restarts any more. */
  cancel(): void {
    if (this.#canceled) return;
    this.#canceled = true;
    for (const c of [...this.#cancelers]) c();
  }
}
