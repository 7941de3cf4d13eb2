/**
 * Recovery at start: what a daemon killed mid-request (SIGKILL, OOM, power) left behind and
 * nobody else will clean, found and removed before the first request is served, each item logged.
 *  - leases of this data root (withLease labels each with it): a killed commit, import, load or
 *    pull held content and snapshots that would otherwise live until the lease's 24 h expiry;
 *  - temp mounts and directories under `<data-root>/tmp` (rootfs mounts of commit, cp, export);
 *  - containers ckptd froze for a commit, a cp or a leave-running checkpoint (a pause marker):
 *    thawed, unless their user paused them.
 * Checkpoint staging has its own sweep (CheckpointService.clearStaging).
 */
import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mountPointsUnder } from '../host/mountinfo.js';

const execFileP = promisify(execFile);

/** LEASE_DATA_ROOT_LABEL marks the leases of one ckptd data root. */
export const LEASE_DATA_ROOT_LABEL = 'io.ckptd.data-root';

export interface RecoveryLogger {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

export interface RecoveryLeases {
  list(filters?: string[]): Promise<{ id: string; labels?: Record<string, string> }[]>;
  delete(id: string, opts?: { sync?: boolean }): Promise<void>;
}

/** removeOwnLeases deletes the leases a previous run of this data root left (none are live yet). */
export async function removeOwnLeases(
  leases: RecoveryLeases,
  dataRoot: string,
  log: RecoveryLogger,
  /** inUse names the leases this run holds (after a reconnect: only the others are left over). */
  inUse: (id: string) => boolean = () => false,
): Promise<string[]> {
  const own = await leases.list([`labels."${LEASE_DATA_ROOT_LABEL}"==${JSON.stringify(dataRoot)}`]);
  const removed: string[] = [];
  for (const l of own) {
    if (l.labels?.[LEASE_DATA_ROOT_LABEL] !== dataRoot) continue; // the filter is the server's: check again
    if (inUse(l.id)) continue;
    try {
      await leases.delete(l.id, { sync: false });
      removed.push(l.id);
    } catch (err) {
      log.warn({ err, lease: l.id }, 'recovery: cannot delete a lease left by a previous run');
    }
  }
  if (removed.length > 0) log.info({ leases: removed }, 'recovery: deleted leases a previous run left');
  return removed;
}

/** clearTempRoot unmounts (deepest first) what is mounted under dir and empties it. */
export async function clearTempRoot(dir: string, log: RecoveryLogger): Promise<string[]> {
  const under = await mountPointsUnder(dir);
  for (const p of under) {
    await execFileP('umount', [p]).catch(() => execFileP('umount', ['-l', p]).catch(() => undefined));
  }
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names) await rm(join(dir, n), { recursive: true, force: true });
  if (under.length > 0 || names.length > 0)
    log.info(
      { mounts: under, entries: names },
      'recovery: cleared temp mounts and directories a previous run left',
    );
  return under;
}
