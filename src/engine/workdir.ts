/**
 * The working directory check dockerd makes when it creates a container (moby
 * `container.SetupWorkingDirectory`, called from `createContainerVolumesOS`): a WorkingDir that
 * names something other than a directory in the image is refused at create, before any start.
 */
import { lstat } from 'node:fs/promises';
import { ScopedRoot, at } from '../archive/scoped-fs.js';
import { InternalError } from '../errors/index.js';

/** needsWorkdirCheck tells whether a WorkingDir can name something that is not a directory. */
export function needsWorkdirCheck(workdir: string): boolean {
  return workdir.split('/').some((c) => c !== '' && c !== '.');
}

/**
 * checkWorkingDir refuses, with dockerd's words (a 500, as dockerd answers), a WorkingDir that
 * resolves (symlinks followed inside `rootfs`, as FollowSymlinkInScope) to an existing entry
 * that is not a directory. A missing one is fine: the runtime creates it.
 */
export async function checkWorkingDir(rootfs: string, workdir: string): Promise<void> {
  const root = await ScopedRoot.open(rootfs);
  try {
    let isFile = false;
    try {
      const r = await root.resolve(workdir, { followFinal: true });
      try {
        const st = await lstat(at(r.dirFd, r.name)).catch(() => undefined);
        isFile = st !== undefined && !st.isDirectory() && r.name !== '';
      } finally {
        await r.close();
      }
    } catch {
      return; // a component missing or not a directory on the way: the runtime reports it
    }
    if (isFile) throw new InternalError(`Cannot mkdir: ${workdir} is not a directory`);
  } finally {
    await root.close();
  }
}
