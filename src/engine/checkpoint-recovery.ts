/**
 * Interrupted checkpoints, settled at start. A checkpoint is written in place
 * (`<data-root>/containers/<id>/checkpoints/<name>/`) and becomes one when its config.dump is
 * written, last; a daemon killed before that leaves a directory nobody lists and whose name a
 * new checkpoint cannot take. Worse, the dump itself goes on without ckptd: containerd's shim
 * runs `runc checkpoint`, and CRIU finishes it, then (leave-running) freezes the container again
 * as it found it, frozen by ckptd. Thawing such a container while CRIU still works on it would
 * be undone a moment later, so recovery first waits for the processes still working in an
 * interrupted checkpoint's directory to end, then removes the directory; the pause marks are
 * recovered after that (daemon.ts).
 */
import { readdir, readFile, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface CheckpointRecoveryLogger {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

/** holdersOf lists the processes working in dir: named in their command line, or holding a file or cwd under it. */
export async function holdersOf(dir: string, procRoot = '/proc'): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir(procRoot).catch(() => [] as string[])) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    const cmdline = await readFile(join(procRoot, name, 'cmdline'), 'utf8').catch(() => '');
    if (cmdline.split('\0').some((a) => a === dir || a.startsWith(`${dir}/`))) {
      out.push(pid);
      continue;
    }
    const links = [
      await readlink(join(procRoot, name, 'cwd')).catch(() => ''),
      ...(await Promise.all(
        (await readdir(join(procRoot, name, 'fd')).catch(() => [] as string[])).map((fd) =>
          readlink(join(procRoot, name, 'fd', fd)).catch(() => ''),
        ),
      )),
    ];
    if (links.some((l) => l === dir || l.startsWith(`${dir}/`))) out.push(pid);
  }
  return out;
}

/** halfCheckpoints lists the checkpoint directories under containersDir that have no config.dump. */
export async function halfCheckpoints(containersDir: string): Promise<{ id: string; dir: string }[]> {
  const out: { id: string; dir: string }[] = [];
  for (const id of await readdir(containersDir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{64}$/.test(id)) continue;
    const parent = join(containersDir, id, 'checkpoints');
    for (const name of await readdir(parent).catch(() => [] as string[])) {
      const files = await readdir(join(parent, name)).catch(() => undefined);
      if (files !== undefined && !files.includes('config.dump')) out.push({ id, dir: join(parent, name) });
    }
  }
  return out;
}

/**
 * settleInterruptedCheckpoints waits (at most waitMs in all) for the dumps a killed run left
 * going to end, then removes the half checkpoints; returns the removed directories.
 */
export async function settleInterruptedCheckpoints(
  containersDir: string,
  log: CheckpointRecoveryLogger,
  opts: { waitMs?: number; holders?: (dir: string) => Promise<number[]> } = {},
): Promise<string[]> {
  const holders = opts.holders ?? ((d: string) => holdersOf(d));
  const deadline = Date.now() + (opts.waitMs ?? 120_000);
  const removed: string[] = [];
  for (const { id, dir } of await halfCheckpoints(containersDir)) {
    let pids = await holders(dir);
    if (pids.length > 0)
      log.info({ id, dir, pids }, 'recovery: waiting for an interrupted checkpoint’s dump to end');
    while (pids.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      pids = await holders(dir);
    }
    if (pids.length > 0) {
      log.warn(
        { id, dir, pids },
        'recovery: an interrupted checkpoint is still being written: left in place',
      );
      continue;
    }
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  if (removed.length > 0)
    log.info({ checkpoints: removed }, 'recovery: removed checkpoints a previous run left half made');
  return removed;
}
