/**
 * Checkpoint directories given by a caller (`dir` of the checkpoint routes, `checkpoint-dir` of
 * start, Docker's CheckpointDir) are host paths ckptd writes, reads and deletes as root, and whose
 * files it restores from: they must resolve under the data root or a directory the admin allowed
 * with `--checkpoint-dirs` (config key `checkpoint-dirs`). dockerd takes any directory; ckptd
 * answers 403 for one outside these.
 *
 * The path is resolved as the kernel will use it: `.` and `..` components are refused outright
 * (a lexical `..` after a symlink does not go where it seems), the longest existing prefix is
 * resolved with realpath (symlinks followed), and the rest, which does not exist yet, is appended.
 * The resolved path is what the caller must use afterwards.
 */
import { realpath } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { InvalidArgumentError, PermissionDeniedError } from '../../errors/index.js';

/** realpathPrefix resolves the longest existing prefix of `abs` and appends the rest. */
export async function realpathPrefix(abs: string): Promise<string> {
  const parts = abs.split('/').filter((p) => p !== '');
  for (let i = parts.length; i >= 0; i--) {
    const head = `/${parts.slice(0, i).join('/')}`;
    const real = await realpath(head).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (real !== undefined) return join(real, ...parts.slice(i));
  }
  return abs;
}

function under(p: string, root: string): boolean {
  return root === '/' || p === root || p.startsWith(`${root}/`);
}

/**
 * resolveCheckpointDir returns the real path of a caller's checkpoint directory, or undefined
 * when none was given; 400 when it is not a clean absolute path, 403 when it resolves outside
 * `dataRoot` and `allowed`.
 */
export async function resolveCheckpointDir(
  dir: string | undefined,
  dataRoot: string,
  allowed: readonly string[],
): Promise<string | undefined> {
  if (dir === undefined || dir === '') return undefined;
  if (!isAbsolute(dir) || dir.includes('\0')) {
    throw new InvalidArgumentError(`checkpoint directory must be an absolute path: ${JSON.stringify(dir)}`);
  }
  if (dir.split('/').some((p) => p === '..' || p === '.')) {
    throw new InvalidArgumentError(
      `checkpoint directory must not contain "." or ".." components: ${JSON.stringify(dir)}`,
    );
  }
  const real = await realpathPrefix(dir);
  const roots = await Promise.all([dataRoot, ...allowed].map((r) => realpathPrefix(r)));
  if (!roots.some((r) => under(real, r))) {
    throw new PermissionDeniedError(
      `checkpoint directory ${JSON.stringify(dir)} is not allowed: it must be under the data root ` +
        `(${dataRoot})${allowed.length > 0 ? ` or one of --checkpoint-dirs (${allowed.join(', ')})` : ' or a directory given with --checkpoint-dirs'}`,
    );
  }
  return real;
}
