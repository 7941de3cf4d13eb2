import type { Logger } from 'pino';
import { LABEL_IMAGE_REF, LABEL_NAME } from '../oci/labels.js';
import type { EventTap } from './container-view.js';
import type { DockerEvent, EventsOptions } from './system.js';

/** ContainerdEnvelope is one containerd event as the engine sees it (decoded payload). */
export interface ContainerdEnvelope {
  timestampNano: bigint;
  namespace: string;
  topic: string;
  event: { typeUrl: string; value: Record<string, unknown> | undefined };
}

/** EventSource subscribes to containerd's event stream; the iterable ends or throws when it breaks. */
export interface EventSource {
  subscribe(filters: string[], signal: AbortSignal): AsyncIterable<ContainerdEnvelope>;
}

/** ContainerLabelsLookup returns a container's labels and image, or undefined once it is gone. */
export type ContainerLabelsLookup = (
  id: string,
) => Promise<{ labels: Record<string, string>; image: string } | undefined>;

type Listener = (ev: DockerEvent, seq: number) => void;

function field(v: Record<string, unknown> | undefined, ...keys: string[]): string {
  for (const k of keys) {
    const x = v?.[k];
    if (x !== undefined && x !== null && x !== '') return String(x);
  }
  return '';
}

/** translateTopic maps a containerd topic + payload to Docker's event Type/Action/Actor ID. */
export function translateTopic(
  topic: string,
  value: Record<string, unknown> | undefined,
): { type: string; action: string; id: string; attrs: Record<string, string> } | undefined {
  const cid = field(value, 'container_id', 'containerId');
  switch (topic) {
    case '/containers/create':
      return { type: 'container', action: 'create', id: field(value, 'id'), attrs: {} };
    case '/containers/delete':
      return { type: 'container', action: 'destroy', id: field(value, 'id'), attrs: {} };
    case '/tasks/start':
      return { type: 'container', action: 'start', id: cid, attrs: {} };
    case '/tasks/exit': {
      const execId = field(value, 'id');
      const exitCode = field(value, 'exit_status', 'exitStatus') || '0';
      if (execId && execId !== cid) {
        return { type: 'container', action: 'exec_die', id: cid, attrs: { execID: execId, exitCode } };
      }
      return { type: 'container', action: 'die', id: cid, attrs: { exitCode } };
    }
    case '/tasks/paused':
      return { type: 'container', action: 'pause', id: cid, attrs: {} };
    case '/tasks/resumed':
      return { type: 'container', action: 'unpause', id: cid, attrs: {} };
    case '/tasks/oom':
      return { type: 'container', action: 'oom', id: cid, attrs: {} };
    // exec_create and exec_start come from the ExecService (publishContainer), as dockerd's:
    // at POST /containers/{id}/exec and /exec/{id}/start, with the command in the action.
    case '/tasks/exec-added':
    case '/tasks/exec-started':
      return undefined;
    case '/tasks/checkpointed':
      return { type: 'container', action: 'checkpoint', id: cid, attrs: {} };
    case '/images/create':
      return {
        type: 'image',
        action: 'tag',
        id: field(value, 'name'),
        attrs: { name: field(value, 'name') },
      };
    case '/images/update':
      return {
        type: 'image',
        action: 'tag',
        id: field(value, 'name'),
        attrs: { name: field(value, 'name') },
      };
    case '/images/delete':
      return {
        type: 'image',
        action: 'untag',
        id: field(value, 'name'),
        attrs: { name: field(value, 'name') },
      };
    default:
      return undefined;
  }
}

/** prefixMatch is Docker's FuzzyMatch: exact, or the filter value is a prefix of the actual. */
function prefixMatch(values: string[] | undefined, actual: string | undefined): boolean {
  if (!values || values.length === 0) return true;
  if (!actual) return false;
  return values.some((v) => actual === v || actual.startsWith(v));
}

/** matchEvent applies Docker's events filters (type, event, container, image, label, ...). */
export function matchEvent(ev: DockerEvent, filters: Record<string, string[]>): boolean {
  const f = (k: string): string[] | undefined => (filters[k] && filters[k].length ? filters[k] : undefined);
  const types = f('type');
  if (types && !types.includes(ev.Type)) return false;
  const actions = f('event');
  if (actions && !actions.some((a) => ev.Action === a || ev.Action.split(':')[0] === a)) return false;
  const containers = f('container');
  if (containers) {
    if (ev.Type !== 'container') return false;
    if (!containers.some((c) => prefixMatch([c], ev.Actor.ID) || ev.Actor.Attributes.name === c))
      return false;
  }
  const images = f('image');
  if (images) {
    const actual = ev.Type === 'image' ? ev.Actor.ID : ev.Actor.Attributes.image;
    if (!images.some((i) => actual === i || ev.Actor.Attributes.name === i || prefixMatch([i], actual)))
      return false;
  }
  const labels = f('label');
  if (labels) {
    for (const l of labels) {
      const eq = l.indexOf('=');
      if (eq < 0) {
        if (!(l in ev.Actor.Attributes)) return false;
      } else if (ev.Actor.Attributes[l.slice(0, eq)] !== l.slice(eq + 1)) return false;
    }
  }
  const scopes = f('scope');
  if (scopes && !scopes.includes(ev.scope)) return false;
  return true;
}

/** EventsServiceOptions configures the events hub. */
export interface EventsServiceOptions {
  source: EventSource;
  namespace: string;
  logger: Logger;
  lookup: ContainerLabelsLookup;
  /** bufferSize is how many past events `since` can reach (dockerd keeps 256). */
  bufferSize?: number;
  /** now returns the current time in ns (tests inject a clock). */
  nowNano?: () => bigint;
  /** tap follows the subscription too (the container view): its events, opens and gaps. */
  tap?: EventTap;
}

/**
 * EventsService follows containerd's event stream (resubscribing when containerd restarts),
 * translates it to Docker event messages, keeps a bounded history for `since`, and fans
 * events out to /events streams. Engine operations publish their own events (commit,
 * checkpoint, export, ...) through publish().
 */
export class EventsService {
  readonly #o: Required<Omit<EventsServiceOptions, 'nowNano' | 'tap'>> & {
    nowNano: () => bigint;
    tap?: EventTap;
  };
  readonly #buffer: { ev: DockerEvent; seq: number }[] = [];
  readonly #listeners = new Set<Listener>();
  readonly #attrs = new Map<string, Record<string, string>>();
  readonly #mutedImages = new Map<string, number>();
  readonly #mutedTasks = new Map<string, number>();
  #seq = 0;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(o: EventsServiceOptions) {
    this.#o = {
      bufferSize: 256,
      nowNano: () => BigInt(Date.now()) * 1_000_000n,
      ...o,
    };
  }

  /** start begins following containerd's events in the background. */
  start(): void {
    this.#loop ??= this.#follow();
  }

  /** stop ends the background subscription and all open streams. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  /** publish records an engine event (Type/Action/Actor) stamped with the current time. */
  publish(type: string, action: string, id: string, attributes: Record<string, string> = {}): void {
    this.#emit(this.#message(type, action, id, attributes, this.#o.nowNano()));
  }

  /**
   * publishContainer publishes a container event carrying the container's attributes (name,
   * image, labels) under `attributes`, as dockerd's LogContainerEventWithAttributes.
   */
  publishContainer(action: string, id: string, attributes: Record<string, string> = {}): void {
    const nano = this.#o.nowNano();
    void this.#containerAttrs(id).then((attrs) =>
      this.#emit(this.#message('container', action, id, { ...attrs, ...attributes }, nano)),
    );
  }

  /**
   * muteImageEcho drops the translation of containerd's next /images/* event for the record
   * `name` (for 30 s): the ImageService publishes its own, richer tag/untag/delete events (ID =
   * image ID, `name` = familiar reference, as dockerd), so its record changes must not show
   * twice. Image records changed by other containerd clients (ctr, nerdctl) still show.
   */
  muteImageEcho(name: string, ttlMs = 30_000): void {
    const now = Date.now();
    for (const [n, until] of this.#mutedImages) if (until < now) this.#mutedImages.delete(n);
    this.#mutedImages.set(name, now + ttlMs);
  }

  /**
   * muteTaskEcho drops the translation of containerd's next /tasks/paused (`pause`) or
   * /tasks/resumed (`unpause`) event of container `id` (for 30 s): ckptd freezes a container
   * around docker cp, where dockerd does not pause at all and so emits no such events.
   */
  muteTaskEcho(id: string, action: 'pause' | 'unpause', ttlMs = 30_000): void {
    const now = Date.now();
    for (const [k, until] of this.#mutedTasks) if (until < now) this.#mutedTasks.delete(k);
    this.#mutedTasks.set(`${id}/${action}`, now + ttlMs);
  }

  async #follow(): Promise<void> {
    const signal = this.#abort.signal;
    let delay = 250;
    while (!signal.aborted) {
      try {
        const filter = `namespace==${this.#o.namespace}`;
        this.#o.tap?.subscribed();
        for await (const env of this.#o.source.subscribe([filter], signal)) {
          delay = 250;
          if (env.namespace === this.#o.namespace) this.#o.tap?.envelope(env);
          await this.#handle(env);
        }
      } catch (err) {
        this.#o.tap?.gap();
        if (signal.aborted) break;
        this.#o.logger.debug({ err }, 'containerd event stream broke; resubscribing');
      }
      this.#o.tap?.gap();
      if (signal.aborted) break;
      await new Promise((r) => setTimeout(r, delay).unref());
      delay = Math.min(delay * 2, 4000);
    }
  }

  async #handle(env: ContainerdEnvelope): Promise<void> {
    if (env.namespace !== this.#o.namespace) return;
    const t = translateTopic(env.topic, env.event.value);
    if (!t || !t.id) return;
    if (t.type === 'image') {
      const until = this.#mutedImages.get(t.id);
      if (until !== undefined) {
        this.#mutedImages.delete(t.id);
        if (until >= Date.now()) return;
      }
    }
    if (t.type === 'container' && (t.action === 'pause' || t.action === 'unpause')) {
      const key = `${t.id}/${t.action}`;
      const until = this.#mutedTasks.get(key);
      if (until !== undefined) {
        this.#mutedTasks.delete(key);
        if (until >= Date.now()) return;
      }
    }
    let attrs: Record<string, string> = {};
    if (t.type === 'container') {
      attrs = { ...(await this.#containerAttrs(t.id)), ...t.attrs };
      if (t.action === 'destroy') this.#attrs.delete(t.id);
    } else {
      attrs = t.attrs;
    }
    this.#emit(this.#message(t.type, t.action, t.id, attrs, env.timestampNano));
  }

  async #containerAttrs(id: string): Promise<Record<string, string>> {
    const cached = this.#attrs.get(id);
    if (cached) return cached;
    try {
      const c = await this.#o.lookup(id);
      if (!c) return {};
      const attrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(c.labels)) {
        if (!k.startsWith('ckptd/') && !k.startsWith('containerd.io/')) attrs[k] = v;
      }
      attrs.image = c.labels[LABEL_IMAGE_REF] ?? c.image;
      attrs.name = c.labels[LABEL_NAME] ?? id;
      this.#attrs.set(id, attrs);
      return attrs;
    } catch {
      return {};
    }
  }

  #message(
    type: string,
    action: string,
    id: string,
    attributes: Record<string, string>,
    nano: bigint,
  ): DockerEvent {
    const ev: DockerEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nano / 1_000_000_000n),
      timeNano: Number(nano),
    };
    if (type === 'container') {
      ev.status = action;
      ev.id = id;
      if (attributes.image) ev.from = attributes.image;
    }
    return ev;
  }

  #emit(ev: DockerEvent): void {
    const seq = ++this.#seq;
    this.#buffer.push({ ev, seq });
    if (this.#buffer.length > this.#o.bufferSize) this.#buffer.shift();
    for (const l of this.#listeners) l(ev, seq);
  }

  /**
   * stream yields buffered events in [since, until] and then live ones until `until` passes
   * or the signal aborts. Without `since`, only live events are sent (as dockerd does).
   */
  async *stream(opts: EventsOptions, signal: AbortSignal): AsyncIterable<DockerEvent> {
    const queue: { ev: DockerEvent; seq: number }[] = [];
    let wake: (() => void) | undefined;
    const listener: Listener = (ev, seq) => {
      queue.push({ ev, seq });
      wake?.();
    };
    const inWindow = (ev: DockerEvent): boolean => {
      const t = BigInt(ev.timeNano);
      if (opts.sinceNano !== undefined && t < opts.sinceNano) return false;
      if (opts.untilNano !== undefined && t > opts.untilNano) return false;
      return matchEvent(ev, opts.filters);
    };
    const onAbort = (): void => wake?.();
    signal.addEventListener('abort', onAbort);
    this.#abort.signal.addEventListener('abort', onAbort);
    this.#listeners.add(listener);
    let timer: NodeJS.Timeout | undefined;
    try {
      let lastSeq = 0;
      if (opts.sinceNano !== undefined) {
        for (const { ev, seq } of [...this.#buffer]) {
          lastSeq = seq;
          if (inWindow(ev)) yield ev;
        }
      }
      const now = this.#o.nowNano();
      if (opts.untilNano !== undefined) {
        if (opts.untilNano <= now) return;
        const ms = Number((opts.untilNano - now) / 1_000_000n);
        timer = setTimeout(onAbort, Math.min(ms + 1, 2 ** 31 - 1));
      }
      for (;;) {
        if (signal.aborted || this.#abort.signal.aborted) return;
        if (opts.untilNano !== undefined && this.#o.nowNano() > opts.untilNano) return;
        const item = queue.shift();
        if (!item) {
          if (opts.untilNano !== undefined) {
            // (re)armed before each wait: a timer may fire a little before `until` by the wall
            // clock (libuv's cached loop time), and a wake while not waiting is lost
            const left = Number((opts.untilNano - this.#o.nowNano()) / 1_000_000n) + 1;
            if (timer) clearTimeout(timer);
            timer = setTimeout(onAbort, Math.min(Math.max(left, 1), 2 ** 31 - 1));
          }
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
          continue;
        }
        if (item.seq <= lastSeq) continue;
        if (inWindow(item.ev)) yield item.ev;
      }
    } finally {
      if (timer) clearTimeout(timer);
      this.#listeners.delete(listener);
      signal.removeEventListener('abort', onAbort);
      this.#abort.signal.removeEventListener('abort', onAbort);
    }
  }
}
