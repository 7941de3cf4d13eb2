/**
 * Path resolution confined to a container's root, with every step pinned to an open directory
 * descriptor: the userland equivalent of openat2(RESOLVE_IN_ROOT) / Go's os.Root / securejoin.
 *
 * Node has no openat(), but `/proc/self/fd/<dirfd>/<name>` is one: the kernel jumps straight to
 * the directory the descriptor holds and looks up `name` there. ScopedRoot walks a path one
 * component at a time from the root descriptor, opening each directory with O_NOFOLLOW and
 * never handing `..` to the kernel (it pops its own stack, clamped at the root). A symlink met
 * on the way is read with readlink and its target spliced into the rest of the path, resolved
 * from the root when absolute — inside the container, as moby's FollowSymlinkInScope. Nothing a
 * process in the container does (renaming a directory, swapping it for a symlink to `/`) can
 * make a lookup leave the root: at worst it fails or lands elsewhere inside the root.
 *
 * Operations on the final entry go through `at(dirFd, name)` with no-follow semantics
 * (lstat, readlink, O_NOFOLLOW opens, mkdir, symlink, link, unlink, lchown, lutimes).
 */
import { close as closeCb, constants, open as openCb, type Stats } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { promisify } from 'node:util';

// Raw descriptors, not FileHandles: a FileHandle dropped without close() would be closed by the
// garbage collector under our feet.
const closeP = promisify(closeCb);
const openP = promisify(openCb) as (path: string, flags: number, mode?: number) => Promise<number>;

/** closeFd closes a raw descriptor, ignoring errors (it is always ours and open). */
export async function closeFd(fd: number): Promise<void> {
  await closeP(fd).catch(() => undefined);
}

/** MAX_SYMLINKS bounds the links followed in one resolution (Linux's MAXSYMLINKS). */
export const MAX_SYMLINKS = 40;
const MAX_RETRIES = 64;

/** O_DIR_NOFOLLOW opens a directory, failing on a symlink. */
export const O_DIR_NOFOLLOW = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** at names entry `name` of the directory open as `dirFd`, for no-follow syscalls. */
export function at(dirFd: number, name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new ScopeError('EINVAL', `invalid path component ${JSON.stringify(name)}`);
  }
  return `/proc/self/fd/${dirFd}/${name}`;
}

/** fdPath names the directory open as `dirFd` itself (readdir, opendir). */
export function fdPath(dirFd: number): string {
  return `/proc/self/fd/${dirFd}`;
}

/** ScopeError is a failed resolution; `code` is the errno name (ENOENT, ENOTDIR, ELOOP...). */
export class ScopeError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'ScopeError';
  }
}

/**
 * Resolved is an entry found inside the root: the entry `name` of the directory open as
 * `dirFd` (name '' when the entry is the root itself). `path` is its canonical absolute path
 * inside the container. close() releases the descriptors of its ancestors.
 */
export interface Resolved {
  dirFd: number;
  name: string;
  path: string;
  close(): Promise<void>;
}

/** ResolveOptions tune ScopedRoot.resolve. */
export interface ResolveOptions {
  /** followFinal follows a symlink in the last component too (paths ending in `/` or `/.`). */
  followFinal: boolean;
}

interface Frame {
  fd: number;
  name: string;
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** splitPath splits a path into components, dropping empty ones and `.`. */
export function splitPath(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * ScopedRoot is an open container root. Every lookup below it is confined to it; see the
 * module comment.
 */
export class ScopedRoot {
  /** fd is the root directory's descriptor. */
  readonly fd: number;
  #closed = false;

  private constructor(fd: number) {
    this.fd = fd;
  }

  /**
   * open opens `hostPath` as a root. The path itself is trusted (a mount ckptd made, or
   * `/proc/<pid>/root` of a container's init): from here on only the descriptor is used.
   */
  static async open(hostPath: string): Promise<ScopedRoot> {
    return new ScopedRoot(await openP(hostPath, constants.O_RDONLY | constants.O_DIRECTORY));
  }

  /** close releases the root descriptor. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await closeP(this.fd).catch(() => undefined);
  }

  /**
   * resolve walks `path` (absolute inside the container, or relative to its root) and returns
   * the final entry's parent directory and name. Intermediate symlinks are followed inside the
   * root; the final one only with followFinal. The final entry need not exist (ENOENT only
   * when an intermediate component is missing), so callers can create it.
   */
  async resolve(path: string, opts: ResolveOptions): Promise<Resolved> {
    const stack: Frame[] = [];
    const cur = (): number => stack[stack.length - 1]?.fd ?? this.fd;
    const release = async (): Promise<void> => {
      while (stack.length > 0) await closeP(stack.pop()!.fd).catch(() => undefined);
    };
    const queue = splitPath(path);
    let links = 0;
    let retries = 0;
    try {
      while (queue.length > 0) {
        const part = queue.shift()!;
        if (part === '..') {
          const top = stack.pop();
          if (top) await closeP(top.fd).catch(() => undefined);
          continue;
        }
        const last = queue.length === 0;
        let st: Stats;
        try {
          st = await lstat(at(cur(), part));
        } catch (err) {
          if (errCode(err) === 'ENOENT' && last) return this.#result(stack, part);
          throw err;
        }
        if (st.isSymbolicLink() && (!last || opts.followFinal)) {
          if (++links > MAX_SYMLINKS)
            throw new ScopeError('ELOOP', `too many levels of symbolic links in ${path}`);
          const target = await readlink(at(cur(), part));
          if (target.startsWith('/')) await release();
          queue.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
          continue;
        }
        if (last) return this.#result(stack, part);
        if (!st.isDirectory()) throw new ScopeError('ENOTDIR', `not a directory: ${path}`);
        let fd: number;
        try {
          fd = await openP(at(cur(), part), O_DIR_NOFOLLOW);
        } catch (err) {
          const code = errCode(err);
          // Swapped between lstat and open (a symlink, a file, gone): look at it again.
          if ((code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT') && ++retries < MAX_RETRIES) {
            queue.unshift(part);
            continue;
          }
          throw err;
        }
        stack.push({ fd, name: part });
      }
      // The path resolved to a directory on the stack (or the root): return it as its
      // parent's entry.
      if (stack.length === 0) return this.#result(stack, '');
      const top = stack.pop()!;
      await closeP(top.fd).catch(() => undefined);
      return this.#result(stack, top.name);
    } catch (err) {
      await release();
      throw err;
    }
  }

  #result(stack: Frame[], name: string): Resolved {
    const frames = [...stack];
    stack.length = 0; // ownership moves to the result
    const names = frames.map((f) => f.name);
    if (name !== '') names.push(name);
    return {
      dirFd: frames[frames.length - 1]?.fd ?? this.fd,
      name,
      path: `/${names.join('/')}`,
      close: async () => {
        while (frames.length > 0) await closeP(frames.pop()!.fd).catch(() => undefined);
      },
    };
  }
}

/** openNoFollow opens entry `name` of `dirFd` with O_NOFOLLOW added to `flags`; returns the fd. */
export async function openNoFollow(
  dirFd: number,
  name: string,
  flags: number,
  mode?: number,
): Promise<number> {
  return openP(at(dirFd, name), flags | constants.O_NOFOLLOW, mode);
}
