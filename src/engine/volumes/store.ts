/**
 * The volume store and the `docker volume` operations (moby `volume/service`): volumes of the
 * `local` driver under `<data-root>/volumes/<name>/` (`_data` is the volume, `ckptd-volume.json`
 * its metadata, written atomically: temp file, fsync, rename). Which containers use a volume is
 * asked of the container engine (`users`), so a removal of a volume in use is refused (409
 * `remove x: volume is in use - [ids]`) and `dangling` and prune see what nothing uses.
 */
import { writeFileAtomic } from '../../host/atomic-write.js';
import { ContainerLocks } from '../container-locks.js';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../errors/index.js';
import { type Filters, invalidFilterError } from '../../oci/filters.js';
import {
  isMountPoint,
  mountVolume,
  needsMount,
  unmountVolume,
  validateLocalOptions,
  validateVolumeName,
} from './driver.js';

/** ANONYMOUS_LABEL marks an anonymous volume (moby `AnonymousLabel`, API >= 1.42 prune). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';
const META = 'ckptd-volume.json';

/** Volume is a volume as the API shows it (moby `volume.Volume`). */
export interface Volume {
  CreatedAt: string;
  Driver: 'local';
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
  UsageData?: { Size: number; RefCount: number };
}

/** VolumeCreateRequest is POST /volumes/create's body. */
export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** VolumesBackend is what the volume routes call. */
export interface VolumesBackend {
  volumeCreate(req: VolumeCreateRequest): Promise<Volume>;
  volumeInspect(name: string): Promise<Volume>;
  volumeList(filters: Filters): Promise<{ Volumes: Volume[]; Warnings: null }>;
  volumeRemove(name: string, force: boolean): Promise<void>;
  volumePrune(filters: Filters): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }>;
}

interface Meta {
  Name: string;
  CreatedAt: string;
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
}

/** VolumeServiceOptions configure a VolumeService. */
export interface VolumeServiceOptions {
  dataRoot: string;
  logger?: { warn(o: object, m?: string): void };
  /** users tells which containers use which volume (the container store's volumeUsers). */
  users?: UsersOf;
}

/** UsersOf lists, per volume name, the IDs of the containers that use it. */
export type UsersOf = () => Map<string, string[]>;

function own(o: Record<string, string>, k: string, v: string): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function stringMap(v: unknown, what: string): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string'))
    throw new InvalidArgumentError(`${what} must map strings to strings`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, string>)) own(out, k, x);
  return out;
}

/** rfc3339 is Go's time.RFC3339 of a date (second precision, UTC). */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** duSize is the disk usage of a tree in bytes (regular files' sizes), without following links. */
async function duSize(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await duSize(p);
    else if (e.isFile()) total += (await lstat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** VolumeService keeps the volumes of one data root. Call init() once before use. */
export class VolumeService implements VolumesBackend {
  readonly root: string;
  readonly #o: VolumeServiceOptions;
  readonly #volumes = new Map<string, Meta>();
  readonly #users: UsersOf;
  /** per volume name: the operation in flight (create, remove), so they do not interleave */
  readonly #locks = new ContainerLocks(); // one keyed mutex: per volume name

  constructor(o: VolumeServiceOptions) {
    this.#o = o;
    this.root = join(o.dataRoot, 'volumes');
    this.#users = o.users ?? (() => new Map());
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o701 });
    for (const name of await readdir(this.root)) {
      const text = await readFile(join(this.root, name, META), 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      try {
        const m = JSON.parse(text) as Meta;
        if (m.Name === name) this.#volumes.set(name, m);
      } catch (err) {
        this.#o.logger?.warn({ err, name }, 'ignoring a volume with unreadable metadata');
      }
    }
  }

  #locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(name, fn);
  }

  /** dataPath is the volume's directory as containers see it (its Mountpoint). */
  dataPath(name: string): string {
    return join(this.root, name, '_data');
  }

  has(name: string): boolean {
    return this.#volumes.has(name);
  }

  #view(m: Meta): Volume {
    return {
      CreatedAt: m.CreatedAt,
      Driver: 'local',
      Labels: m.Labels,
      Mountpoint: this.dataPath(m.Name),
      Name: m.Name,
      Options: m.Options,
      Scope: 'local',
    };
  }

  #get(name: string): Meta {
    const m = this.#volumes.get(name);
    if (m === undefined) throw new NotFoundError(`get ${name}: no such volume`);
    return m;
  }

  /** isAnonymous tells whether the volume carries the anonymous label. */
  isAnonymous(name: string): boolean {
    const l = this.#volumes.get(name)?.Labels;
    return l !== null && l !== undefined && Object.prototype.hasOwnProperty.call(l, ANONYMOUS_LABEL);
  }

  async volumeCreate(req: VolumeCreateRequest): Promise<Volume> {
    if (req === null || typeof req !== 'object' || Array.isArray(req))
      throw new InvalidArgumentError('invalid JSON body: expected a volume create request');
    const driver = req.Driver ?? '';
    if (typeof driver !== 'string') throw new InvalidArgumentError('Driver must be a string');
    if (driver !== '' && driver !== 'local')
      throw new NotFoundError(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const name = req.Name ?? '';
    if (typeof name !== 'string') throw new InvalidArgumentError('Name must be a string');
    return this.create(name, stringMap(req.DriverOpts, 'DriverOpts'), stringMap(req.Labels, 'Labels'));
  }

  /**
   * create creates a volume (a random 64-hex name when `name` is empty), or returns the existing
   * one of that name as dockerd does (its options and labels stay).
   */
  async create(
    name: string,
    options: Record<string, string> | null,
    labels: Record<string, string> | null,
  ): Promise<Volume> {
    const n = name === '' ? randomBytes(32).toString('hex') : name;
    validateVolumeName(n);
    validateLocalOptions(n, options ?? {});
    return this.#locked(n, async () => {
      const existing = this.#volumes.get(n);
      if (existing !== undefined) return this.#view(existing);
      const dir = join(this.root, n);
      await mkdir(this.root, { recursive: true, mode: 0o701 });
      await mkdir(join(dir, '_data'), { recursive: true, mode: 0o755 });
      const m: Meta = { Name: n, CreatedAt: rfc3339(new Date()), Labels: labels, Options: options };
      try {
        await writeFileAtomic(join(dir, META), JSON.stringify(m));
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
      this.#volumes.set(n, m);
      return this.#view(m);
    });
  }

  /** volumesDiskUsage lists every volume with its size and how many containers use it (`docker system df`). */
  async volumesDiskUsage(): Promise<(Volume & { UsageData: { Size: number; RefCount: number } })[]> {
    const users = this.#users();
    const out: (Volume & { UsageData: { Size: number; RefCount: number } })[] = [];
    for (const m of this.#volumes.values()) {
      out.push({
        ...this.#view(m),
        UsageData: { Size: await duSize(this.dataPath(m.Name)), RefCount: users.get(m.Name)?.length ?? 0 },
      });
    }
    return out;
  }

  async volumeInspect(name: string): Promise<Volume> {
    return this.#view(this.#get(name));
  }

  async volumeList(filters: Filters): Promise<{ Volumes: Volume[]; Warnings: null }> {
    const f = filters.validateKeys(['dangling', 'name', 'driver', 'label']);
    const users = this.#users();
    let dangling: boolean | undefined;
    for (const v of f.get('dangling')) {
      const s = v.toLowerCase();
      if (s === 'true' || s === '1') dangling = true;
      else if (s === 'false' || s === '0') dangling = false;
      else throw invalidFilterError('dangling', [v]);
    }
    const out: Volume[] = [];
    for (const m of [...this.#volumes.values()].sort((a, b) => (a.Name < b.Name ? -1 : 1))) {
      if (dangling !== undefined && ((users.get(m.Name)?.length ?? 0) === 0) !== dangling) continue;
      const names = f.get('name');
      if (names.length > 0 && !names.some((x) => m.Name.includes(x))) continue;
      const drivers = f.get('driver');
      if (drivers.length > 0 && !drivers.includes('local')) continue;
      if (!f.matchKVList('label', m.Labels ?? {})) continue;
      out.push(this.#view(m));
    }
    return { Volumes: out, Warnings: null };
  }

  async volumeRemove(name: string, force: boolean): Promise<void> {
    if (!this.#volumes.has(name)) {
      if (force) return;
      throw new NotFoundError(`get ${name}: no such volume`);
    }
    await this.#locked(name, () => this.#remove(name));
  }

  async #remove(name: string): Promise<void> {
    if (!this.#volumes.has(name)) return;
    const refs = this.#users().get(name) ?? [];
    if (refs.length > 0) throw new ConflictError(`remove ${name}: volume is in use - [${refs.join(', ')}]`);
    const dir = join(this.root, name);
    await unmountVolume(join(dir, '_data'));
    // the metadata first: a volume half removed is not listed again
    await rm(join(dir, META), { force: true });
    this.#volumes.delete(name);
    await rm(dir, { recursive: true, force: true });
  }

  /**
   * removeAnonymous removes an anonymous volume a removed container used (`docker rm -v`,
   * AutoRemove); a named volume, or one still in use, stays (dockerd).
   */
  async removeAnonymous(name: string): Promise<void> {
    if (!this.isAnonymous(name)) return;
    await this.#locked(name, () => this.#remove(name)).catch((err: unknown) =>
      this.#o.logger?.warn({ err, name }, 'cannot remove an anonymous volume'),
    );
  }

  async volumePrune(filters: Filters): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const f = filters.validateKeys(['label', 'label!', 'all']);
    let all = false;
    for (const v of f.get('all')) {
      const s = v.toLowerCase();
      if (s === 'true' || s === '1') all = true;
      else if (s === 'false' || s === '0') all = false;
      else throw invalidFilterError('all', [v]);
    }
    const users = this.#users();
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const m of [...this.#volumes.values()]) {
      if ((users.get(m.Name)?.length ?? 0) > 0) continue;
      const labels = m.Labels ?? {};
      if (!all && !Object.prototype.hasOwnProperty.call(labels, ANONYMOUS_LABEL)) continue;
      if (!f.matchKVList('label', labels)) continue;
      let excluded = false;
      for (const v of f.get('label!')) {
        const eq = v.indexOf('=');
        const k = eq === -1 ? v : v.slice(0, eq);
        if (Object.prototype.hasOwnProperty.call(labels, k) && (eq === -1 || labels[k] === v.slice(eq + 1)))
          excluded = true;
      }
      if (excluded) continue;
      const size = await duSize(this.dataPath(m.Name));
      try {
        await this.#locked(m.Name, () => this.#remove(m.Name));
      } catch (err) {
        this.#o.logger?.warn({ err, name: m.Name }, 'prune: cannot remove a volume');
        continue;
      }
      deleted.push(m.Name);
      reclaimed += size;
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  /**
   * ensureMounted readies a volume for a container: its device mounted at `_data` when its
   * options make it a mount (kept mounted until the volume is removed), and returns `_data`.
   */
  async ensureMounted(name: string): Promise<string> {
    const m = this.#get(name);
    const path = this.dataPath(name);
    await stat(path).catch(async () => mkdir(path, { recursive: true, mode: 0o755 }));
    const opts = m.Options ?? {};
    if (needsMount(opts)) {
      await this.#locked(name, async () => {
        if (!(await isMountPoint(path))) await mountVolume(opts, path);
      });
    }
    return path;
  }
}
