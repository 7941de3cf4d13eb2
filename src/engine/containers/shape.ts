/**
 * Pure shaping for the container lifecycle: Docker's state names and status strings
 * (moby `container/state.go`, go-units `HumanDuration`), the `docker ps` filters (moby
 * `daemon/list.go`), name/ID/prefix lookup (moby `daemon.GetContainer`) and signal parsing.
 * and the views of one container (its State, record, spec and mounts) from a containerd container,
 * its task and ckptd's record. No I/O: the engine feeds it snapshots of containers, tests feed
 * it literals.
 */
import { isIP } from 'node:net';
import { constants } from 'node:os';
import { timestampToDate, unpackSpec } from '../../containerd/index.js';
import { ConflictError, InternalError, InvalidArgumentError, NotFoundError } from '../../errors/index.js';
import type { Filters } from '../../oci/filters.js';
import { invalidFilterError } from '../../oci/filters.js';
import { mountPointView, parseMounts } from '../../oci/mounts.js';
import { parseBind, type RuntimeSpec } from '../../oci/runtime-spec.js';
import { HEALTH_FILTER_VALUES, healthStatusSuffix, type HealthStatus } from '../health/health-state.js';
import type { ContainerRecord, ContainerState, ContainerView, MountPoint, RunState } from './types.js';

/** ContainerStatus is Docker's `State.Status`. */
export type ContainerStatus =
  'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** CONTAINER_STATUSES are the values `status=` filters accept. */
export const CONTAINER_STATUSES: readonly ContainerStatus[] = [
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
];

/** ZERO_TIME is Go's zero time.Time as Docker prints it for unset StartedAt/FinishedAt. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * humanDuration is go-units' `HumanDuration`, which `docker ps` uses for "Up 3 seconds" and
 * "Exited (0) 2 minutes ago".
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** StatusFacts is what a status string is computed from. */
export interface StatusFacts {
  status: ContainerStatus;
  exitCode: number;
  /** startedAt/finishedAt: RFC 3339 strings, ZERO_TIME when unset. */
  startedAt: string;
  finishedAt: string;
  /** health is State.Health.Status when the container has a health check. */
  health?: HealthStatus | undefined;
}

function since(iso: string, now: number): number {
  return Math.max(0, now - Date.parse(iso));
}

/** statusString is `docker ps`'s STATUS column (moby `State.String`). */
export function statusString(s: StatusFacts, now: number = Date.now()): string {
  switch (s.status) {
    case 'running':
      if (s.health !== undefined)
        return `Up ${humanDuration(since(s.startedAt, now))} (${healthStatusSuffix(s.health)})`;
      return `Up ${humanDuration(since(s.startedAt, now))}`;
    case 'paused':
      return `Up ${humanDuration(since(s.startedAt, now))} (Paused)`;
    case 'restarting':
      return `Restarting (${s.exitCode}) ${humanDuration(since(s.finishedAt, now))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'created':
      return 'Created';
    case 'exited':
      if (s.finishedAt === ZERO_TIME || s.finishedAt === '') return `Exited (${s.exitCode})`;
      return `Exited (${s.exitCode}) ${humanDuration(since(s.finishedAt, now))} ago`;
  }
}

/** commandString is `docker ps`'s COMMAND: path and args, args holding spaces single-quoted. */
export function commandString(path: string, args: readonly string[]): string {
  if (args.length === 0) return path;
  return `${path} ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
}

/** LookupEntry is the part of a container that name/ID lookup reads. */
export interface LookupEntry {
  id: string;
  /** name without the leading `/` (a foreign container's name is its ID). */
  name: string;
}

/**
 * lookupContainer finds a container as moby's `GetContainer` does: a full ID, then a name
 * (with or without the leading `/`), then a unique ID prefix. Missing is NotFoundError
 * `No such container: x`; an empty or ambiguous reference is InvalidArgumentError.
 */
export function lookupContainer<T extends LookupEntry>(entries: readonly T[], ref: string): T {
  // moby's invalidIdentifier: an empty reference (POST /commit without `container`) is a 400.
  if (ref === '') throw new InvalidArgumentError('invalid name or ID supplied: ""');
  const byId = entries.find((e) => e.id === ref);
  if (byId) return byId;
  const name = ref.startsWith('/') ? ref.slice(1) : ref;
  const byName = entries.find((e) => e.name === name);
  if (byName) return byName;
  if (/^[a-zA-Z0-9_.-]+$/.test(ref)) {
    const matches = entries.filter((e) => e.id.startsWith(ref));
    if (matches.length > 1) {
      throw new InvalidArgumentError(`Multiple IDs found with provided prefix: ${ref}`);
    }
    if (matches[0]) return matches[0];
  }
  throw new NotFoundError(`No such container: ${ref}`);
}

/** LIST_FILTER_KEYS are the filter keys GET /containers/json accepts (moby `acceptedPsFilterTags`). */
export const LIST_FILTER_KEYS: readonly string[] = [
  'ancestor',
  'before',
  'expose',
  'exited',
  'health',
  'id',
  'isolation',
  'is-task',
  'label',
  'name',
  'network',
  'publish',
  'since',
  'status',
  'volume',
];

/** ListEntry is the part of a container the list filters read. */
export interface ListEntry extends LookupEntry {
  status: ContainerStatus;
  /** health is State.Health.Status, `none` without a health check (the `health` filter). */
  health?: HealthStatus | 'none';
  exitCode: number;
  labels: Record<string, string>;
  /** image is the reference the container was created from; imageId its config digest ('' if unknown). */
  image: string;
  imageId: string;
  /** created in ms since the epoch, for ordering. */
  created: number;
}

/** ListOptions are GET /containers/json's parameters after parsing. */
export interface ListOptions {
  all?: boolean;
  /** limit > 0 returns the `limit` most recently created containers, of any state. */
  limit?: number;
  filters?: Filters;
}

/** ImageMatcher says whether an image reference/ID given to `ancestor=` denotes the entry's image. */
export type ImageMatcher = (ancestor: string, entry: ListEntry) => boolean;

/** defaultImageMatcher compares references and ID (prefixes), without resolving anything. */
export const defaultImageMatcher: ImageMatcher = (ancestor, e) => {
  const strip = (s: string) => s.replace(/^sha256:/, '');
  if (ancestor === e.image) return true;
  if (e.imageId !== '' && strip(ancestor).length >= 4 && strip(e.imageId).startsWith(strip(ancestor)))
    return true;
  const withTag = (s: string) => (/:[^/]*$/.test(s) || s.includes('@') ? s : `${s}:latest`);
  const norm = (s: string) => withTag(s).replace(/^docker\.io\/(library\/)?/, '');
  return norm(ancestor) === norm(e.image);
};

/**
 * selectContainers applies `all`, `limit` and the filters of GET /containers/json and returns
 * the entries newest first (moby `daemon/list.go`). Filter keys are validated; bad `status`
 * or `exited` values are `invalid filter 'k=v'` (400).
 */
export function selectContainers<T extends ListEntry>(
  entries: readonly T[],
  opts: ListOptions,
  matchImage: ImageMatcher = defaultImageMatcher,
): T[] {
  const f = opts.filters;
  f?.validateKeys(LIST_FILTER_KEYS);
  const statuses = f?.get('status') ?? [];
  for (const s of statuses) {
    if (!CONTAINER_STATUSES.includes(s as ContainerStatus)) throw invalidFilterError('status', [s]);
  }
  const exited = (f?.get('exited') ?? []).map((v) => {
    if (!/^-?\d+$/.test(v)) throw invalidFilterError('exited', [v]);
    return Number(v);
  });
  const healths = f?.get('health') ?? [];
  for (const h of healths) {
    // dockerd 20.10's words (a 400)
    if (!HEALTH_FILTER_VALUES.includes(h))
      throw new InvalidArgumentError(`Unrecognised filter value for health: ${h}`);
  }
  const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : 0;
  // before/since: created before / after the named container (moby: the last value counts)
  const bound = (key: string): number | undefined => {
    const refs = f?.get(key) ?? [];
    const ref = refs[refs.length - 1];
    return ref === undefined ? undefined : lookupContainer(entries, ref).created;
  };
  const before = bound('before');
  const since = bound('since');
  // Like moby: an explicit status (or exited) filter looks at every container.
  const all = opts.all === true || limit > 0 || statuses.length > 0 || exited.length > 0;

  const sorted = [...entries].sort((a, b) => b.created - a.created);
  const out: T[] = [];
  for (const e of sorted) {
    // without `all`, what dockerd counts as running: running, paused and restarting
    if (!all && e.status !== 'running' && e.status !== 'paused' && e.status !== 'restarting') continue;
    if (f) {
      if (!f.fuzzyMatch('id', e.id)) continue;
      if (f.has('name') && !(f.match('name', `/${e.name}`) || f.match('name', e.name))) continue;
      if (!f.matchKVList('label', e.labels)) continue;
      if (statuses.length > 0 && !statuses.includes(e.status)) continue;
      if (exited.length > 0 && (e.status !== 'exited' || !exited.includes(e.exitCode))) continue;
      if (healths.length > 0 && !healths.includes(e.health ?? 'none')) continue;
      if (before !== undefined && e.created >= before) continue;
      if (since !== undefined && e.created <= since) continue;
      const ancestors = f.get('ancestor');
      if (ancestors.length > 0 && !ancestors.some((a) => matchImage(a, e))) continue;
    }
    out.push(e);
    if (limit > 0 && out.length >= limit) break;
  }
  return out;
}

/** DEFAULT_STOP_SIGNAL is the signal `docker stop` sends first. */
export const DEFAULT_STOP_SIGNAL = 'SIGTERM';
/** DEFAULT_STOP_TIMEOUT is the seconds `docker stop` waits before SIGKILL. */
export const DEFAULT_STOP_TIMEOUT = 10;

/**
 * parseSignal turns `SIGTERM`, `TERM`, `term` or `15` into a signal number (moby
 * `signal.ParseSignal`); anything else is InvalidArgumentError `Invalid signal: x`.
 */
export function parseSignal(raw: string): number {
  const s = raw.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw new InvalidArgumentError(`Invalid signal: ${raw}`);
    return n;
  }
  const upper = s.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const n = (constants.signals as Record<string, number | undefined>)[name];
  if (n === undefined) {
    const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name);
    if (rt) return 34 + Number(rt[1] ?? 0);
    throw new InvalidArgumentError(`Invalid signal: ${raw}`);
  }
  return n;
}

/**
 * parseKillSignal is POST /containers/{id}/kill's signal as dockerd 20.10 checks it: a name or
 * number that does not parse is `Invalid signal: x`; a number Linux has no signal for is
 * `Cannot kill container: <ref>: The linux daemon does not support signal N` (dockerd answers
 * 500 there; the request is at fault, so ckptd answers 400).
 */
export function parseKillSignal(ref: string, raw: string): number {
  const s = raw.trim();
  if (/^\d+$/.test(s) && Number(s) > 64) {
    throw new InvalidArgumentError(
      `Cannot kill container: ${ref}: The linux daemon does not support signal ${Number(s)}`,
    );
  }
  return parseSignal(raw);
}

/** removeRunningMessage is dockerd 20.10's refusal to remove a running, paused or restarting container. */
export function removeRunningMessage(id: string, state: 'running' | 'paused' | 'restarting'): string {
  const procedure = 'Stop the container before attempting removal or force remove';
  return state === 'paused'
    ? `You cannot remove a paused container ${id}. Unpause and then ${procedure.toLowerCase()}`
    : `You cannot remove a ${state} container ${id}. ${procedure}`;
}

/** WaitCondition is POST /containers/{id}/wait's `condition`. */
export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

/** parseWaitCondition validates `condition` (default not-running): 400 `invalid condition: "x"`. */
export function parseWaitCondition(raw: string | undefined): WaitCondition {
  if (raw === undefined || raw === '' || raw === 'not-running') return 'not-running';
  if (raw === 'next-exit' || raw === 'removed') return raw;
  throw new InvalidArgumentError(`invalid condition: ${JSON.stringify(raw)}`);
}

/** SUPPORTED_NETWORK_MODES are the HostConfig.NetworkMode values ckptd runs. */
export const SUPPORTED_NETWORK_MODES = ['none', 'host'] as const;

/**
 * parseNetworkMode maps HostConfig.NetworkMode to what ckptd runs. `none` and `host` are
 * themselves; '' and `default` (what the docker CLI and docker-py send when `--network` is
 * absent) become `none`, because ckptd sets up no bridge; anything else is a 400 saying so.
 */
export function parseNetworkMode(raw: string | undefined): 'none' | 'host' {
  if (raw === undefined || raw === '' || raw === 'default' || raw === 'none') return 'none';
  if (raw === 'host') return 'host';
  throw new InvalidArgumentError(
    `network mode "${raw}" is not supported: ckptd supports only NetworkMode "none" and "host" ` +
      `(no --network means "none")`,
  );
}

/**
 * extraHosts parses `HostConfig.ExtraHosts` (`name:ip` or `name=ip`, as the docker CLI's
 * `--add-host` sends them) into [name, ip] pairs; a bad entry is a 400. `host-gateway` needs the
 * default bridge, which ckptd does not have.
 */
export function extraHosts(raw: unknown): [string, string][] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new InvalidArgumentError('ExtraHosts must be an array of "host:ip" strings');
  return raw.map((entry: unknown) => {
    if (typeof entry !== 'string')
      throw new InvalidArgumentError('ExtraHosts must be an array of "host:ip" strings');
    const m = /^([^:=\s]+)[:=](.+)$/.exec(entry);
    const name = m?.[1];
    let ip = m?.[2] ?? '';
    if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    if (name === undefined)
      throw new InvalidArgumentError(`invalid extra host: ${JSON.stringify(entry)}: expected host:ip`);
    if (ip === 'host-gateway') {
      throw new InvalidArgumentError(
        `invalid extra host ${JSON.stringify(entry)}: host-gateway needs a bridge network, which ckptd does not provide`,
      );
    }
    if (isIP(ip) === 0)
      throw new InvalidArgumentError(`invalid IP address in add-host: ${JSON.stringify(ip)}`);
    return [name, ip];
  });
}

/** ContainersPruneReport is POST /containers/prune's answer. */
export interface ContainersPruneReport {
  ContainersDeleted: string[] | null;
  SpaceReclaimed: number;
}

/** ContainerTop is GET /containers/{id}/top's answer. */
export interface ContainerTop {
  Titles: string[];
  Processes: string[][];
}

/**
 * parsePsOutput keeps the lines of `ps` output whose PID is one of `pids`, each split into as
 * many fields as the header has (the last one keeps its spaces), as dockerd's parsePSOutput.
 */
export function parsePsOutput(out: string, pids: ReadonlySet<number>): ContainerTop {
  const lines = out.split('\n');
  const titles = (lines[0] ?? '')
    .trim()
    .split(/\s+/)
    .filter((t) => t !== '');
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new InternalError("Couldn't find PID field in ps output");
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (line.trim() === '' || fields.length < titles.length) continue;
    if (!pids.has(Number(fields[pidIndex]))) continue;
    processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  }
  return { Titles: titles, Processes: processes };
}

// ---- views of a container (a containerd container, its task and ckptd's record) ----

/** iso prints a time as Docker does: Go's zero time for an unset one. */
export function iso(d: Date): string {
  return d.getTime() <= 0 ? ZERO_TIME : d.toISOString();
}

/** nameInUse is dockerd's 409 for a container name another container holds. */
export function nameInUse(name: string, holder: string): ConflictError {
  return new ConflictError(
    `Conflict. The container name "/${name}" is already in use by container "${holder}". ` +
      'You have to remove (or rename) that container to be able to reuse that name.',
  );
}

/** isRunning tells whether the container has a live task (running, paused or pausing). */
export function isRunning(v: ContainerView): boolean {
  const s = v.task?.status;
  return s === 'RUNNING' || s === 'PAUSED' || s === 'PAUSING';
}

/** isRestarting tells whether the container waits for its restart policy (no live task). */
export function isRestarting(v: ContainerView): boolean {
  return v.local?.state.Restarting === true && !isRunning(v);
}

/** stateOf is inspect's `State` of a container: live facts from its task, the rest from its record. */
export function stateOf(v: ContainerView): ContainerState {
  const s: RunState = v.local?.state ?? {
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
    ExitCode: 0,
    Error: '',
    Running: false,
  };
  const base: ContainerState = {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: s.ExitCode,
    Error: s.Error,
    StartedAt: s.StartedAt,
    FinishedAt: s.FinishedAt,
  };
  const t = v.task;
  if (v.local?.removing) return { ...base, Status: 'removing' };
  if (s.Restarting && (t === undefined || t.status === 'STOPPED' || t.status === 'CREATED')) {
    // moby's SetRestarting: "running" for stop, kill and rm while the policy waits
    return { ...base, Status: 'restarting', Running: true, Restarting: true };
  }
  if (t !== undefined) {
    if (t.status === 'RUNNING') return { ...base, Status: 'running', Running: true, Pid: t.pid, ExitCode: 0 };
    if (t.status === 'PAUSED' || t.status === 'PAUSING') {
      return { ...base, Status: 'paused', Running: true, Paused: true, Pid: t.pid, ExitCode: 0 };
    }
    if (t.status === 'STOPPED') {
      const exited = iso(timestampToDate(t.exited_at));
      return {
        ...base,
        Status: 'exited',
        ExitCode: t.exit_status,
        FinishedAt: exited,
        StartedAt: s.StartedAt === ZERO_TIME && v.local === undefined ? exited : s.StartedAt,
      };
    }
    return base; // CREATED: a start in progress
  }
  if (s.StartedAt !== ZERO_TIME) return { ...base, Status: 'exited' };
  return base;
}

/** specOf is the container's OCI spec as containerd stores it ({} when unreadable). */
export function specOf(v: ContainerView): Partial<RuntimeSpec> {
  try {
    return v.container.spec ? unpackSpec<Partial<RuntimeSpec>>(v.container.spec) : {};
  } catch {
    return {};
  }
}

/**
 * recordOf is the container's record: ckptd's own, or for a container of another containerd
 * client (ctr, nerdctl) what its spec tells.
 */
export function recordOf(v: ContainerView): ContainerRecord {
  if (v.local) return v.local.record;
  const spec = specOf(v);
  const args = spec.process?.args ?? [];
  const created = iso(timestampToDate(v.container.created_at));
  return {
    Id: v.id,
    Name: v.name,
    Created: created,
    Path: args[0] ?? '',
    Args: args.slice(1),
    Config: {
      Hostname: spec.hostname ?? '',
      Domainname: '',
      User: spec.process ? `${spec.process.user.uid}:${spec.process.user.gid}` : '',
      Tty: spec.process?.terminal ?? false,
      OpenStdin: false,
      Env: spec.process?.env ?? [],
      Cmd: args,
      Entrypoint: null,
      Image: v.container.image,
      WorkingDir: spec.process?.cwd ?? '',
      Labels: v.container.labels,
    },
    HostConfig: {
      NetworkMode: spec.linux?.namespaces?.some((n) => n.type === 'network' && !n.path) ? 'none' : 'host',
      Binds: null,
      AutoRemove: false,
      ReadonlyRootfs: spec.root?.readonly ?? false,
    },
    Image: '',
    Driver: v.container.snapshotter,
    Platform: 'linux',
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
  };
}

/** mountPointsOf are the container's mounts as inspect and list show them: Binds, Mounts, volumes. */
export function mountPointsOf(r: ContainerRecord): MountPoint[] {
  let extra: MountPoint[] = [];
  try {
    extra = parseMounts(r.HostConfig.Mounts)
      .filter((m) => m.type !== 'volume')
      .map(mountPointView);
  } catch {
    // a record of another version: Binds only
  }
  const volumes: MountPoint[] = (r.MountPoints ?? []).map((p) => ({
    Type: 'volume',
    Name: p.Name,
    Source: p.Source,
    Destination: p.Destination,
    Driver: p.Driver,
    Mode: p.Mode,
    RW: p.RW,
    Propagation: p.Propagation,
  }));
  return [...bindPoints(r), ...extra, ...volumes];
}

function bindPoints(r: ContainerRecord): MountPoint[] {
  return (r.HostConfig.Binds ?? []).flatMap((raw) => {
    const b = parseBind(raw);
    if (b.volume !== undefined) return []; // shown from MountPoints
    const mode = raw.split(':')[2] ?? '';
    return {
      Type: 'bind',
      Source: b.source,
      Destination: b.destination,
      Mode: mode,
      RW: !b.readOnly,
      Propagation: b.propagation,
    };
  });
}

/** publicLabels hides ckptd's own bookkeeping labels from clients. */
export function publicLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith('ckptd/')));
}
