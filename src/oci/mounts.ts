/**
 * HostConfig.Mounts (`docker run --mount`), validated and turned into OCI mounts as moby does
 * (`volume/mounts/linux_parser.go` validateMountConfig and ConvertTmpfsOptions,
 * `daemon/oci_linux.go` WithMounts, `pkg/mount` MergeTmpfsOptions): type bind (source must
 * exist unless CreateMountpoint; readonly, propagation, non-recursive) and type tmpfs (size,
 * mode, exec/noexec) and type volume (named or anonymous, nocopy, labels and options of the
 * `local` driver; the engine creates and mounts it: engine/volumes). Everything else is refused
 * with a 400 naming it.
 */
import { InvalidArgumentError } from '../errors/index.js';
import type { Mount } from './runtime-spec.js';

/** PROPAGATIONS are the bind propagation modes Linux has (default rprivate). */
export const PROPAGATIONS: ReadonlySet<string> = new Set([
  'private',
  'rprivate',
  'slave',
  'rslave',
  'shared',
  'rshared',
]);

/** CONSISTENCIES are the values of Mount.Consistency; dockerd ignores them on Linux. */
const CONSISTENCIES = new Set(['', 'default', 'consistent', 'cached', 'delegated']);

/** UserMount is one validated HostConfig.Mounts entry. */
export type UserMount =
  | {
      type: 'bind';
      source: string;
      target: string;
      readOnly: boolean;
      propagation: string;
      nonRecursive: boolean;
      createMountpoint: boolean;
    }
  | { type: 'tmpfs'; target: string; readOnly: boolean; data: string[] }
  | {
      type: 'volume';
      /** name is the volume's name, '' for an anonymous volume. */
      name: string;
      target: string;
      readOnly: boolean;
      noCopy: boolean;
      labels: Record<string, string>;
      driverOpts: Record<string, string>;
    };

/** MountPointView is a mount as inspect's `Mounts` shows it. */
export interface MountPointView {
  Type: 'bind' | 'tmpfs';
  Source: string;
  Destination: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

const MOUNT_FIELDS = new Set([
  'Type',
  'Source',
  'Target',
  'ReadOnly',
  'Consistency',
  'BindOptions',
  'VolumeOptions',
  'TmpfsOptions',
  'ClusterOptions',
]);
const BIND_FIELDS = new Set([
  'Propagation',
  'NonRecursive',
  'CreateMountpoint',
  'ReadOnlyNonRecursive',
  'ReadOnlyForceRecursive',
]);
const TMPFS_FIELDS = new Set(['SizeBytes', 'Mode', 'Options']);
const VOLUME_FIELDS = new Set(['NoCopy', 'Labels', 'DriverConfig', 'Subpath']);

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string'))
    throw new InvalidArgumentError(`HostConfig.Mounts: ${field} must map strings to strings`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v))
    Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
  return out;
}

function cleanPath(p: string): string {
  const abs = p.startsWith('/');
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length > 0 && parts.at(-1) !== '..') parts.pop();
      else if (!abs) parts.push('..');
    } else parts.push(seg);
  }
  return abs ? `/${parts.join('/')}` : parts.join('/') || '.';
}

function set(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === '' || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * parseMounts validates HostConfig.Mounts and returns the entries (InvalidArgumentError with
 * dockerd's `invalid mount config for type "x": ...` wording, or naming the field ckptd
 * cannot apply). Bind sources are checked for existence separately (checkBindSources).
 */
export function parseMounts(raw: unknown): UserMount[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new InvalidArgumentError('HostConfig.Mounts: must be an array');
  return raw.map((m) => parseMount(m));
}

function parseMount(m: unknown): UserMount {
  if (!isObject(m)) throw new InvalidArgumentError('HostConfig.Mounts: each mount must be an object');
  for (const [k, v] of Object.entries(m)) {
    if (!MOUNT_FIELDS.has(k) && set(v))
      throw new InvalidArgumentError(`HostConfig.Mounts: unknown field ${k} (not part of Docker API 1.47)`);
  }
  const type = typeof m.Type === 'string' ? m.Type : '';
  const cfgErr = (why: string): never => {
    throw new InvalidArgumentError(`invalid mount config for type "${type}": ${why}`);
  };
  const target = typeof m.Target === 'string' ? m.Target : '';
  if (target === '') cfgErr('field Target must not be empty');
  if (cleanPath(target) === '/') cfgErr("invalid specification: destination can't be '/'");
  if (!target.startsWith('/')) cfgErr(`invalid mount path: '${target}' mount path must be absolute`);
  const source = typeof m.Source === 'string' ? m.Source : '';
  const readOnly = m.ReadOnly === true;
  const consistency = m.Consistency ?? '';
  if (typeof consistency !== 'string' || !CONSISTENCIES.has(consistency))
    throw new InvalidArgumentError(`HostConfig.Mounts: invalid Consistency ${JSON.stringify(consistency)}`);
  if (set(m.ClusterOptions))
    throw new InvalidArgumentError(
      'HostConfig.Mounts: ClusterOptions are for swarm services, which ckptd does not run',
    );

  switch (type) {
    case 'bind': {
      if (source === '') cfgErr('field Source must not be empty');
      const bo = m.BindOptions;
      if (bo !== undefined && bo !== null && !isObject(bo))
        throw new InvalidArgumentError('HostConfig.Mounts: BindOptions must be an object');
      const b = (bo ?? {}) as Record<string, unknown>;
      const propagation = typeof b.Propagation === 'string' ? b.Propagation : '';
      if (propagation !== '' && !PROPAGATIONS.has(propagation))
        cfgErr(`invalid propagation mode: ${propagation}`);
      if (m.VolumeOptions !== undefined && m.VolumeOptions !== null)
        cfgErr('field VolumeOptions must not be specified');
      if (set(m.TmpfsOptions)) cfgErr('field TmpfsOptions must not be specified');
      if (!source.startsWith('/')) cfgErr(`invalid mount path: '${source}' mount path must be absolute`);
      for (const [k, v] of Object.entries(b)) {
        if (!BIND_FIELDS.has(k) && set(v))
          throw new InvalidArgumentError(`HostConfig.Mounts: unknown field BindOptions.${k}`);
      }
      if (b.ReadOnlyForceRecursive === true) {
        throw new InvalidArgumentError(
          'HostConfig.Mounts: BindOptions.ReadOnlyForceRecursive: recursive read-only mounts need runc 1.2; ckptd runs runc 1.1',
        );
      }
      if (b.ReadOnlyNonRecursive === true && !readOnly) {
        throw new InvalidArgumentError('HostConfig.Mounts: BindOptions.ReadOnlyNonRecursive needs ReadOnly');
      }
      return {
        type: 'bind',
        source: cleanPath(source),
        target: cleanPath(target),
        readOnly,
        propagation: propagation || 'rprivate',
        nonRecursive: b.NonRecursive === true,
        createMountpoint: b.CreateMountpoint === true,
      };
    }
    case 'tmpfs': {
      if (set(m.BindOptions)) cfgErr('field BindOptions must not be specified');
      if (source !== '') cfgErr('field Source must not be specified');
      if (set(m.VolumeOptions)) cfgErr('field VolumeOptions must not be specified');
      return {
        type: 'tmpfs',
        target: cleanPath(target),
        readOnly,
        data: tmpfsData(m.TmpfsOptions, readOnly, cfgErr),
      };
    }
    case 'volume': {
      if (set(m.BindOptions)) cfgErr('field BindOptions must not be specified');
      if (set(m.TmpfsOptions)) cfgErr('field TmpfsOptions must not be specified');
      const vo = m.VolumeOptions;
      if (vo !== undefined && vo !== null && !isObject(vo))
        throw new InvalidArgumentError('HostConfig.Mounts: VolumeOptions must be an object');
      const v = (vo ?? {}) as Record<string, unknown>;
      for (const [k, x] of Object.entries(v)) {
        if (!VOLUME_FIELDS.has(k) && set(x))
          throw new InvalidArgumentError(`HostConfig.Mounts: unknown field VolumeOptions.${k}`);
      }
      const subpath = typeof v.Subpath === 'string' ? v.Subpath : '';
      if (subpath !== '') {
        if (source === '') cfgErr('must not set Subpath when using anonymous volumes');
        throw new InvalidArgumentError(
          'HostConfig.Mounts: VolumeOptions.Subpath (volume-subpath) is not supported by ckptd: mount the whole volume',
        );
      }
      if (source === '' && readOnly) cfgErr('must not set ReadOnly mode when using anonymous volumes');
      const dc = v.DriverConfig;
      if (dc !== undefined && dc !== null && !isObject(dc))
        throw new InvalidArgumentError('HostConfig.Mounts: VolumeOptions.DriverConfig must be an object');
      const driver = (dc ?? {}) as Record<string, unknown>;
      for (const [k, x] of Object.entries(driver)) {
        if (k !== 'Name' && k !== 'Options' && set(x))
          throw new InvalidArgumentError(`HostConfig.Mounts: unknown field VolumeOptions.DriverConfig.${k}`);
      }
      const driverName = driver.Name ?? '';
      if (driverName !== '' && driverName !== 'local')
        throw new InvalidArgumentError(
          `HostConfig.Mounts: VolumeOptions.DriverConfig.Name: volume driver ${JSON.stringify(driverName)} is not supported by ckptd (only "local")`,
        );
      if (v.NoCopy !== undefined && v.NoCopy !== null && typeof v.NoCopy !== 'boolean')
        throw new InvalidArgumentError('HostConfig.Mounts: VolumeOptions.NoCopy must be a boolean');
      return {
        type: 'volume',
        name: source,
        target: cleanPath(target),
        readOnly,
        noCopy: v.NoCopy === true,
        labels: stringMap(v.Labels, 'VolumeOptions.Labels'),
        driverOpts: stringMap(driver.Options, 'VolumeOptions.DriverConfig.Options'),
      };
    }
    default:
      return cfgErr('mount type unknown');
  }
}

/** tmpfsData is moby's ConvertTmpfsOptions: ro, mode=<octal>, size=<n>[kmg], exec/noexec. */
function tmpfsData(opts: unknown, readOnly: boolean, cfgErr: (why: string) => never): string[] {
  const out: string[] = readOnly ? ['ro'] : [];
  if (opts === undefined || opts === null) return out;
  if (!isObject(opts)) throw new InvalidArgumentError('HostConfig.Mounts: TmpfsOptions must be an object');
  for (const [k, v] of Object.entries(opts)) {
    if (!TMPFS_FIELDS.has(k) && set(v))
      throw new InvalidArgumentError(`HostConfig.Mounts: unknown field TmpfsOptions.${k}`);
  }
  const mode = opts.Mode ?? 0;
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0)
    throw new InvalidArgumentError('HostConfig.Mounts: TmpfsOptions.Mode must be a file mode');
  if (mode !== 0) out.push(`mode=${(mode & 0o7777).toString(8)}`);
  const size = opts.SizeBytes ?? 0;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0)
    throw new InvalidArgumentError('HostConfig.Mounts: TmpfsOptions.SizeBytes must be a positive integer');
  if (size !== 0) {
    let n = size;
    let suffix = '';
    for (const [s, d] of [
      ['g', 2 ** 30],
      ['m', 2 ** 20],
      ['k', 2 ** 10],
    ] as const) {
      if (size % d === 0) {
        n = size / d;
        suffix = s;
        break;
      }
    }
    out.push(`size=${n}${suffix}`);
  }
  const options = opts.Options ?? [];
  if (!Array.isArray(options))
    throw new InvalidArgumentError('HostConfig.Mounts: TmpfsOptions.Options must be an array');
  for (const o of options) {
    if (!Array.isArray(o) || o.length < 1 || o.length > 2 || !o.every((x) => typeof x === 'string'))
      cfgErr('invalid option array length');
    const [name, value] = o as string[];
    if (name !== 'exec' && name !== 'noexec') cfgErr(`invalid option: ${name}`);
    out.push(value === undefined ? name! : `${name}=${value}`);
  }
  return out;
}

const FLAG_GROUPS: readonly (readonly string[])[] = [
  ['ro', 'rw'],
  ['exec', 'noexec'],
  ['suid', 'nosuid'],
  ['dev', 'nodev'],
  ['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared'],
];

/**
 * mergeTmpfsOptions keeps the last of each flag group (ro/rw, exec/noexec, ...) and of each
 * key=value option, in order, as moby's MergeTmpfsOptions does.
 */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const out: string[] = [];
  const seenFlags = new Set<number>();
  const seenKeys = new Set<string>();
  for (let i = options.length - 1; i >= 0; i--) {
    const o = options[i]!;
    if (o === 'defaults') continue;
    const g = FLAG_GROUPS.findIndex((grp) => grp.includes(o));
    if (g >= 0) {
      if (seenFlags.has(g)) continue;
      seenFlags.add(g);
      out.unshift(o);
      continue;
    }
    const key = o.split('=')[0]!;
    if (seenKeys.has(key)) continue;
    seenKeys.add(key);
    out.unshift(o);
  }
  return out;
}

/** specMount is the OCI mount of a validated bind or tmpfs HostConfig.Mounts entry (moby WithMounts). */
export function specMount(m: UserMount): Mount {
  if (m.type === 'volume') throw new Error('a volume mount is resolved by the engine (engine/volumes)');
  if (m.type === 'tmpfs') {
    return {
      destination: m.target,
      type: 'tmpfs',
      source: 'tmpfs',
      options: mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...m.data]),
    };
  }
  return {
    destination: m.target,
    type: 'bind',
    source: m.source,
    options: [m.nonRecursive ? 'bind' : 'rbind', ...(m.readOnly ? ['ro'] : []), m.propagation],
  };
}

/** mountPointView is how inspect and list show a HostConfig.Mounts entry (moby's MountPoint). */
export function mountPointView(m: UserMount): MountPointView {
  if (m.type === 'volume') throw new Error('a volume mount is shown from the container record');
  return m.type === 'bind'
    ? {
        Type: 'bind',
        Source: m.source,
        Destination: m.target,
        Mode: '',
        RW: !m.readOnly,
        Propagation: m.propagation,
      }
    : { Type: 'tmpfs', Source: '', Destination: m.target, Mode: '', RW: !m.readOnly, Propagation: '' };
}

/**
 * checkBindSources refuses a bind whose source does not exist (dockerd: `invalid mount config
 * for type "bind": bind source path does not exist: /x`) and returns the sources to create
 * (CreateMountpoint). `exists` is the file-system probe (injected for tests).
 */
export async function checkBindSources(
  mounts: readonly UserMount[],
  exists: (path: string) => Promise<boolean>,
): Promise<string[]> {
  const create: string[] = [];
  for (const m of mounts) {
    if (m.type !== 'bind' || (await exists(m.source))) continue;
    if (m.createMountpoint) create.push(m.source);
    else
      throw new InvalidArgumentError(
        `invalid mount config for type "bind": bind source path does not exist: ${m.source}`,
      );
  }
  return create;
}
