/**
 * Container top and stats (moby `daemon/{top_unix,stats}.go`): `ps` over the host's processes
 * filtered to the task's pids, and cgroup samples a second apart as `docker stats` shows them.
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ConflictError, InternalError, InvalidArgumentError } from '../../errors/index.js';
import { dockerStats, readCgroupSample } from '../stats.js';
import { isRunning, parsePsOutput, specOf, type ContainerTop } from './shape.js';
import type { ContainerDeps } from './types.js';

const execFileP = promisify(execFile);

/** containerTop lists the container's processes as `ps psArgs` shows them (see ContainersBackend). */
export async function containerTop(d: ContainerDeps, ref: string, psArgs = '-ef'): Promise<ContainerTop> {
  const args = psArgs.split(/[ \t]+/).filter((a) => a !== '');
  if (args.some((a) => a.startsWith('-') && a.includes('q'))) {
    throw new InvalidArgumentError('ps "-q" is not supported');
  }
  const v = await d.store.find(ref);
  if (!isRunning(v)) throw new ConflictError(`Container ${v.id} is not running`);
  const pids = new Set((await d.client.tasks.listPids(v.id)).map((p) => p.pid));
  let stdout: string;
  try {
    ({ stdout } = await execFileP('/bin/ps', args, { maxBuffer: 64 * 1024 * 1024, env: { LC_ALL: 'C' } }));
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new InternalError(`Error running ps: ${stderr || (err as Error).message}`);
  }
  return parsePsOutput(stdout, pids);
}

/** containerStats yields `docker stats` objects (see ContainersBackend). */
export async function* containerStats(
  d: ContainerDeps,
  ref: string,
  opts: { stream: boolean; oneShot: boolean },
  signal?: AbortSignal,
): AsyncGenerator<Record<string, unknown>> {
  const v = await d.store.find(ref, signal);
  const path = specOf(v).linux?.cgroupsPath;
  // a systemd-style path (slice:prefix:name) is not a directory: no numbers for it
  const layout =
    typeof path === 'string' && path.startsWith('/')
      ? { version: d.settings.cgroupVersion ?? 2, path }
      : undefined;
  const sample = async () => {
    const s = layout && (await readCgroupSample(layout));
    return s ? { at: new Date(), s } : undefined;
  };
  let pre = isRunning(v) ? await sample() : undefined;
  if (pre === undefined || (!opts.stream && opts.oneShot)) {
    yield dockerStats(v.id, v.name, pre);
    return;
  }
  if (opts.stream) yield dockerStats(v.id, v.name, pre);
  for (;;) {
    try {
      await sleepFor(1000, undefined, signal ? { signal } : {});
    } catch {
      return; // the client is gone
    }
    const cur = await sample();
    if (cur === undefined) return; // the container stopped
    yield dockerStats(v.id, v.name, cur, pre);
    if (!opts.stream) return;
    pre = cur;
  }
}
