/**
 * Archives: docker cp in and out of containers (moby `daemon/archive.go`: containerStatPath,
 * containerArchivePath, containerExtractToDir) and docker save (moby `image/tarexport/save.go`).
 *
 * Escape-proofing, three layers deep:
 * 1. Every filesystem call goes through a ScopedRoot (archive/scoped-fs.ts): each path is
 *    walked component by component from a descriptor of the container's root, directories
 *    opened O_NOFOLLOW relative to their parent's descriptor, `..` and symlinks resolved by
 *    ckptd itself and clamped to the root, final entries created or read with no-follow calls
 *    (O_EXCL|O_NOFOLLOW opens, mkdir, symlink, linkat, lchown). Races cannot redirect a lookup
 *    out of the root, because nothing is ever re-resolved from a host path string.
 * 2. A running container is paused for the whole operation (its processes cannot swap a path
 *    component mid-copy, so what is copied is consistent); a paused one stays paused. The pause
 *    holds are shared with commit (one pause, one resume per container).
 * 3. Archive operations on one container are serialized, so two cp's cannot race each other.
 * The container's root is `/proc/<init pid>/root` for a live task (opened once, then only the
 * descriptor is used; the pid is checked again after opening, so a recycled pid cannot hand us
 * another root), or a mount of its snapshot made by ckptd (read-only for GET/HEAD) for a
 * stopped one. Decompression runs the host's gzip/bzip2/xz/zstd (never the container's).
 */
import { makeTempDir } from '../host/temp-dirs.js';
import { ContainerLocks } from './container-locks.js';
import { execFile } from 'node:child_process';
import { constants, fstat, open, readFile } from 'node:fs';
import { open as openFile, readFile as readFileAsync, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { autoDecompress, ByteLimit, sendSource, type ArchiveSource } from '../archive/compression.js';
import {
  containerAbsPath,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_ENTRIES,
  extractTar,
  kernelMountPoints,
  tarPathSource,
  statPath,
  type Identity,
  type PathStat,
} from '../archive/container-archive.js';
import {
  contentStoreBlob,
  localImageArchive,
  planImageArchive,
  writeImageArchive,
  type BlobSource,
  type ExportImage,
} from '../archive/image-archive-writer.js';
import { closeFd, ScopedRoot } from '../archive/scoped-fs.js';
import type { CallContext, ContainerdClient } from '../containerd/index.js';
import {
  ConflictError,
  InternalError,
  InvalidArgumentError,
  isEngineError,
  NotFoundError,
  PermissionDeniedError,
  wrapError,
} from '../errors/index.js';
import { execUserFromFiles } from '../oci/runtime-spec.js';
import type { CommitSource } from './containers/index.js';
import type { ResolvedImage } from './images/index.js';
import type { TaskPauser } from './pause.js';
import { unmount, withReadOnlyRootfs, type RootfsMount } from './rootfs.js';

export type { PathStat } from '../archive/container-archive.js';

const execFileP = promisify(execFile);
const openP = promisify(open) as (p: string, flags: number) => Promise<number>;
const fstatP = promisify(fstat);
const readFileP = promisify(readFile) as (fd: number) => Promise<Buffer>;

/**
 * ArchiveSink sends the tar of GET /containers/{id}/archive, given with the path's stat: host
 * programs ready to write it (into the connection itself, where it can). It resolves once the
 * tar is sent.
 */
export type ArchiveSink = (stat: PathStat, tar: ArchiveSource) => Promise<void>;

/** ExtractToDirOptions are PUT /containers/{id}/archive's parameters. */
export interface ExtractToDirOptions {
  noOverwriteDirNonDir?: boolean;
  copyUIDGID?: boolean;
}

/** ArchiveBackend is what the archive handlers call. */
export interface ArchiveBackend {
  /** containerStatPath stats a path in a container (HEAD /containers/{id}/archive). */
  containerStatPath(ref: string, path: string, signal?: AbortSignal): Promise<PathStat>;
  /** containerArchivePath streams a tar of a path in a container to sink. */
  containerArchivePath(ref: string, path: string, sink: ArchiveSink, signal?: AbortSignal): Promise<void>;
  /** containerExtractToDir extracts a (possibly compressed) tar into a directory of a container. */
  containerExtractToDir(
    ref: string,
    path: string,
    body: Readable,
    opts: ExtractToDirOptions,
    signal?: AbortSignal,
  ): Promise<void>;
  /** imageSave resolves every name (404 before any byte) and sends a docker-save tar to out. */
  imageSave(names: string[], out: SaveOut, signal?: AbortSignal): Promise<void>;
}

/** SaveOut is where a docker save goes (the HTTP response), in one of two ways. */
export interface SaveOut {
  /** writable takes an archive written by Node; the response starts with its first byte. */
  writable: Writable;
  /**
   * program sends an archive that host programs produce (into the client's connection itself
   * where it can), resolving once it is sent.
   */
  program(source: ArchiveSource): Promise<void>;
}

/** ArchiveContainers is the part of the ContainerService the archive engine uses. */
export interface ArchiveContainers {
  commitSource(ref: string, signal?: AbortSignal): Promise<CommitSource>;
}

/** ArchiveImages is the part of the ImageService the archive engine uses. */
export interface ArchiveImages {
  resolveImage(nameOrId: string, signal?: AbortSignal): Promise<ResolvedImage>;
}

/** ArchiveServiceOptions wire an ArchiveService. */
export interface ArchiveServiceOptions {
  /** locks is the per-container mutex shared with the container and checkpoint services. */
  locks?: ContainerLocks;
  client: ContainerdClient;
  containers: ArchiveContainers;
  images: ArchiveImages;
  /** pauser is shared with the commit engine. */
  pauser: TaskPauser;
  events?: { publish(type: string, action: string, id: string, attributes?: Record<string, string>): void };
  logger: Logger;
  /** maxEntries / maxBytes bound one PUT archive (bomb guard). */
  maxEntries?: number;
  maxBytes?: number;
  /**
   * contentDir finds the local content store of the containerd in use (its
   * `io.containerd.content.v1.content` directory), undefined when it is not reachable from here.
   * Save then has GNU tar send the blob files themselves (under the save's lease) instead of
   * Content.Read: gRPC costs containerd ~1.7 s and ckptd ~2 s (mostly GC of 1 MiB message
   * buffers) of CPU per GB, which held save to ~150-450 MB/s. Blobs not found there, or of
   * another size, still go over Content.Read.
   */
  contentDir?: () => Promise<string | undefined>;
}

const LIVE_STATES = new Set(['RUNNING', 'PAUSED', 'PAUSING', 'CREATED']);
const MAX_CONFIG_BYTES = 20 << 20;

function errnoOf(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' && /^E[A-Z]+$/.test(c) ? c : undefined;
}

/**
 * openLocalBlob opens a committed blob of a local containerd content store (blobs are written
 * to an ingest and renamed into place, so the file is complete and immutable) as a stream of
 * 1 MiB chunks; undefined when it is not there, so the caller falls back to Content.Read.
 */
export async function openLocalBlob(contentDir: string, digest: string): Promise<Readable | undefined> {
  const path = contentStoreBlob(contentDir, digest);
  if (path === undefined) return undefined;
  let fh: FileHandle;
  try {
    fh = await openFile(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    if (!(await fh.stat()).isFile()) {
      await fh.close();
      return undefined;
    }
  } catch {
    await fh.close().catch(() => {});
    return undefined;
  }
  return fh.createReadStream({ highWaterMark: 1 << 20 });
}

/**
 * localContentStore returns a function that finds the content store directory of the
 * containerd behind `client` (Introspection: the content plugin exports its root) when this
 * host can read it, else undefined; the answer is kept once known, a failed lookup retried.
 */
export function localContentStore(client: ContainerdClient): () => Promise<string | undefined> {
  let known: Promise<string | undefined> | undefined;
  return () => {
    known ??= (async () => {
      const plugins = await client.introspection.plugins(['type==io.containerd.content.v1']);
      const root = plugins.find((p) => p.id === 'content')?.exports.root;
      if (!root) return undefined;
      const st = await stat(join(root, 'blobs', 'sha256')).catch(() => undefined);
      return st?.isDirectory() ? root : undefined;
    })().catch((err: unknown) => {
      known = undefined;
      throw err;
    });
    return known;
  };
}

/** looksLikeId tells an image ID (prefix) from a name: save of an ID carries no tags, as dockerd. */
function looksLikeId(ref: string): boolean {
  return /^sha256:[0-9a-f]{1,64}$/.test(ref) || /^[0-9a-f]{12,64}$/.test(ref);
}

/** ArchiveService implements ArchiveBackend over containerd, the container engine and the host's fs. */
export class ArchiveService implements ArchiveBackend {
  readonly #o: ArchiveServiceOptions;
  readonly #locks: ContainerLocks;

  constructor(o: ArchiveServiceOptions) {
    this.#o = o;
    this.#locks = o.locks ?? new ContainerLocks();
  }

  async containerStatPath(ref: string, path: string, signal?: AbortSignal): Promise<PathStat> {
    return this.#withRoot(ref, false, signal, async (root) => {
      const r = await this.#stat(root, ref, path);
      await r.resolved.close();
      return r.stat;
    });
  }

  async containerArchivePath(
    ref: string,
    path: string,
    sink: ArchiveSink,
    signal?: AbortSignal,
  ): Promise<void> {
    const src = await this.#withRoot(ref, false, signal, async (root, src, kernelMounts) => {
      const r = await this.#stat(root, ref, path);
      try {
        const rebase = r.abs === '/' ? '.' : r.stat.name;
        // GNU tar, in the pinned directory, while the container is paused (#withRoot)
        const viaTar = await tarPathSource(root, r.resolved, rebase, { skipContentsOf: kernelMounts });
        try {
          await sendSource(viaTar.source, (tar) => sink(r.stat, tar));
        } finally {
          await viaTar.close();
        }
      } finally {
        await r.resolved.close();
      }
      return src;
    });
    this.#o.events?.publish('container', 'archive-path', src.id, { name: src.name, path });
  }

  async containerExtractToDir(
    ref: string,
    path: string,
    body: Readable,
    opts: ExtractToDirOptions,
    signal?: AbortSignal,
  ): Promise<void> {
    const sig = signal ?? new AbortController().signal;
    const src = await this.#withRoot(ref, true, signal, async (root, src) => {
      const { abs } = containerAbsPath(path);
      let dest: string;
      {
        const r = await root.resolve(abs, { followFinal: true }).catch((err: unknown) => {
          throw this.#pathError(err, ref, path);
        });
        try {
          const st = await fstatOrLstat(root, r.dirFd, r.name).catch((err: unknown) => {
            throw this.#pathError(err, ref, path);
          });
          if (!st.isDirectory()) throw new InvalidArgumentError('extraction point is not a directory');
          dest = r.path;
        } finally {
          await r.close();
        }
      }
      const chown = opts.copyUIDGID ? await this.#containerIdentity(root, src) : undefined;
      const maxBytes = this.#o.maxBytes ?? DEFAULT_MAX_BYTES;
      try {
        await extractTar(
          root,
          dest,
          body,
          {
            noOverwriteDirNonDir: opts.noOverwriteDirNonDir === true,
            ...(chown ? { chown } : {}),
            maxEntries: this.#o.maxEntries ?? DEFAULT_MAX_ENTRIES,
            maxBytes,
            signal: sig,
          },
          // tar overhead: a header per entry and padding; the content cap is checked per entry
          [autoDecompress(), new ByteLimit(maxBytes + 2 ** 30, 'decompressed archive')],
        );
      } catch (err) {
        throw this.#extractError(err);
      }
      return src;
    });
    this.#o.events?.publish('container', 'extract-to-dir', src.id, { name: src.name, path });
  }

  async imageSave(names: string[], out: SaveOut, signal?: AbortSignal): Promise<void> {
    const sig = signal ?? new AbortController().signal;
    if (names.length === 0) throw new InvalidArgumentError('no image names given');
    const images: ExportImage[] = [];
    for (const name of names) {
      const img = await this.#o.images.resolveImage(name, signal);
      images.push({
        names: looksLikeId(name) || img.id.endsWith(name) ? [] : [img.name],
        manifest: img.target,
        config: { digest: img.manifest.config.digest, size: img.manifest.config.size },
        layers: img.manifest.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      });
    }
    const client = this.#o.client;
    const contentDir = await this.#o.contentDir?.().catch(() => undefined);
    await client.withLease(
      async (ctx) => {
        // Hold every blob for the duration: an image deleted mid-save keeps its content.
        const digests = new Set(
          images.flatMap((i) => [i.manifest.digest, i.config.digest, ...i.layers.map((l) => l.digest)]),
        );
        for (const d of digests) await client.leases.addResource(ctx.lease!, { id: d, type: 'content' }, ctx);
        const source: BlobSource = {
          open: async (digest, o) =>
            (contentDir === undefined ? undefined : await openLocalBlob(contentDir, digest)) ??
            client.content.readStream(digest, {}, { ...ctx, signal: o.signal }),
          readJson: async (digest, o) =>
            JSON.parse(
              (
                await client.content.readBlob(digest, MAX_CONFIG_BYTES, { ...ctx, signal: o.signal })
              ).toString('utf8'),
            ) as unknown,
        };
        const layout = await planImageArchive(images, source, sig);
        if (contentDir !== undefined) {
          const local = await localImageArchive(contentDir, layout);
          if (local !== undefined) {
            try {
              await out.program(local.source);
            } finally {
              await local.cleanup();
            }
            return;
          }
        }
        await writeImageArchive(images, source, out.writable, { signal: sig, layout });
      },
      { ctx: signal ? { signal } : {} },
    );
    for (const [i, name] of names.entries()) {
      const img = images[i]!;
      this.#o.events?.publish('image', 'save', img.config.digest, { name });
    }
  }

  // ---- internals ----

  async #stat(root: ScopedRoot, ref: string, path: string) {
    try {
      return await statPath(root, path);
    } catch (err) {
      throw this.#pathError(err, ref, path);
    }
  }

  #pathError(err: unknown, ref: string, path: string): Error {
    if (isEngineError(err)) return err;
    switch (errnoOf(err)) {
      case 'ENOENT':
        return new NotFoundError(`Could not find the file ${path} in container ${ref}`);
      case 'ENOTDIR':
        return new InvalidArgumentError(`cannot access ${path}: not a directory`);
      case 'ELOOP':
        return new InvalidArgumentError(`cannot access ${path}: too many levels of symbolic links`);
      default:
        return wrapError(`cannot access ${path}`, err);
    }
  }

  #extractError(err: unknown): Error {
    if (isEngineError(err)) return err;
    const code = errnoOf(err);
    if (code === 'EROFS' || code === 'EPERM' || code === 'EACCES') {
      return new PermissionDeniedError(`cannot extract the archive: ${(err as Error).message}`);
    }
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || code === 'EMFILE') {
      return wrapError('extracting the archive', err);
    }
    if (code !== undefined) {
      return new InvalidArgumentError(`cannot extract the archive: ${(err as Error).message}`);
    }
    // tar-stream's parse errors ("Invalid tar header", "Unexpected end of data"): a bad archive
    return new InvalidArgumentError(`invalid tar archive: ${(err as Error)?.message ?? String(err)}`);
  }

  /**
   * #containerIdentity is copyUIDGID's owner: the container's User from its passwd/group, or
   * none (the tar's own ownership) when the container has no User, as moby's tarCopyOptions.
   */
  async #containerIdentity(root: ScopedRoot, src: CommitSource): Promise<Identity | undefined> {
    const user = src.record.Config.User ?? '';
    if (user === '') return undefined;
    const passwd = await readSmall(root, '/etc/passwd');
    const group = await readSmall(root, '/etc/group');
    const u = execUserFromFiles(user, passwd, group);
    return { uid: u.uid, gid: u.gid };
  }

  /** #locked serializes archive operations on one container. */
  #locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(id, fn);
  }

  async #withRoot<T>(
    ref: string,
    write: boolean,
    signal: AbortSignal | undefined,
    fn: (root: ScopedRoot, src: CommitSource, kernelMounts: readonly string[]) => Promise<T>,
  ): Promise<T> {
    const first = await this.#o.containers.commitSource(ref, signal);
    return this.#locked(first.id, async () => {
      // what it is now that no other change of it runs (it may have stopped, or be going)
      const src = await this.#o.containers.commitSource(first.id, signal);
      if (write && src.record.HostConfig.ReadonlyRootfs) {
        throw new PermissionDeniedError('container rootfs is marked read-only');
      }
      if (src.removing) throw new ConflictError(`container ${src.id} is being removed`);
      if (src.taskStatus !== undefined && LIVE_STATES.has(src.taskStatus)) {
        // quiet: dockerd does not pause for docker cp, so no pause/unpause events
        const release = await this.#o.pauser
          .hold(src.id, 'archive', true, true)
          .catch(async (err: unknown) => {
            const now = await this.#o.client.tasks.get(src.id).catch(() => undefined);
            if (now !== undefined && LIVE_STATES.has(String(now.status))) throw err;
            throw new ConflictError(`container ${src.id} stopped during the copy; retry`);
          });
        try {
          const task = await this.#o.client.tasks.get(src.id).catch(() => undefined);
          if (task !== undefined && task.pid > 0 && LIVE_STATES.has(String(task.status))) {
            const root = await ScopedRoot.open(`/proc/${task.pid}/root`).catch((err: unknown) => {
              // killed between the two looks (`rm -f` kills at once): not a daemon failure
              if (
                (err as NodeJS.ErrnoException).code === 'ENOENT' ||
                (err as NodeJS.ErrnoException).code === 'ESRCH'
              )
                throw new ConflictError(`container ${src.id} stopped during the copy; retry`);
              throw err;
            });
            try {
              // The descriptor pins the root; make sure the pid was still the container's.
              const again = await this.#o.client.tasks.get(src.id);
              if (again.pid !== task.pid) throw new ConflictError(`container ${src.id} changed state; retry`);
              const mountinfo = await readFileAsync(`/proc/${task.pid}/mountinfo`, 'utf8').catch(() => '');
              return await fn(root, src, kernelMountPoints(mountinfo));
            } finally {
              await root.close();
            }
          }
        } finally {
          await release();
        }
      }
      return this.#o.client.withLease(
        async (ctx: CallContext) => {
          const mounts = await this.#o.client.snapshots(src.snapshotter).mounts(src.snapshotKey, ctx);
          const run = async (dir: string): Promise<T> => {
            const root = await ScopedRoot.open(dir);
            try {
              return await fn(root, src, []);
            } finally {
              await root.close();
            }
          };
          return write ? withWritableRootfs(mounts, run) : withReadOnlyRootfs(mounts, run);
        },
        { ctx: signal ? { signal } : {} },
      );
    });
  }
}

async function fstatOrLstat(root: ScopedRoot, dirFd: number, name: string) {
  // the root itself: its descriptor is at hand (opening /proc/self/fd/N with O_NOFOLLOW is ELOOP)
  if (name === '') return fstatP(root.fd);
  const fd = await openP(
    `/proc/self/fd/${dirFd}/${name}`,
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  ).catch((err: unknown) => {
    if (errnoOf(err) === 'ELOOP') return -1; // a symlink left in place: not a directory
    throw err;
  });
  if (fd < 0) return { isDirectory: () => false };
  try {
    return await fstatP(fd);
  } finally {
    await closeFd(fd);
  }
}

/** readSmall reads a small regular file inside the root (followed in scope), '' if absent. */
async function readSmall(root: ScopedRoot, path: string): Promise<string> {
  let r;
  try {
    r = await root.resolve(path, { followFinal: true });
  } catch {
    return '';
  }
  try {
    if (r.name === '') return '';
    const fd = await openP(
      `/proc/self/fd/${r.dirFd}/${r.name}`,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    ).catch(() => -1);
    if (fd < 0) return '';
    try {
      const st = await fstatP(fd);
      if (!st.isFile() || st.size > 1 << 20) return '';
      return (await readFileP(fd)).toString('utf8');
    } finally {
      await closeFd(fd);
    }
  } finally {
    await r.close();
  }
}

/**
 * withWritableRootfs mounts a stopped container's snapshot read-write (its own upper and work
 * dirs: nothing else mounts them while the container has no task) on a temp dir for fn.
 */
async function withWritableRootfs<T>(
  mounts: readonly RootfsMount[],
  fn: (root: string) => Promise<T>,
): Promise<T> {
  if (mounts.length !== 1) throw new InternalError(`cannot mount the rootfs: ${mounts.length} mounts`);
  const m = mounts[0]!;
  const target = await makeTempDir('ckptd-cp-');
  try {
    const bind = m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind');
    const args = bind
      ? ['--bind', m.source, target]
      : ['-t', m.type, '-o', m.options.filter((o) => o !== 'ro').join(','), m.source, target];
    await execFileP('mount', args);
    try {
      return await fn(target);
    } finally {
      await unmount(target);
    }
  } finally {
    await rmdir(target).catch(() => undefined);
  }
}
