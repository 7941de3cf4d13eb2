import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let root: string | undefined;

/**
 * useTempRoot makes makeTempDir create its directories under dir (ckptd: `<data-root>/tmp`, so
 * that what a killed daemon left mounted there is its own to clean at the next start, and never
 * another instance's). Before it is called: the OS temp dir.
 */
export async function useTempRoot(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  root = dir;
}

/** tempRoot is where makeTempDir creates directories. */
export function tempRoot(): string {
  return root ?? tmpdir();
}

/** makeTempDir creates a fresh 0700 directory `<prefix>XXXXXX` under the temp root. */
export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tempRoot(), prefix));
}
