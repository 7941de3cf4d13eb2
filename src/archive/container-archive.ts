/**
 * docker cp's archives (GET/HEAD/PUT /containers/{id}/archive) over a ScopedRoot: the path stat
 * Docker sends in `X-Docker-Container-Path-Stat`, a tar of one path rebased to its basename,
 * and extraction of an uploaded tar into a directory — every filesystem call confined to the
 * container's root (see scoped-fs.ts) and made with no-follow semantics.
 *
 * Extraction follows moby's `archive.Unpack`/`createTarFile` rules: names are cleaned and must
 * stay in the destination (`../x` is a breakout, `/x` lands at dest/x); an existing entry is
 * removed unless both it and the new one are directories; symlink targets and hardlink names
 * must stay in the destination; ownership comes from the tar (or copyUIDGID's identity); dir
 * times are applied last. Refused with 400: whiteouts (`.wh.*`), block/char devices (ckptd does
 * not create device nodes through cp), unknown entry types, more than maxEntries entries or
 * maxBytes of content.
 */
import { spawn } from 'node:child_process';
import {
  constants,
  createWriteStream,
  fchmod,
  fchown,
  fstat,
  futimes,
  lchown,
  link,
  lutimes,
  mkdir,
  open,
  readdir,
  rename,
  rmdir,
  symlink,
  unlink,
  type Stats,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { InvalidArgumentError, isEngineError } from '../errors/index.js';
import { parseMountinfo } from '../host/mountinfo.js';
import { pipelineSource, type ArchiveSource } from './compression.js';
import {
  at,
  closeFd,
  fdPath,
  O_DIR_NOFOLLOW,
  openNoFollow,
  ScopeError,
  type Resolved,
  type ScopedRoot,
} from './scoped-fs.js';

const openP = promisify(open) as (p: string, flags: number) => Promise<number>;
const fchmodP = promisify(fchmod);
const fstatP = promisify(fstat) as (fd: number) => Promise<Stats>;
const fchownP = promisify(fchown);
const futimesP = promisify(futimes);
const lchownP = promisify(lchown);
const lutimesP = promisify(lutimes);
const linkP = promisify(link);
const mkdirP = promisify(mkdir) as (p: string, mode: number) => Promise<void>;
const readdirP = promisify(readdir) as (p: string) => Promise<string[]>;
const rmdirP = promisify(rmdir);
const symlinkP = promisify(symlink) as (target: string, p: string) => Promise<void>;
const unlinkP = promisify(unlink);
const renameP = promisify(rename);

/** CP_PARTIAL_PREFIX names a file being extracted by docker cp (renamed to its own name when whole). */
export const CP_PARTIAL_PREFIX = '.ckptd-cp-partial-';

// ---- path stat ----

/** GoFileMode holds Go's os.FileMode type bits, as Docker's PathStat.Mode carries them. */
export const GoFileMode = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
} as const;

/** goFileMode converts a stat's mode to Go's os.FileMode bit layout (uint32). */
export function goFileMode(mode: number): number {
  let m = mode & 0o777;
  switch (mode & constants.S_IFMT) {
    case constants.S_IFDIR:
      m += GoFileMode.dir;
      break;
    case constants.S_IFLNK:
      m += GoFileMode.symlink;
      break;
    case constants.S_IFIFO:
      m += GoFileMode.namedPipe;
      break;
    case constants.S_IFSOCK:
      m += GoFileMode.socket;
      break;
    case constants.S_IFBLK:
      m += GoFileMode.device;
      break;
    case constants.S_IFCHR:
      m += GoFileMode.device + GoFileMode.charDevice;
      break;
    default:
      break;
  }
  if (mode & 0o4000) m += GoFileMode.setuid;
  if (mode & 0o2000) m += GoFileMode.setgid;
  if (mode & 0o1000) m += GoFileMode.sticky;
  return m;
}

/** PathStat is Docker's `container.PathStat`, field order kept for byte-identical JSON. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** encodePathStat renders the `X-Docker-Container-Path-Stat` header value: base64 of the JSON. */
export function encodePathStat(s: PathStat): string {
  const json = JSON.stringify({
    name: s.name,
    size: s.size,
    mode: s.mode,
    mtime: s.mtime,
    linkTarget: s.linkTarget,
  });
  return Buffer.from(json, 'utf8').toString('base64');
}

/** decodePathStat parses an `X-Docker-Container-Path-Stat` header value. */
export function decodePathStat(v: string): PathStat {
  return JSON.parse(Buffer.from(v, 'base64').toString('utf8')) as PathStat;
}

/**
 * containerAbsPath is moby's `filepath.Join("/", path)` with `PreserveTrailingDotOrSeparator`:
 * the cleaned absolute path, plus `/.` or `/` when the request ended with them.
 */
export function containerAbsPath(path: string): { abs: string; followFinal: boolean } {
  // normalize clamps `..` at the root (`/../x` is `/x`), as Go's filepath.Clean. A name that
  // merely starts with dots (`/..foo`) is an ordinary name and stays as it is.
  const abs = posix.normalize(`/${path}`).replace(/\/+$/, '') || '/';
  if (abs === '/') return { abs: '/', followFinal: true };
  if (/\/\.$/.test(path) || path === '.') return { abs: `${abs}/.`, followFinal: true };
  if (path.endsWith('/')) return { abs: `${abs}/`, followFinal: true };
  return { abs, followFinal: false };
}

/** baseName is Go's filepath.Base: the last element after trailing slashes are removed ("/" for the root). */
export function baseName(p: string): string {
  const t = p.replace(/\/+$/, '');
  if (t === '') return '/';
  return t.slice(t.lastIndexOf('/') + 1);
}

async function lstatEntry(root: ScopedRoot, r: Resolved): Promise<Stats> {
  // The root itself: fstat its descriptor. An lstat of /proc/self/fd/N would describe the
  // /proc magic link (a 0500 symlink to "/"), not the directory, and docker cp into `/`
  // would see a symlink.
  if (r.name === '') return fstatP(root.fd);
  return lstat(at(r.dirFd, r.name));
}

/**
 * statPath resolves `path` inside the root as moby's ResolvePath + StatPath: the directory
 * part follows symlinks (in scope), the last element only with a trailing `/` or `/.`;
 * linkTarget is the fully resolved path of a symlink. The caller closes the Resolved.
 */
export async function statPath(
  root: ScopedRoot,
  path: string,
): Promise<{ stat: PathStat; resolved: Resolved; st: Stats; abs: string }> {
  const { abs, followFinal } = containerAbsPath(path);
  const resolved = await root.resolve(abs, { followFinal });
  try {
    const st = await lstatEntry(root, resolved);
    if (followFinal && abs !== '/' && !st.isDirectory()) {
      throw new ScopeError('ENOTDIR', 'not a directory');
    }
    let linkTarget = '';
    if (st.isSymbolicLink()) {
      const full = await root.resolve(abs, { followFinal: true });
      linkTarget = full.path;
      await full.close();
    }
    const stat: PathStat = {
      name: baseName(abs),
      size: st.size,
      mode: goFileMode(st.mode),
      mtime: st.mtime.toISOString(),
      linkTarget,
    };
    return { stat, resolved, st, abs };
  } catch (err) {
    await resolved.close();
    throw err;
  }
}

// ---- tar out ----

/** READ_CHUNK is the read size for file data copied by Node. */
const READ_CHUNK = 1 << 20;

/** sedEscapeRegex and sedEscapeReplacement quote text for GNU tar's `--transform` (BRE, `,`). */
function sedEscapeRegex(text: string): string {
  return text.replace(/[\\.[\]*^$,]/g, (c) => `\\${c}`);
}
function sedEscapeReplacement(text: string): string {
  return text.replace(/[\\&,]/g, (c) => `\\${c}`);
}

/** KERNEL_FS are filesystem types whose mounts in a container hold no files of the container. */
const KERNEL_FS = new Set([
  'proc',
  'sysfs',
  'cgroup',
  'cgroup2',
  'devpts',
  'mqueue',
  'tmpfs',
  'securityfs',
  'debugfs',
  'tracefs',
  'bpf',
  'pstore',
  'configfs',
  'fusectl',
  'hugetlbfs',
  'binfmt_misc',
  'autofs',
]);

/**
 * kernelMountPoints lists, from a process's mountinfo text, the mount points (paths as that
 * process sees them) of kernel and memory filesystems other than its root: a running
 * container's /proc, /sys, /dev, /dev/shm, ... whose contents `docker cp` leaves out, as
 * dockerd (it copies from the container's filesystem and volumes, not its live mounts).
 */
export function kernelMountPoints(mountinfo: string): string[] {
  return parseMountinfo(mountinfo)
    .filter((m) => m.point !== '/' && KERNEL_FS.has(m.fstype))
    .map((m) => m.point);
}

/** globEscape quotes text for a tar --exclude wildcard pattern. */
function globEscape(text: string): string {
  return text.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

/** CP_TAR_RECORD is tar's record size for `docker cp` out: 128 blocks = 64 KiB. */
const CP_TAR_RECORD = 128;

/**
 * tarPathSource is the tar of GET /containers/{id}/archive, written by the host's GNU tar: top
 * entry `rebase`, children `rebase/child` (sorted), hardlinks by inode, sockets skipped, numeric
 * owners, devices and FIFOs as entries, the data never passing through Node. tar runs in the pinned directory itself (`/proc/<ckptd>/fd/<n>`
 * names the descriptor: no path is resolved again) and, not told to, never follows a symlink:
 * it reads nothing outside the root as long as the tree cannot change under it, which the
 * caller ensures (the container is paused, or has no process). close() releases the
 * descriptor it opened, once the opened stream has closed.
 */
export async function tarPathSource(
  root: ScopedRoot,
  resolved: Resolved,
  rebase: string,
  opts: { skipContentsOf?: readonly string[] } = {},
): Promise<{ source: ArchiveSource; close(): Promise<void> }> {
  let cwdFd: number;
  let member: string;
  let ownFd = -1;
  if (resolved.name === '') {
    cwdFd = root.fd;
    member = '.';
  } else if ((await lstat(at(resolved.dirFd, resolved.name))).isDirectory()) {
    ownFd = await openNoFollow(resolved.dirFd, resolved.name, O_DIR_NOFOLLOW);
    cwdFd = ownFd;
    member = '.';
  } else {
    cwdFd = resolved.dirFd;
    member = resolved.name;
  }
  // mount points whose contents are not the container's files (its /proc, /sys, ...): their
  // directory entry stays, what is below does not (tar matches the names it walks: `./proc/x`)
  const excludes: string[] = [];
  if (member === '.') {
    const base = resolved.path === '/' ? '' : resolved.path;
    for (const m of opts.skipContentsOf ?? []) {
      if (m === resolved.path) excludes.push('--exclude=./?*');
      else if (m.startsWith(`${base}/`) && !m.includes('\n')) {
        excludes.push(`--exclude=./${globEscape(m.slice(base.length + 1))}/?*`);
      }
    }
  }
  const transform =
    member === rebase || (member === '.' && rebase === '.')
      ? []
      : [
          // rename the top entry (and hardlink targets below it), never symlink targets
          member === '.'
            ? `--transform=s,^\\.,${sedEscapeReplacement(rebase)},S`
            : `--transform=s,^${sedEscapeRegex(member)}$,${sedEscapeReplacement(rebase)},S`,
        ];
  const source = pipelineSource([
    {
      program: 'tar',
      args: [
        '--create',
        '--file=-',
        `--blocking-factor=${CP_TAR_RECORD}`,
        '--format=gnu',
        '--sort=name',
        '--numeric-owner',
        `--directory=/proc/${process.pid}/fd/${cwdFd}`,
        '--anchored',
        '--wildcards',
        ...excludes,
        ...transform,
        '--',
        member,
      ],
      what: 'tar of the container path',
    },
  ]);
  return { source, close: async () => (ownFd >= 0 ? closeFd(ownFd) : undefined) };
}

// ---- tar in ----

/** Identity is a uid/gid pair. */
export interface Identity {
  uid: number;
  gid: number;
}

/** ExtractOptions tune extractTar. */
export interface ExtractOptions {
  /** noOverwriteDirNonDir refuses to replace a directory by a non-directory and vice versa. */
  noOverwriteDirNonDir?: boolean;
  /** chown overrides the tar's ownership (copyUIDGID). */
  chown?: Identity;
  /** maxEntries bounds the entries of one archive (default 1,000,000). */
  maxEntries?: number;
  /** maxBytes bounds the total content size of one archive (default 64 GiB). */
  maxBytes?: number;
  signal: AbortSignal;
}

/** DEFAULT_MAX_ENTRIES and DEFAULT_MAX_BYTES are the bomb guards of extractTar. */
export const DEFAULT_MAX_ENTRIES = 1_000_000;
export const DEFAULT_MAX_BYTES = 64 * 2 ** 30;
const MAX_NAME_BYTES = 4096;

/** ArchiveBreakoutError reports an entry that would land outside the destination (400). */
export class ArchiveBreakoutError extends InvalidArgumentError {}

/**
 * cleanEntryName applies moby's rules to a tar entry name: Go's filepath.Clean, `..` escapes
 * are breakouts, a leading `/` is relative to the destination. Returns the relative path
 * ('' for the destination itself).
 */
export function cleanEntryName(name: string): string {
  if (name.includes('\0')) throw new InvalidArgumentError(`invalid tar entry name ${JSON.stringify(name)}`);
  const cleaned = posix.normalize(name === '' ? '.' : name);
  if (cleaned === '..' || cleaned.startsWith('../')) {
    throw new ArchiveBreakoutError(
      `invalid tar entry ${JSON.stringify(name)}: it is outside of the destination`,
    );
  }
  let rel = cleaned.replace(/^\/+/, '').replace(/\/+$/, '');
  // `/../x` normalizes to `/x` already; a leading `..` left after stripping `/` cannot occur.
  if (rel === '.') rel = '';
  return rel;
}

/** linkStaysInside tells whether `target`, relative to `from` (both dest-relative), stays in the destination. */
export function linkStaysInside(fromDir: string, target: string): boolean {
  // Relative to the destination without a leading `/`, so `..` is kept instead of clamped
  // (Go's filepath.Join(dir, link) then the HasPrefix(dest) check); an absolute target is
  // joined to the destination like any other, as moby does.
  const joined = posix.normalize(posix.join(fromDir === '' ? '.' : fromDir, target.replace(/^\/+/, '')));
  return joined !== '..' && !joined.startsWith('../');
}

function fail400(message: string): never {
  throw new InvalidArgumentError(message);
}

async function removeAllAt(dirFd: number, name: string): Promise<void> {
  let st: Stats;
  try {
    st = await lstat(at(dirFd, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isDirectory()) {
    await unlinkP(at(dirFd, name));
    return;
  }
  const fd = await openNoFollow(dirFd, name, O_DIR_NOFOLLOW);
  try {
    for (const child of await readdirP(fdPath(fd))) await removeAllAt(fd, child);
  } finally {
    await closeFd(fd);
  }
  await rmdirP(at(dirFd, name));
}

function mknodFifo(dirFd: number, name: string, mode: number): Promise<void> {
  // Node has no mknod(2): the host's mknod (never the container's) creates it in the pinned
  // directory, reached through this process's descriptor table.
  const path = at(dirFd, name).replace('/proc/self/', `/proc/${process.pid}/`);
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/mknod', ['-m', (mode & 0o777).toString(8), '--', path, 'p'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`mknod failed: ${stderr.trim() || code}`)),
    );
  });
}

/**
 * extractTar extracts the tar `input` (already decompressed) into the directory `dest`
 * (container-absolute, already resolved) of `root`. See the module comment for the rules.
 */
export async function extractTar(
  root: ScopedRoot,
  dest: string,
  input: Readable,
  opts: ExtractOptions,
  transforms: Duplex[] = [],
): Promise<{ entries: number; bytes: number }> {
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const extract = tar.extract();
  const feeding = pipeline([input, ...transforms, extract], { signal: opts.signal });
  feeding.catch(() => undefined);

  // The directory descriptor of the last parent, reused while entries share it; dropped when
  // anything is removed (the cached directory might be what went away).
  let cached: { path: string; fd: number } | undefined;
  const dropCache = async (): Promise<void> => {
    if (cached) await closeFd(cached.fd);
    cached = undefined;
  };
  const dirTimes: { path: string; atime: Date; mtime: Date }[] = [];

  /** openDir opens (creating as needed, 0755 root-owned as moby's MkdirAllAndChownNew) a dir. */
  const openDir = async (path: string, depth = 0): Promise<number> => {
    if (depth > 4096) fail400('path too deep');
    let r: Resolved;
    try {
      r = await root.resolve(path, { followFinal: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || path === '/') throw err;
      const parentFd = await openDir(posix.dirname(path), depth + 1);
      await closeFd(parentFd);
      r = await root.resolve(path, { followFinal: true });
    }
    try {
      if (r.name === '') return await dupRoot();
      try {
        return await openNoFollow(r.dirFd, r.name, O_DIR_NOFOLLOW);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await mkdirP(at(r.dirFd, r.name), 0o755);
        return await openNoFollow(r.dirFd, r.name, O_DIR_NOFOLLOW);
      }
    } finally {
      await r.close();
    }
  };
  // The root's own descriptor stays with the root: callers get a second one to close.
  const dupRoot = (): Promise<number> => openP(fdPath(root.fd), constants.O_RDONLY | constants.O_DIRECTORY);
  const parentFd = async (path: string): Promise<number> => {
    if (cached?.path === path) return cached.fd;
    await dropCache();
    const fd = path === '/' ? await dupRoot() : await openDir(path);
    cached = { path, fd };
    return fd;
  };

  let entries = 0;
  let bytes = 0;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      opts.signal.throwIfAborted();
      if ((h.type as string) === 'pax-global-header') {
        entry.resume();
        continue;
      }
      if (++entries > maxEntries) fail400(`archive has more than ${maxEntries} entries`);
      bytes += h.size ?? 0;
      if (bytes > maxBytes) fail400(`archive content exceeds the limit of ${maxBytes} bytes`);
      if (Buffer.byteLength(h.name) > MAX_NAME_BYTES) fail400('tar entry name too long');
      const rel = cleanEntryName(h.name);
      const baseN = rel === '' ? '' : rel.slice(rel.lastIndexOf('/') + 1);
      if (baseN.startsWith('.wh.'))
        fail400(`invalid tar entry ${JSON.stringify(h.name)}: whiteouts are not accepted`);
      if (rel === '') {
        entry.resume(); // the destination itself: kept as it is (moby skips ".")
        continue;
      }
      const full = posix.join(dest, rel);
      const relDir = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
      const type = h.type ?? 'file';
      const owner = opts.chown ?? { uid: h.uid ?? 0, gid: h.gid ?? 0 };
      const mode = (h.mode ?? 0o644) & 0o7777;

      if (!['file', 'contiguous-file', 'directory', 'symlink', 'link', 'fifo'].includes(type)) {
        if (type === 'character-device' || type === 'block-device') {
          fail400(
            `tar entry ${JSON.stringify(h.name)}: device nodes are not accepted by docker cp into ckptd containers`,
          );
        }
        fail400(`tar entry ${JSON.stringify(h.name)}: unhandled tar header type ${type}`);
      }
      if (type === 'symlink' && !linkStaysInside(relDir, h.linkname ?? '')) {
        throw new ArchiveBreakoutError(
          `invalid symlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}: it points outside of the destination`,
        );
      }
      if (type === 'link' && !linkStaysInside('', (h.linkname ?? '').replace(/^\/+/, ''))) {
        throw new ArchiveBreakoutError(
          `invalid hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}: it points outside of the destination`,
        );
      }

      const pfd = await parentFd(posix.dirname(full));
      const existing = await lstat(at(pfd, baseN)).catch(() => undefined);
      if (existing) {
        if (opts.noOverwriteDirNonDir && existing.isDirectory() && type !== 'directory') {
          fail400(
            `cannot overwrite directory ${JSON.stringify(full)} with non-directory ${JSON.stringify(h.name)}`,
          );
        }
        if (opts.noOverwriteDirNonDir && !existing.isDirectory() && type === 'directory') {
          fail400(
            `cannot overwrite non-directory ${JSON.stringify(full)} with directory ${JSON.stringify(h.name)}`,
          );
        }
        if (!(existing.isDirectory() && type === 'directory')) {
          await removeAllAt(pfd, baseN);
          // A removed directory may be the cached parent of later entries: the cache is
          // keyed by path, and the parent itself is still there, so only deeper caches matter.
        }
      }

      switch (type) {
        case 'directory': {
          if (!existing?.isDirectory()) await mkdirP(at(pfd, baseN), 0o700);
          const fd = await openNoFollow(pfd, baseN, O_DIR_NOFOLLOW);
          try {
            await fchownP(fd, owner.uid, owner.gid);
            await fchmodP(fd, mode);
          } finally {
            await closeFd(fd);
          }
          dirTimes.push({ path: full, atime: h.mtime ?? new Date(), mtime: h.mtime ?? new Date() });
          entry.resume();
          break;
        }
        case 'file':
        case 'contiguous-file': {
          // written under a temporary name and renamed when whole: a copy cut short (a killed
          // daemon, a dropped client) never leaves a half file under the entry's name
          const partial = `${CP_PARTIAL_PREFIX}${randomBytes(6).toString('hex')}`;
          const fd = await openNoFollow(
            pfd,
            partial,
            constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
            0o600,
          );
          let renamed = false;
          try {
            try {
              await pipeline(
                entry,
                createWriteStream('', { fd, autoClose: false, highWaterMark: READ_CHUNK }),
                {
                  signal: opts.signal,
                },
              );
              await fchownP(fd, owner.uid, owner.gid);
              await fchmodP(fd, mode);
              const t = h.mtime ?? new Date();
              await futimesP(fd, t, t);
            } finally {
              await closeFd(fd);
            }
            await renameP(at(pfd, partial), at(pfd, baseN));
            renamed = true;
          } finally {
            if (!renamed) await unlinkP(at(pfd, partial)).catch(() => undefined);
          }
          break;
        }
        case 'symlink': {
          // symlink(2) has no empty target (ENOENT): the archive is at fault
          if (!h.linkname) fail400(`invalid symlink ${JSON.stringify(h.name)}: empty target`);
          await symlinkP(h.linkname, at(pfd, baseN));
          await lchownP(at(pfd, baseN), owner.uid, owner.gid);
          const t = h.mtime ?? new Date();
          await lutimesP(at(pfd, baseN), t, t).catch(() => undefined);
          entry.resume();
          break;
        }
        case 'link': {
          const target = posix.join(dest, (h.linkname ?? '').replace(/^\/+/, ''));
          const r = await root.resolve(target, { followFinal: false }).catch((err: unknown) => {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP')
              fail400(
                `invalid hardlink ${JSON.stringify(h.name)}: target ${JSON.stringify(h.linkname)} does not exist`,
              );
            throw err;
          });
          try {
            if (r.name === '') fail400(`invalid hardlink ${JSON.stringify(h.name)}: target is a directory`);
            const tst = await lstat(at(r.dirFd, r.name)).catch(() => undefined);
            if (!tst)
              fail400(
                `invalid hardlink ${JSON.stringify(h.name)}: target ${JSON.stringify(h.linkname)} does not exist`,
              );
            if (tst.isDirectory())
              fail400(`invalid hardlink ${JSON.stringify(h.name)}: target is a directory`);
            await linkP(at(r.dirFd, r.name), at(pfd, baseN));
          } finally {
            await r.close();
          }
          entry.resume();
          break;
        }
        case 'fifo': {
          await mknodFifo(pfd, baseN, mode);
          await lchownP(at(pfd, baseN), owner.uid, owner.gid);
          entry.resume();
          break;
        }
        default:
          entry.resume();
      }
    }
    await feeding;
    await dropCache();
    // Directory times last: extracting into a directory changes its mtime.
    for (const d of dirTimes.reverse()) {
      const r = await root.resolve(d.path, { followFinal: false }).catch(() => undefined);
      if (!r) continue;
      try {
        const fd =
          r.name === ''
            ? undefined
            : await openNoFollow(r.dirFd, r.name, O_DIR_NOFOLLOW).catch(() => undefined);
        if (fd !== undefined) {
          await futimesP(fd, d.atime, d.mtime).catch(() => undefined);
          await closeFd(fd);
        }
      } finally {
        await r.close();
      }
    }
    return { entries, bytes };
  } catch (err) {
    extract.destroy();
    input.destroy();
    for (const t of transforms) t.destroy();
    await feeding.catch(() => undefined);
    throw tarParseError(err);
  } finally {
    await dropCache();
  }
}

/** ENTRY_CONFLICTS are the errors an archive's own entries cause (the client's, not the host's). */
const ENTRY_CONFLICTS = new Set([
  'ENOTDIR',
  'EISDIR',
  'EEXIST',
  'ELOOP',
  'ENAMETOOLONG',
  'ENOTEMPTY',
  'ENOENT',
]);

/**
 * tarParseError turns the tar parser's complaints about the bytes (truncated, corrupt header:
 * errors without an errno code) into a 400; host errors (ENOSPC, EIO...) stay what they are.
 */
function tarParseError(err: unknown): unknown {
  if (isEngineError(err) || !(err instanceof Error)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  // the archive's entries against the tree (a file where its next entry wants a directory...)
  if (code !== undefined && ENTRY_CONFLICTS.has(code))
    return new InvalidArgumentError(
      `cannot extract the archive: ${err.message.replace(/'\/proc\/self\/fd\/\d+\/?/g, "'")}`,
      {
        cause: err,
      },
    );
  if (code !== undefined) return err;
  if (err.name === 'AbortError') return err;
  return new InvalidArgumentError(`invalid tar archive: ${err.message}`, { cause: err });
}
