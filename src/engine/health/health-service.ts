/**
 * HealthService keeps every container's `State.Health` and runs its monitor while the container
 * runs, as dockerd's initHealthMonitor / updateHealthMonitor / stopHealthchecks do: a start
 * resets the status to "starting" (the log stays), a pause or an exit stops the monitor and,
 * as dockerd does "for compatibility", makes the status "unhealthy"; an unpause runs it again.
 * A status change is a `health_status: <status>` event. The state is kept in
 * `<containers>/<id>/health.json`, so it survives a ckptd restart (monitors of running
 * containers resume where they were) and a checkpoint carries it to the restored container.
 */
import { writeFileAtomic } from '../../host/atomic-write.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HealthConfig } from '../../oci/image-config.js';
import {
  healthTiming,
  parseHealthState,
  probeCommand,
  startingHealth,
  type HealthState,
} from './health-state.js';
import { HealthMonitor, systemClock, type Clock, type ProbeRunner } from './monitor.js';

/** HEALTH_FILE is the name of a container's persisted health state. */
export const HEALTH_FILE = 'health.json';

/** HealthStart describes a container whose task just started (or runs, at ckptd's start). */
export interface HealthStart {
  config: HealthConfig | null | undefined;
  /** shell is the container's Config.Shell (CMD-SHELL probes run through it). */
  shell?: readonly string[] | null | undefined;
  /** startedAt is State.StartedAt (RFC 3339). */
  startedAt: string;
  /**
   * continueWith: the health to continue from instead of a fresh "starting" one (a restore from
   * a checkpoint, the running containers found when ckptd starts). 'recorded' is the one kept.
   */
  continueWith?: HealthState | 'recorded';
  /** paused: the task is paused; the monitor runs once it is unpaused. */
  paused?: boolean;
}

/** HealthEvents publishes container events (EventsService.publishContainer). */
export interface HealthEvents {
  publishContainer(action: string, id: string, attributes?: Record<string, string>): void;
}

/** HealthServiceOptions configure a HealthService. */
export interface HealthServiceOptions {
  probe: ProbeRunner;
  /** containersDir is `<data-root>/containers` (a container's health.json is in its directory). */
  containersDir: string;
  events?: HealthEvents;
  clock?: Clock;
  logger?: { warn(o: object, m?: string): void; debug(o: object, m?: string): void };
}

interface Entry {
  state: HealthState | undefined;
  monitor: HealthMonitor | undefined;
  /** what the monitor needs, from the last start */
  argv?: readonly string[];
  config?: HealthConfig;
  startedAtMs?: number;
  /** suspended: stopped for a checkpoint, without dockerd's "unhealthy" */
  suspended?: boolean;
  /** writes of health.json, in order */
  saving: Promise<void>;
}

/** HealthService owns the health state and monitors of all containers. */
export class HealthService {
  readonly #o: HealthServiceOptions;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();

  constructor(o: HealthServiceOptions) {
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
  }

  #entry(id: string): Entry {
    let e = this.#entries.get(id);
    if (e === undefined) {
      e = { state: undefined, monitor: undefined, saving: Promise.resolve() };
      this.#entries.set(id, e);
    }
    return e;
  }

  /** load reads a container's recorded health (at ckptd's start); a bad record is no health. */
  async load(id: string): Promise<void> {
    const text = await readFile(join(this.#o.containersDir, id, HEALTH_FILE), 'utf8').catch(() => undefined);
    if (text === undefined) return;
    let state: HealthState | undefined;
    try {
      state = parseHealthState(JSON.parse(text));
    } catch {
      state = undefined;
    }
    if (state === undefined) {
      this.#o.logger?.warn({ id }, 'ignoring an unreadable health record');
      return;
    }
    this.#entry(id).state = state;
  }

  /** state is the container's State.Health, undefined when no health check ever ran for it. */
  state(id: string): HealthState | undefined {
    return this.#entries.get(id)?.state;
  }

  /**
   * started is moby's initHealthMonitor for a task that started: without a probe nothing
   * happens (no State.Health); otherwise the status is "starting" (or the one to continue
   * from) and the monitor runs unless the task is paused.
   */
  async started(id: string, s: HealthStart): Promise<void> {
    const e = this.#entry(id);
    const previous = this.#stopMonitor(e);
    e.suspended = false;
    const argv = probeCommand(s.config, s.shell);
    if (argv === undefined || !s.config) return;
    const keep = s.continueWith === 'recorded' ? e.state : s.continueWith;
    e.state = keep ?? startingHealth(e.state);
    e.argv = argv;
    e.config = s.config;
    e.startedAtMs = Date.parse(s.startedAt) || this.#clock.now();
    this.#save(id, e);
    await previous.done;
    if (!s.paused && this.#entries.get(id) === e && e.monitor === undefined) this.#startMonitor(id, e);
  }

  #startMonitor(id: string, e: Entry): void {
    if (e.monitor || !e.argv || !e.config || !e.state) return;
    const monitor = new HealthMonitor({
      containerId: id,
      argv: e.argv,
      timing: healthTiming(e.config),
      startedAtMs: e.startedAtMs ?? this.#clock.now(),
      state: e.state,
      clock: this.#clock,
      probe: this.#o.probe,
      onResult: (state, previous) => {
        e.state = state;
        this.#save(id, e);
        if (state.Status !== previous) this.#o.events?.publishContainer(`health_status: ${state.Status}`, id);
      },
      onError: (err) => this.#o.logger?.warn({ err, id }, 'recording a health check result failed'),
    });
    e.monitor = monitor;
    monitor.start();
  }

  /**
   * #stopMonitor detaches the monitor at once (a later start gets a new one) and returns whether
   * one ran and a promise of its end (a running probe is cancelled and awaited). The entry's
   * state is current already: the monitor reports each result and none after stop.
   */
  #stopMonitor(e: Entry): { ran: boolean; done: Promise<void> } {
    const m = e.monitor;
    if (!m) return { ran: false, done: Promise.resolve() };
    e.monitor = undefined;
    return { ran: true, done: m.stop() };
  }

  /**
   * stopped is moby's stopHealthchecks for a task that exited (or is paused): the monitor stops
   * and, if one ran, the status becomes "unhealthy" (dockerd's CloseMonitorChannel), without an
   * event. A container stopped by a checkpoint (suspended) becomes unhealthy the same way.
   */
  async stopped(id: string): Promise<void> {
    const e = this.#entries.get(id);
    if (!e) return;
    const { ran, done } = this.#stopMonitor(e);
    if ((ran || e.suspended === true) && e.state) {
      e.state = { ...e.state, Status: 'unhealthy' };
      this.#save(id, e);
    }
    e.suspended = false;
    await done;
  }

  /** paused stops the monitor of a paused container as dockerd does (status "unhealthy"). */
  async paused(id: string): Promise<void> {
    await this.stopped(id);
  }

  /** unpaused runs the monitor again (moby updateHealthMonitor); the status stays until a probe ends. */
  unpaused(id: string): void {
    const e = this.#entries.get(id);
    if (e) this.#startMonitor(id, e);
  }

  /**
   * suspend stops the monitor of a container about to be checkpointed (a probe's process must not
   * be in CRIU's images), waiting for a running probe, and returns its health as it is: the
   * checkpoint records it and a restore continues from it. The status does not change.
   */
  async suspend(id: string): Promise<HealthState | undefined> {
    const e = this.#entries.get(id);
    if (!e) return undefined;
    const { ran, done } = this.#stopMonitor(e);
    if (ran) e.suspended = true;
    await done;
    return e.state;
  }

  /** resume runs a suspended monitor again (the container still runs after its checkpoint). */
  resume(id: string): void {
    const e = this.#entries.get(id);
    if (!e?.suspended) return;
    e.suspended = false;
    this.#startMonitor(id, e);
  }

  /** forget drops a removed container's health (its directory, health.json included, is gone). */
  forget(id: string): void {
    const e = this.#entries.get(id);
    this.#entries.delete(id);
    if (e) void this.#stopMonitor(e).done;
  }

  /** close stops every monitor without changing any status (ckptd stops; init resumes them). */
  async close(): Promise<void> {
    const all = [...this.#entries.values()];
    await Promise.allSettled(all.map((e) => this.#stopMonitor(e).done));
    await Promise.allSettled(all.map((e) => e.saving));
  }

  /** #save writes health.json atomically, writes of one container in order. */
  #save(id: string, e: Entry): void {
    const state = e.state;
    if (state === undefined) return;
    const file = join(this.#o.containersDir, id, HEALTH_FILE);
    e.saving = e.saving.then(async () => {
      if (this.#entries.get(id) !== e) return; // removed meanwhile
      try {
        await writeFileAtomic(file, JSON.stringify(state));
      } catch (err) {
        this.#o.logger?.debug({ err, id }, 'cannot persist health state');
      }
    });
  }
}
