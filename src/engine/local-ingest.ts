/**
 * Direct writes into a local containerd content store's ingest (containerd 1.6
 * `content/local/store.go`, `writer.go`): when the containerd in use keeps its content store on
 * this host (Introspection names its root and the ingest is found there), a pulled layer's bytes
 * go to the ingest's `data` file with plain file writes instead of crossing Content.Write as
 * gRPC messages. containerd stays the authority on the blob: the ingest is opened (and locked)
 * through Content.Write, and committed through Content.Write after a resume, which makes
 * containerd re-read and hash the data file; the commit checks the expected size and digest.
 *
 * Layout: `<root>/ingest/<sha256(key)>/{ref,data,startedat,updatedat,total}`, where `key` is the
 * metadata store's backend ref `<namespace>-<sequence>-<ref>` (metadata/content.go createKey),
 * written in the `ref` file: the ingest is only used when that file names exactly this ref.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** LocalIngest is an ingest's `data` file opened for writing. */
export interface LocalIngest {
  /** path of the data file. */
  path: string;
  /** fh is the data file, opened write-only, no-follow. */
  fh: FileHandle;
  /** size of the data file when opened. */
  size: number;
}

/**
 * isBackendRef: `content` is the metadata store's key of `ref` in `namespace`, `<ns>/<seq>/<ref>`
 * (containerd 1.6 metadata/content.go createKey; older releases joined with `-`).
 */
function isBackendRef(content: string, namespace: string, ref: string): boolean {
  for (const sep of ['/', '-']) {
    const prefix = `${namespace}${sep}`;
    if (!content.startsWith(prefix) || !content.endsWith(`${sep}${ref}`)) continue;
    const seq = content.slice(prefix.length, content.length - ref.length - 1);
    if (/^[0-9]+$/.test(seq)) return true;
  }
  return false;
}

async function readRef(dir: string): Promise<string | undefined> {
  try {
    return await readFile(join(dir, 'ref'), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * findIngestDir finds the ingest directory of `ref` (as opened in `namespace`) under a content
 * store root: first the usual first sequence number, then a scan of the ingest directory.
 */
export async function findIngestDir(
  contentRoot: string,
  namespace: string,
  ref: string,
): Promise<string | undefined> {
  const ingest = join(contentRoot, 'ingest');
  const dirOf = (key: string): string => join(ingest, createHash('sha256').update(key).digest('hex'));
  for (const key of [`${namespace}/1/${ref}`, `${namespace}-1-${ref}`]) {
    const first = dirOf(key);
    if ((await readRef(first)) === key) return first;
  }
  let names: string[];
  try {
    names = await readdir(ingest);
  } catch {
    return undefined;
  }
  for (const n of names) {
    if (!/^[0-9a-f]{64}$/.test(n)) continue;
    const dir = join(ingest, n);
    const content = await readRef(dir);
    if (content !== undefined && isBackendRef(content, namespace, ref) && dirOf(content) === dir) return dir;
  }
  return undefined;
}

/**
 * openLocalIngest opens the data file of `ref`'s ingest for writing when it is found and holds
 * exactly `offset` bytes (what containerd reported for the open ingest); undefined otherwise, and
 * the caller writes over gRPC.
 */
export async function openLocalIngest(
  contentRoot: string,
  namespace: string,
  ref: string,
  offset: number,
): Promise<LocalIngest | undefined> {
  const dir = await findIngestDir(contentRoot, namespace, ref);
  if (dir === undefined) return undefined;
  const path = join(dir, 'data');
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_WRONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size !== offset) {
      await fh.close();
      return undefined;
    }
    return { path, fh, size: st.size };
  } catch {
    await fh.close().catch(() => undefined);
    return undefined;
  }
}
