import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** TEMP_PREFIX starts the name of a file writeFileAtomic has not yet renamed into place. */
export const TEMP_PREFIX = '.tmp-';

/**
 * writeFileAtomic replaces path with data so that a crash at any point leaves either the old
 * file or the new one, never a torn one (moby's ioutils.AtomicWriteFile): the bytes go to a temp
 * file in the same directory, are fsynced, renamed over path, and the directory is fsynced so
 * the rename itself is durable. A leftover temp file (crash before the rename) starts with
 * TEMP_PREFIX; readers ignore such names.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `${TEMP_PREFIX}${basename(path)}-${randomBytes(4).toString('hex')}`);
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
