/**
 * A commit's layer read from the container's overlay upper dir (moby's overlay2 driver
 * `Diff`/`naiveDiff`'s fast path; containerd's walking differ instead compares the whole lower
 * and upper trees). The upper dir holds exactly the container's changes: new and changed
 * entries as themselves, deletions as overlay whiteouts (character devices 0/0) and replaced
 * directories as opaque directories (`trusted.overlay.opaque=y`). The layer is:
 *
 *  1. the OCI whiteouts first (`dir/.wh.name` for each whiteout, `dir/.wh..wh..opq` for each
 *     opaque dir: empty regular files, as moby's overlay whiteout converter writes them; the
 *     image spec asks whiteouts to come before their siblings), written by tar-stream, without
 *     the end blocks;
 *  2. then GNU tar over every other entry of the upper dir in walk order (pre-order, names
 *     sorted), `--no-recursion` from an explicit NUL-separated list: regular files, dirs,
 *     symlinks, hardlinks by inode, fifos, device nodes, owners, modes, mtimes, and the xattrs
 *     an image carries (`user.*`, `security.capability`; never overlayfs's own), ending the
 *     archive. GNU tar, not a Node walker: Node reads no xattrs, and tar reads at disk speed.
 *
 * Only for an upper dir nothing writes to: the container frozen, or without running process
 * (a live container could swap a directory for a symlink between the walk and tar's open).
 * Overlay features that move data out of the upper dir (redirect_dir, metacopy) are refused
 * here: the caller then takes containerd's differ.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { spawnPipeline, type ProgramOutput } from '../archive/compression.js';
import { opaqueDirs, type OverlayLayout, type RootfsMount } from './rootfs.js';

/** UPPER_BLOCKING_FACTOR is GNU tar's record size in 512-byte blocks (64 KiB: a pipe read). */
const UPPER_BLOCKING_FACTOR = 128;

/**
 * upperLayerLayout is the upper dir of a snapshot's mounts when a layer can be read from it:
 * one overlay mount with an upperdir and no overlay feature that keeps data or names outside
 * it (redirect_dir, metacopy). Not a bind mount: the native snapshotter's snapshots are full
 * copies of their parent (only overlayfs's parentless ones are all new, and those the differ
 * handles as well).
 */
export function upperLayerLayout(mounts: readonly RootfsMount[]): OverlayLayout | undefined {
  if (mounts.length !== 1) return undefined;
  const m = mounts[0]!;
  if (m.type !== 'overlay') return undefined;
  let upper: string | undefined;
  let lowers: string[] = [];
  for (const o of m.options) {
    if (o.startsWith('upperdir=')) upper = o.slice('upperdir='.length);
    else if (o.startsWith('lowerdir=')) lowers = o.slice('lowerdir='.length).split(':');
    else if (/^(redirect_dir|metacopy)=/.test(o) && !/=(off|nofollow)$/.test(o)) return undefined;
  }
  return upper === undefined ? undefined : { upper, lowers };
}

/** UpperLayerPlan is what an upper dir's layer holds, from one walk. */
export interface UpperLayerPlan {
  upper: string;
  /** entries are the paths tar archives (relative, pre-order, names sorted as bytes). */
  entries: string[];
  /** whiteouts are OCI whiteout entries to write first, with the mtime of what they stand for. */
  whiteouts: { name: string; mtime: Date; mode: number }[];
}

/**
 * planUpperLayer walks the upper dir once (lstat, never following a link): whiteout devices
 * become `.wh.` entries, sockets are left out (no archive format restores them, as Go's
 * archive/tar), dirs marked opaque get a `.wh..wh..opq` entry, everything else is for tar.
 */
export async function planUpperLayer(upper: string, signal?: AbortSignal): Promise<UpperLayerPlan> {
  const entries: string[] = [];
  const whiteouts: UpperLayerPlan['whiteouts'] = [];
  const dirs: { rel: string; mtime: Date; mode: number }[] = [];
  const visit = async (rel: string): Promise<void> => {
    signal?.throwIfAborted();
    const names = (await readdir(join(upper, rel))).sort((a, b) =>
      Buffer.compare(Buffer.from(a), Buffer.from(b)),
    );
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(join(upper, path));
      if (st.isCharacterDevice() && st.rdev === 0) {
        whiteouts.push({ name: posix.join(rel, `.wh.${name}`), mtime: st.mtime, mode: 0o600 });
        continue;
      }
      if (st.isSocket()) continue;
      entries.push(path);
      if (st.isDirectory()) {
        dirs.push({ rel: path, mtime: st.mtime, mode: st.mode & 0o777 });
        await visit(path);
      }
    }
  };
  await visit('');
  if (dirs.length > 0) {
    const opaque = await opaqueDirs(
      upper,
      dirs.map((d) => `/${d.rel}`),
    );
    for (const d of dirs) {
      if (opaque.has(`/${d.rel}`)) {
        whiteouts.push({ name: `${d.rel}/.wh..wh..opq`, mtime: d.mtime, mode: d.mode });
      }
    }
  }
  whiteouts.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  return { upper, entries, whiteouts };
}

/** isEmptyPlan: nothing changed, the layer would be empty (the caller adds no layer). */
export function isEmptyPlan(plan: UpperLayerPlan): boolean {
  return plan.entries.length === 0 && plan.whiteouts.length === 0;
}

/**
 * whiteoutHeaders is the tar of the plan's whiteouts without its two end blocks: the start of
 * the layer, continued by GNU tar's archive. Owned by 0:0.
 */
export async function whiteoutHeaders(whiteouts: UpperLayerPlan['whiteouts']): Promise<Buffer> {
  if (whiteouts.length === 0) return Buffer.alloc(0);
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const collected = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const w of whiteouts) {
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        { name: w.name, type: 'file', size: 0, mode: w.mode, uid: 0, gid: 0, mtime: w.mtime },
        Buffer.alloc(0),
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  pack.finalize();
  await collected;
  const all = Buffer.concat(chunks);
  // tar-stream ends the archive with exactly two zero blocks (no record padding)
  return all.subarray(0, all.length - 1024);
}

/** upperTarArgs are GNU tar's arguments for the plan's entries, read as a NUL list on stdin. */
export function upperTarArgs(upper: string): string[] {
  return [
    '--create',
    '--file=-',
    `--blocking-factor=${UPPER_BLOCKING_FACTOR}`,
    '--format=posix',
    '--pax-option=delete=atime,delete=ctime',
    '--numeric-owner',
    '--no-recursion',
    '--xattrs',
    '--xattrs-include=user.*',
    '--xattrs-include=security.capability',
    '--xattrs-exclude=user.overlay.*',
    '--directory',
    upper,
    '--null',
    '--verbatim-files-from',
    '--files-from=-',
  ];
}

/**
 * upperLayerStream opens the layer of `plan` as an uncompressed tar stream: the whiteouts,
 * then GNU tar's archive of the entries (or just the end blocks when there are none).
 * Destroying the stream kills tar; `exited` resolves once it is gone.
 */
export async function upperLayerStream(plan: UpperLayerPlan): Promise<ProgramOutput> {
  const head = await whiteoutHeaders(plan.whiteouts);
  const out = new PassThrough({ highWaterMark: 1 << 20 }) as PassThrough & { exited: Promise<void> };
  if (plan.entries.length === 0) {
    out.end(Buffer.concat([head, Buffer.alloc(1024)]));
    Object.defineProperty(out, 'exited', { value: Promise.resolve() });
    return out;
  }
  const tarOut = spawnPipeline(
    [{ program: 'tar', args: upperTarArgs(plan.upper), what: 'tar of the upper dir' }],
    {
      stdin: true,
    },
  );
  tarOut.stdin!.end(plan.entries.map((e) => `${e}\0`).join(''));
  Object.defineProperty(out, 'exited', { value: tarOut.exited });
  out.write(head);
  const relay = pipeline(tarOut as Readable, out);
  relay.catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  out.on('close', () => tarOut.destroy());
  return out;
}

/**
 * writeUpperLayer writes the layer of `plan` into `fh` (an ingest's data file, empty) with no
 * byte passing through Node: the whiteout headers first, then GNU tar writing to the same open
 * file (it continues at the file offset the headers left). Returns the bytes written.
 */
export async function writeUpperLayer(
  plan: UpperLayerPlan,
  fh: FileHandle,
  signal?: AbortSignal,
): Promise<number> {
  const head = await whiteoutHeaders(plan.whiteouts);
  if (head.length > 0) await fh.write(head, 0, head.length, null);
  if (plan.entries.length === 0) {
    await fh.write(Buffer.alloc(1024), 0, 1024, null);
  } else {
    const tarOut = spawnPipeline(
      [{ program: 'tar', args: upperTarArgs(plan.upper), what: 'tar of the upper dir' }],
      {
        stdin: true,
        stdout: fh.fd,
      },
    );
    const onAbort = () =>
      tarOut.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      tarOut.stdin!.end(plan.entries.map((e) => `${e}\0`).join(''));
      tarOut.resume();
      await finished(tarOut);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      tarOut.destroy();
      await tarOut.exited;
    }
  }
  return (await fh.stat()).size;
}
