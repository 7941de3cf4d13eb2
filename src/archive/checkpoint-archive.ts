/**
 * Checkpoint archives in the Podman/CRI-O layout (checkpointctl `lib/metadata.go`): packing a
 * checkpoint directory as a tar stream, unpacking an untrusted one into a staging directory,
 * and the container's filesystem changes as Podman keeps them (`rootfs-diff.tar`, a plain tar of
 * new and changed files, plus `deleted.files`, a JSON list of removed paths).
 *
 * Everything coming from an archive is untrusted: entry names are cleaned (no `..`, no absolute
 * paths, no NUL), only regular files and directories are accepted in the archive itself, the
 * rootfs diff may hold files, directories, symlinks, hardlinks and FIFOs but never device nodes,
 * and every write below a root refuses to pass through a symlink (podman uses securejoin and
 * chrootarchive for the same reason).
 */
import { constants, createReadStream, createWriteStream } from 'node:fs';
import {
  chmod,
  chown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import {
  CancelledError,
  InternalError,
  InvalidArgumentError,
  isEngineError,
  noSpaceError,
  type EngineError,
} from '../errors/index.js';
import {
  compressorStage,
  decompressorStage,
  detectCompression,
  MAGIC_BYTES,
  spawnPipeline,
  EMPTY_TAR,
  pipelineSource,
  type ArchiveSource,
  type CompressionKind,
  type PipelineStage,
} from './compression.js';
import { cleanArchivePath } from './image-archive-reader.js';
import { encodeHeader, END_OF_ARCHIVE, padding } from './tar-header.js';
import type { OverlayDirs } from '../host/overlay.js';
import {
  CHECKPOINT_IMAGES_DIR,
  CONFIG_DUMP,
  DELETED_FILES,
  METADATA_FILES,
  ROOTFS_DIFF_TAR,
} from './checkpoint-layout.js';

const execFileP = promisify(execFile);
/**
 * READ_CHUNK is the read size for files packed into a tar: tar-stream's per-chunk cost dominates
 * with fs's default 64 KiB (~200 MB/s for CRIU's page images); 1 MiB reads pack at disk speed.
 */
const READ_CHUNK = 1 << 20;

/** CheckpointArchiveLimits bound what an imported archive may hold. */
export interface CheckpointArchiveLimits {
  /** maxBytes caps the uncompressed archive. */
  maxBytes: number;
  /** maxEntries caps the number of entries of the archive and of its rootfs diff each. */
  maxEntries: number;
  /** maxMetadataBytes caps each JSON file (config.dump, spec.dump, deleted.files, ...). */
  maxMetadataBytes: number;
}

/** DEFAULT_CHECKPOINT_LIMITS: 64 GiB, 1M entries, 16 MiB per JSON file. */
export const DEFAULT_CHECKPOINT_LIMITS: Readonly<CheckpointArchiveLimits> = Object.freeze({
  maxBytes: 64 * 1024 ** 3,
  maxEntries: 1_000_000,
  maxMetadataBytes: 16 * 1024 * 1024,
});

const invalid = (m: string) => new InvalidArgumentError(`invalid checkpoint archive: ${m}`);

// ---- packing ----

/** walk lists the tree below `root` depth first, names sorted, never following a link. */
async function* walk(root: string, rel = ''): AsyncGenerator<{ rel: string; abs: string }> {
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    yield { rel: r, abs: join(root, r) };
    if (e.isDirectory()) yield* walk(root, r);
  }
}

/** CHECKPOINT_TAR_RECORD is tar's record size for checkpoint archives: 128 blocks = 64 KiB. */
const CHECKPOINT_TAR_RECORD = 128;

/**
 * packCheckpointDir streams a checkpoint directory as a tar, compressed by `compress`, made by
 * host programs so that the checkpoint's bytes never pass through Node (reading 1 GiB of CRIU
 * pages in Node cost more in garbage collection of the read buffers than the compression).
 * Entries are named relative to the directory (`checkpoint/pages-1.img`, `config.dump`, ...) as
 * Podman's archives are, owned by 0:0; `skip` names top-level entries to leave out. Memory is
 * bounded by the pipes; destroying the opened stream kills the programs.
 *
 * zstd (the export default) is one `zstd` reading the large files itself: a zstd stream may be
 * any sequence of frames (RFC 8878 §3.1), so the archive is the frames of "glue" files written
 * into `scratch` (tar headers, small files, padding) alternating with the frames of the large
 * files, and decompresses into one tar. That spares `tar | zstd` its pipe: on 1 GiB of CRIU
 * pages, 0.7 s instead of 1.7 s here. Other compressions are GNU tar piped into the compressor.
 * The directory must not change until the stream ends; the caller removes `scratch` after.
 */
export async function packCheckpointDir(
  dir: string,
  opts: { skip?: readonly string[]; compress?: CompressionKind; level?: number; scratch?: string } = {},
): Promise<ArchiveSource> {
  const skip = new Set(opts.skip ?? []);
  const entries = (await readdir(dir)).filter((n) => !skip.has(n)).sort();
  const compress = opts.compress ?? 'none';
  if (compress === 'zstd' && opts.scratch !== undefined) {
    return zstdFramedSource(dir, skip, opts.scratch, opts.level);
  }
  const stages: PipelineStage[] = [];
  if (entries.length > 0) {
    stages.push({
      program: 'tar',
      args: [
        '--create',
        '--file=-',
        `--blocking-factor=${CHECKPOINT_TAR_RECORD}`,
        '--format=posix',
        '--pax-option=delete=atime,delete=ctime',
        '--numeric-owner',
        '--owner=0',
        '--group=0',
        '--directory',
        dir,
        '--',
        ...entries,
      ],
      what: 'tar of the checkpoint',
    });
  } else {
    // GNU tar refuses an empty archive: the two end blocks through the compressor
    stages.push(EMPTY_TAR);
  }
  const compressor = compressorStage(compress, opts.level);
  if (compressor) stages.push(compressor);
  return pipelineSource(stages);
}

/** LARGE_FILE is the size from which zstd reads a file itself rather than from a glue file. */
const LARGE_FILE = 1 << 20;

/**
 * zstdFramedSource lays out the tar of `dir` (depth first, names sorted, the top-level names in
 * `skip` left out) as the inputs of one `zstd -c`: glue files in `scratch` holding headers,
 * small files and padding, and the large files themselves. Only directories and regular files
 * are packed (a checkpoint directory holds nothing else); anything else is an error, not
 * silently skipped.
 */
async function zstdFramedSource(
  dir: string,
  skip: ReadonlySet<string>,
  scratch: string,
  level: number | undefined,
): Promise<ArchiveSource> {
  const inputs: string[] = [];
  let glue: Buffer[] = [];
  let glueBytes = 0;
  const flush = async () => {
    const path = join(scratch, `glue-${inputs.length}`);
    await writeFile(path, Buffer.concat(glue, glueBytes), { flag: 'wx', mode: 0o600 });
    inputs.push(path);
    glue = [];
    glueBytes = 0;
  };
  const add = async (b: Buffer) => {
    glue.push(b);
    glueBytes += b.length;
    if (glueBytes >= LARGE_FILE) await flush();
  };
  for await (const { rel, abs } of walk(dir)) {
    if (skip.has(rel.split('/')[0] ?? '')) continue;
    const st = await lstat(abs);
    const base = { name: rel, mode: st.mode, mtime: Math.floor(st.mtimeMs / 1000) };
    if (st.isDirectory()) {
      await add(encodeHeader({ ...base, type: 'directory', size: 0 }));
      continue;
    }
    if (!st.isFile()) throw new InternalError(`checkpoint export: ${rel} is not a regular file`);
    await add(encodeHeader({ ...base, type: 'file', size: st.size }));
    if (st.size < LARGE_FILE) {
      const data = await readFile(abs);
      if (data.length !== st.size) throw new InternalError(`checkpoint export: ${rel} changed while packed`);
      await add(data);
    } else {
      await flush();
      inputs.push(abs);
    }
    await add(padding(st.size));
  }
  await add(END_OF_ARCHIVE);
  await flush();
  return pipelineSource([
    {
      program: 'zstd',
      args: ['-cq', `-${level ?? 3}`, '--', ...inputs],
      what: 'zstd compression of the checkpoint',
    },
  ]);
}

// ---- unpacking an untrusted archive ----

/** UNPRIVILEGED is who unpacks an imported archive: nobody:nogroup (Debian's 65534). */
const UNPRIVILEGED = Object.freeze({ uid: 65534, gid: 65534 });

/** LISTING_LINE is one line of `tar -xvv --numeric-owner`: type, mode, owner, size, time, name. */
const LISTING_LINE = /^[-d]\S* \S+ +(\d+) /;
/** IMPLIED_DIRECTORY is the listing line of a directory tar creates for a member's path. */
const IMPLIED_DIRECTORY = /^d\S* +Creating directory: /;

/**
 * extractCheckpointArchive unpacks an (optionally compressed) checkpoint archive into `dest`
 * (an empty directory that only root can reach: its parent must be mode 0700). A truncated or
 * hostile archive fails with an InvalidArgumentError; the caller removes `dest`. The input is
 * consumed to its end or destroyed.
 *
 * The archive's bytes never pass through Node: the host's decompressor and GNU tar unpack it,
 * both running as nobody (a program parsing untrusted input holds no privilege; tar starts in
 * `dest`, chowned to nobody, and cannot reach back up through the 0700 parent), with GNU tar's
 * own defences (no `..` members, leading `/` removed, links that could lead out created only
 * once everything else is written, no existing file replaced). ckptd reads tar's verbose listing
 * as it goes and stops it at the first entry that is not a file or a directory, or once the
 * entries or their sizes pass `limits`; once tar is done, every entry is checked again (only
 * directories and single-linked regular files, metadata files bounded) and given to root.
 * Node relaying the decompressed stream into a tar parser cost more than the unpacking itself.
 */
export async function extractCheckpointArchive(
  input: Readable,
  dest: string,
  signal: AbortSignal,
  limits: CheckpointArchiveLimits = DEFAULT_CHECKPOINT_LIMITS,
): Promise<void> {
  let programs: ReturnType<typeof spawnPipeline> | undefined;
  let failure: unknown;
  try {
    const kind = detectCompression(await readHead(input, MAGIC_BYTES));
    await chown(dest, UNPRIVILEGED.uid, UNPRIVILEGED.gid);
    const decompressor = decompressorStage(kind);
    const stages: PipelineStage[] = [
      ...(decompressor ? [{ ...decompressor, user: UNPRIVILEGED }] : []),
      {
        program: 'tar',
        args: [
          '--extract',
          '--file=-',
          '-vv',
          '--numeric-owner',
          '--no-same-owner',
          '--no-same-permissions',
          '--keep-old-files',
          '--no-acls',
          '--no-selinux',
          '--no-xattrs',
          '--warning=no-timestamp',
        ],
        what: 'tar',
        user: UNPRIVILEGED,
        cwd: dest,
        env: { LC_ALL: 'C' },
      },
    ];
    programs = spawnPipeline(stages, { stdin: true, makeError: programError });
    const feeding = pipeline(input, programs.stdin!, { signal });
    // a failed upload ends tar's input early: tar's own error (or the abort) is the one reported
    feeding.catch(() => undefined);
    await watchListing(programs, limits);
    // Every program exited 0: tar read the archive up to its end marker and stopped there, as
    // GNU tar does. A write that failed after that (EPIPE) only means bytes followed the marker
    // (the rest of tar's last record), still in flight when tar exited.
    await feeding.catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException | undefined)?.code !== 'EPIPE') throw err;
    });
    await checkExtracted(dest, limits);
  } catch (err) {
    failure = err;
  } finally {
    programs?.destroy();
    await programs?.exited;
  }
  if (failure === undefined) return;
  throw toArchiveError(failure, signal);
}

/** programError is the error of a failed decompressor or tar: the archive is at fault. */
function programError(message: string): EngineError {
  // tar's "Cannot write: No space left on device": the host is full, not the archive at fault
  const full = noSpaceError(`unpacking the checkpoint archive: ${message.replaceAll('/usr/bin/', '')}`);
  if (full) return full;
  if (/unexpected (EOF|end)|premature end|truncated/i.test(message)) {
    return invalid('unexpected end of data (truncated archive?)');
  }
  return invalid(message.replaceAll('/usr/bin/', ''));
}

/**
 * readHead reads at least `n` bytes of `input` (fewer if it ends first) and puts them back, for
 * a look at the magic number before the stream is piped on.
 */
async function readHead(input: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const c = input.read() as Buffer | null;
    if (c !== null) {
      chunks.push(c);
      len += c.length;
      continue;
    }
    if (input.readableEnded || input.destroyed) break;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        input.off('readable', done).off('end', done).off('close', done).off('error', fail);
        resolve();
      };
      const fail = (err: Error) => {
        done();
        reject(err);
      };
      input.on('readable', done).on('end', done).on('close', done).on('error', fail);
    });
  }
  const head = Buffer.concat(chunks);
  for (const c of chunks.reverse()) input.unshift(c);
  return head;
}

/**
 * watchListing reads tar's `-vv` listing until tar is done, failing at the first entry that is
 * not a regular file or a directory and once the entries or their sizes pass the limits.
 */
async function watchListing(listing: Readable, limits: CheckpointArchiveLimits): Promise<void> {
  let rest = '';
  let count = 0;
  let bytes = 0;
  for await (const chunk of listing) {
    const lines = (rest + (chunk as Buffer).toString('utf8')).split('\n');
    rest = lines.pop() ?? '';
    if (rest.length > 64 * 1024) throw invalid('an entry name is too long');
    for (const line of lines) {
      // a member's missing parent directory, made by tar itself
      if (line === '' || IMPLIED_DIRECTORY.test(line)) continue;
      if (line[0] !== '-' && line[0] !== 'd') {
        throw invalid(
          `${JSON.stringify(line.slice(line.indexOf(':') + 4))}: only files and directories are allowed`,
        );
      }
      const m = LISTING_LINE.exec(line);
      if (m === null) throw invalid(`unexpected tar listing: ${JSON.stringify(line.slice(0, 200))}`);
      if (++count > limits.maxEntries) throw invalid(`more than ${limits.maxEntries} entries`);
      bytes += Number(m[1]);
      if (bytes > limits.maxBytes)
        throw invalid(`checkpoint archive (uncompressed) exceeds the limit of ${limits.maxBytes} bytes`);
    }
  }
}

/**
 * checkExtracted walks what tar unpacked into `dest`: only directories and regular files with a
 * single link (anything else fails the import), metadata files within their bound, config.dump
 * and CRIU's images present; everything is given back to root.
 */
async function checkExtracted(dest: string, limits: CheckpointArchiveLimits): Promise<void> {
  let sawImages = false;
  await chown(dest, 0, 0);
  for await (const { rel, abs } of walk(dest)) {
    const st = await lstat(abs);
    if (!st.isDirectory()) {
      if (!st.isFile() || st.nlink !== 1) throw invalid(`${rel}: only files and directories are allowed`);
      if (METADATA_FILES.has(rel) && st.size > limits.maxMetadataBytes) {
        throw invalid(`${rel} is larger than ${limits.maxMetadataBytes} bytes`);
      }
      if (rel.startsWith(`${CHECKPOINT_IMAGES_DIR}/`)) sawImages = true;
    }
    await chown(abs, 0, 0);
  }
  const config = await lstat(join(dest, CONFIG_DUMP)).catch(() => undefined);
  if (config === undefined || !config.isFile()) throw invalid(`${CONFIG_DUMP} is missing`);
  if (!sawImages) throw invalid(`the ${CHECKPOINT_IMAGES_DIR}/ directory (CRIU images) is missing`);
}

function toArchiveError(err: unknown, signal: AbortSignal): EngineError {
  if (signal.aborted)
    return new CancelledError('checkpoint import cancelled', { cause: signal.reason ?? err });
  if (isEngineError(err)) return err;
  const full = noSpaceError(err);
  if (full) return full;
  const msg = err instanceof Error ? err.message : String(err);
  if (/unexpected end|premature close|aborted/i.test(msg))
    return invalid('unexpected end of data (truncated archive?)');
  return invalid(msg);
}

// ---- rootfs diff: capture from an overlay upper dir ----

export { overlayDirs, type OverlayDirs } from '../host/overlay.js';

async function isOpaque(dir: string): Promise<boolean> {
  // trusted.overlay.opaque=y marks a directory that hides the lower layers' contents. Node has
  // no getxattr: ask getfattr when present, else assume not opaque.
  try {
    const { stdout } = await execFileP('getfattr', [
      '--absolute-names',
      '--only-values',
      '-n',
      'trusted.overlay.opaque',
      dir,
    ]);
    return stdout.trim() === 'y';
  } catch {
    return false;
  }
}

/** RootfsDiffSummary counts what writeRootfsDiff captured. */
export interface RootfsDiffSummary {
  entries: number;
  bytes: number;
  deleted: string[];
}

/**
 * writeRootfsDiff captures an overlay snapshot's changes the way Podman stores them: new and
 * changed files (with hardlinks, symlinks, FIFOs, owners, modes and times) into `tarPath`, and
 * the deleted paths (overlay whiteouts; the lower entries an opaque directory hides) as a JSON
 * list into `deletedPath`. Device nodes other than whiteouts are skipped, as they are never
 * restored. Run it while the container is frozen or stopped.
 */
export async function writeRootfsDiff(
  dirs: OverlayDirs,
  tarPath: string,
  deletedPath: string,
): Promise<RootfsDiffSummary> {
  const pack = tar.pack();
  const writing = pipeline(pack, createWriteStream(tarPath, { mode: 0o600 }));
  writing.catch(() => {});
  const deleted: string[] = [];
  const inodes = new Map<string, string>();
  let entries = 0;
  let bytes = 0;
  const add = (h: Partial<tar.Header> & { name: string }, body?: Buffer) =>
    new Promise<void>((res, rej) =>
      pack.entry(h as tar.Header, body ?? Buffer.alloc(0), (err) => (err ? rej(err) : res())),
    );
  try {
    for await (const { rel, abs } of walk(dirs.upper)) {
      const st = await lstat(abs);
      const base = { name: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      if (st.isCharacterDevice() && st.rdev === 0) {
        deleted.push(`/${rel}`);
        continue;
      }
      if (st.isDirectory()) {
        await add({ ...base, type: 'directory' });
        entries++;
        if (await isOpaque(abs)) {
          const upperNames = new Set(await readdir(abs));
          const hidden = new Set<string>();
          for (const lower of dirs.lowers) {
            for (const n of await readdir(join(lower, rel)).catch(() => [] as string[])) {
              if (!upperNames.has(n)) hidden.add(n);
            }
          }
          for (const n of [...hidden].sort()) deleted.push(`/${rel}/${n}`);
        }
        continue;
      }
      if (st.isSymbolicLink()) {
        await add({ ...base, type: 'symlink', linkname: await readlink(abs) });
        entries++;
        continue;
      }
      if (st.isFIFO()) {
        await add({ ...base, type: 'fifo' });
        entries++;
        continue;
      }
      if (!st.isFile()) continue; // sockets and device nodes are not restorable content
      const key = `${st.dev}:${st.ino}`;
      if (st.nlink > 1) {
        const first = inodes.get(key);
        if (first !== undefined) {
          await add({ ...base, type: 'link', linkname: first });
          entries++;
          continue;
        }
        inodes.set(key, rel);
      }
      const entry = pack.entry({ ...base, type: 'file', size: st.size });
      await pipeline(createReadStream(abs, { highWaterMark: READ_CHUNK }), entry);
      entries++;
      bytes += st.size;
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err instanceof Error ? err : new Error(String(err)));
  }
  await writing;
  await writeFile(deletedPath, JSON.stringify(deleted));
  return { entries, bytes, deleted };
}

// ---- rootfs diff: apply onto a mounted rootfs ----

/** parseDeletedFiles validates deleted.files: a JSON array of paths, each cleaned. */
export function parseDeletedFiles(text: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw invalid(`${DELETED_FILES}: ${(err as Error).message}`);
  }
  if (v === null) return [];
  if (!Array.isArray(v) || !v.every((p): p is string => typeof p === 'string')) {
    throw invalid(`${DELETED_FILES} must be a JSON array of paths`);
  }
  return v.map((p) => {
    const c = cleanArchivePath(p.replace(/^\/+/, ''));
    if (c === undefined) throw invalid(`${DELETED_FILES}: ${JSON.stringify(p)} escapes the rootfs`);
    return c;
  });
}

/**
 * parentInside checks that every directory component of `rel` below `root` is a real directory
 * (not a symlink that would lead outside); missing ones are created when `create`.
 */
async function parentInside(root: string, rel: string, create: boolean): Promise<boolean> {
  const parts = rel.split('/');
  parts.pop();
  let cur = root;
  for (const seg of parts) {
    cur = join(cur, seg);
    const st = await lstat(cur).catch(() => undefined);
    if (st === undefined) {
      if (!create) return false;
      await mkdir(cur, { mode: 0o755 });
      continue;
    }
    if (!st.isDirectory()) throw invalid(`${rel}: path component ${seg} is not a directory (symlink?)`);
  }
  return true;
}

/** ApplyLimits bound a rootfs diff. */
export interface ApplyLimits {
  maxEntries: number;
}

/**
 * applyRootfsDiff extracts an untrusted rootfs-diff.tar onto a mounted rootfs, then removes the
 * deleted paths (Podman's order). Entries must stay inside the root: no `..`, no absolute
 * names, no writes through symlinks, hardlinks only to entries inside, and no device nodes.
 * With `rootEntry` a `./` directory entry gives the root its owner and mode (volume tars).
 */
export async function applyRootfsDiff(
  root: string,
  diff: Readable | undefined,
  deleted: readonly string[],
  signal: AbortSignal,
  limits: ApplyLimits = { maxEntries: DEFAULT_CHECKPOINT_LIMITS.maxEntries },
  opts: { rootEntry?: boolean } = {},
): Promise<void> {
  if (diff !== undefined) {
    const extract = tar.extract();
    const internal = new AbortController();
    const sig = AbortSignal.any([signal, internal.signal]);
    const feeding = pipeline(diff, extract, { signal: sig });
    feeding.catch((err: unknown) => internal.abort(err)); // unblocks an entry left half-read
    let failure: unknown;
    let count = 0;
    const dirTimes: { path: string; mtime: Date }[] = [];
    try {
      for await (const entry of extract) {
        if (++count > limits.maxEntries)
          throw invalid(`${ROOTFS_DIFF_TAR}: more than ${limits.maxEntries} entries`);
        const h = entry.header;
        const rel = cleanArchivePath(h.name);
        if (rel === undefined && opts.rootEntry && h.type === 'directory' && /^(\.\/?)?$/.test(h.name)) {
          // the root itself (`./`, podman's IncludeSourceDir volume tars): its owner and mode
          entry.resume();
          await chown(root, h.uid ?? 0, h.gid ?? 0);
          await chmod(root, (h.mode ?? 0o755) & 0o7777);
          continue;
        }
        if (rel === undefined)
          throw invalid(`${ROOTFS_DIFF_TAR}: entry ${JSON.stringify(h.name)} escapes the rootfs`);
        await applyEntry(root, rel, entry as unknown as Readable & { header: tar.Header }, dirTimes);
      }
    } catch (err) {
      failure = err;
      internal.abort(err);
    }
    try {
      await feeding;
    } catch (err) {
      failure ??= err;
      if (!isEngineError(failure) && isEngineError(err)) failure = err;
    }
    if (failure !== undefined) throw toArchiveError(failure, signal);
    for (const d of dirTimes.reverse()) await lutimes(d.path, d.mtime, d.mtime).catch(() => undefined);
  }
  for (const rel of deleted) {
    if (!(await parentInside(root, rel, false))) continue;
    await rm(join(root, rel), { recursive: true, force: true });
  }
}

async function applyEntry(
  root: string,
  rel: string,
  entry: Readable & { header: tar.Header },
  dirTimes: { path: string; mtime: Date }[],
): Promise<void> {
  const h = entry.header;
  const target = join(root, rel);
  const mode = (h.mode ?? 0o644) & 0o7777;
  await parentInside(root, rel, true);
  const existing = await lstat(target).catch(() => undefined);
  const replace = async () => {
    if (existing === undefined) return;
    if (existing.isDirectory()) await rm(target, { recursive: true, force: true });
    else await unlink(target);
  };
  switch (h.type) {
    case 'directory':
      if (existing !== undefined && !existing.isDirectory()) await replace();
      if (existing === undefined || !existing.isDirectory()) await mkdir(target, { mode });
      await chmod(target, mode);
      await chown(target, h.uid ?? 0, h.gid ?? 0);
      if (h.mtime) dirTimes.push({ path: target, mtime: h.mtime });
      entry.resume();
      return;
    case 'file':
    case 'contiguous-file': {
      await replace();
      const fh = await open(
        target,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
      await pipeline(entry, new FileHandleWritable(fh));
      break;
    }
    case 'symlink':
      await replace();
      await symlink(h.linkname ?? '', target);
      await lchownSafe(target, h.uid ?? 0, h.gid ?? 0);
      entry.resume();
      if (h.mtime) await lutimes(target, h.mtime, h.mtime).catch(() => undefined);
      return;
    case 'link': {
      const src = cleanArchivePath(h.linkname ?? '');
      if (src === undefined) throw invalid(`${ROOTFS_DIFF_TAR}: hardlink ${rel} points outside the rootfs`);
      await parentInside(root, src, false);
      const st = await lstat(join(root, src)).catch(() => undefined);
      if (st === undefined || !st.isFile())
        throw invalid(`${ROOTFS_DIFF_TAR}: hardlink ${rel} to a missing or non-regular file`);
      await replace();
      await link(join(root, src), target);
      entry.resume();
      return;
    }
    case 'fifo':
      await replace();
      await execFileP('mkfifo', ['-m', mode.toString(8), target]);
      break;
    default:
      throw invalid(
        `${ROOTFS_DIFF_TAR}: entry ${rel} is a ${h.type ?? 'special file'}; device nodes are not allowed`,
      );
  }
  entry.resume();
  await chown(target, h.uid ?? 0, h.gid ?? 0);
  await chmod(target, mode);
  if (h.mtime) await lutimes(target, h.mtime, h.mtime).catch(() => undefined);
}

async function lchownSafe(path: string, uid: number, gid: number): Promise<void> {
  const { lchown } = await import('node:fs/promises');
  await lchown(path, uid, gid).catch(() => undefined);
}

/**
 * WRITE_BATCH is how many bytes FileHandleWritable gathers before one writev: tar-stream hands
 * over an entry's data in pieces of at most 64 KiB, and a file write (plus its promise) per piece
 * was a large part of an import's time and garbage.
 */
const WRITE_BATCH = 1 << 20;
/** WRITE_MAX_BUFS bounds the buffers in one writev (IOV_MAX is 1024 on Linux). */
const WRITE_MAX_BUFS = 512;

/**
 * FileHandleWritable writes into an already opened FileHandle (opened with O_NOFOLLOW), gathering
 * incoming chunks into writes of about WRITE_BATCH bytes (one writev, no copy). At most one batch
 * is held: a chunk that completes a batch is acknowledged only once the batch is written, so
 * backpressure still reaches the source. On destroy the unwritten rest is dropped with the file.
 */
class FileHandleWritable extends Writable {
  readonly #fh: import('node:fs/promises').FileHandle;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  constructor(fh: import('node:fs/promises').FileHandle) {
    super({ highWaterMark: WRITE_BATCH });
    this.#fh = fh;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes < WRITE_BATCH && this.#pending.length < WRITE_MAX_BUFS) return cb();
    this.#flush().then(() => cb(), cb);
  }
  async #flush(): Promise<void> {
    let bufs = this.#pending;
    let left = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    while (left > 0) {
      const { bytesWritten } = await this.#fh.writev(bufs);
      left -= bytesWritten;
      if (left <= 0) break;
      if (bytesWritten === 0) throw new Error('writing a checkpoint file made no progress');
      // a short write: skip what was written and go on with the rest
      let skip = bytesWritten;
      while (skip >= bufs[0]!.length) skip -= bufs.shift()!.length;
      bufs = [bufs[0]!.subarray(skip), ...bufs.slice(1)];
    }
  }
  #closed = false;
  override _final(cb: (err?: Error | null) => void): void {
    this.#closed = true;
    this.#flush()
      .finally(() => this.#fh.close())
      .then(() => cb(), cb);
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#pending = [];
    this.#pendingBytes = 0;
    if (this.#closed) return cb(err);
    this.#closed = true;
    this.#fh.close().then(
      () => cb(err),
      () => cb(err),
    );
  }
}
