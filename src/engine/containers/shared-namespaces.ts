/**
 * The IPC and PID namespaces a container shares at start (moby `setupIpcDirs`,
 * `WithNamespaces`): the /dev/shm tmpfs of a `shareable` container, and the namespaces and
 * /dev/shm of the running container a `container:<id>` mode joins.
 */
import { execFile } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packSpec } from '../../containerd/index.js';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../errors/index.js';
import { userMountsDevShm } from '../../oci/create-options.js';
import { containerOf, HOST_SHM, joinNamespaces, type JoinTargets } from '../../oci/namespaces.js';
import { DEFAULT_SHM_SIZE, type RuntimeSpec } from '../../oci/runtime-spec.js';
import { unmount } from '../rootfs.js';
import { isRunning, lookupContainer, recordOf, specOf } from './shape.js';
import { isNotFound } from './store.js';
import type { ContainerDeps, ContainerRecord, ContainerView } from './types.js';

const execFileP = promisify(execFile);

/**
 * prepareNamespaces readies what a start needs for the container's IPC and PID modes, as
 * moby's setupIpcDirs and WithNamespaces do at each start: a `shareable` container gets its
 * host /dev/shm tmpfs mounted; a `container:<id>` mode needs that container running (and, for
 * IPC, shareable) and the stored spec is pointed at its namespaces and /dev/shm.
 */
export async function prepareNamespaces(
  d: ContainerDeps,
  v: ContainerView,
  r: ContainerRecord,
): Promise<void> {
  const hc = r.HostConfig;
  const ipcMode = typeof hc.IpcMode === 'string' ? hc.IpcMode : '';
  if (ipcMode === 'shareable' && !userMountsDevShm(hc)) {
    await mountShm(
      shmPathOf(d.store.dir(v.id)),
      typeof hc.ShmSize === 'number' ? hc.ShmSize : DEFAULT_SHM_SIZE,
    );
  }
  const targets: JoinTargets = {};
  const ipcRef = containerOf(ipcMode);
  if (ipcRef !== undefined) {
    const what = `can't join IPC of container ${ipcRef}`;
    const donor = await runningDonor(d, ipcRef, what);
    const dhc = recordOf(donor).HostConfig;
    const dMode = typeof dhc.IpcMode === 'string' ? dhc.IpcMode : '';
    let shmPath: string | undefined;
    if (dMode === 'shareable' && !userMountsDevShm(dhc)) shmPath = shmPathOf(d.store.dir(donor.id));
    else if (dMode === 'host') shmPath = HOST_SHM;
    else if (containerOf(dMode) !== undefined) {
      const m = specOf(donor).mounts?.find((x) => x.destination === '/dev/shm' && x.type === 'bind');
      shmPath = m?.source;
    }
    if (shmPath === undefined) {
      throw new InvalidArgumentError(
        `${what}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`,
      );
    }
    targets.ipc = { pid: donor.task?.pid ?? 0, shmPath, ownShm: !userMountsDevShm(hc) };
  }
  const pidRef = containerOf(typeof hc.PidMode === 'string' ? hc.PidMode : '');
  if (pidRef !== undefined) {
    const donor = await runningDonor(d, pidRef, `cannot join PID of a non running container: ${pidRef}`);
    targets.pid = { pid: donor.task?.pid ?? 0 };
  }
  if (targets.ipc === undefined && targets.pid === undefined) return;
  const spec = joinNamespaces(specOf(v) as RuntimeSpec, targets);
  await d.client.containers.update({ ...v.container, spec: packSpec(spec) }, ['spec']);
}

/** runningDonor finds the running container whose namespace another joins (404 / 409 otherwise). */
async function runningDonor(d: ContainerDeps, ref: string, what: string): Promise<ContainerView> {
  let donor: ContainerView;
  try {
    donor = lookupContainer(await d.store.views(), ref);
  } catch (err) {
    if (isNotFound(err)) throw new NotFoundError(`${what}: No such container: ${ref}`, { cause: err });
    throw err;
  }
  if (!isRunning(donor) || donor.task === undefined || donor.task.pid <= 0) {
    throw new ConflictError(`${what}: container ${donor.id} is not running`);
  }
  return donor;
}

/** shmPathOf is the host directory of a shareable container's /dev/shm (moby `mounts/shm`). */
export function shmPathOf(dir: string): string {
  return join(dir, 'mounts', 'shm');
}

async function isMountpoint(path: string): Promise<boolean> {
  const [st, parent] = await Promise.all([stat(path), stat(join(path, '..'))]);
  return st.dev !== parent.dev;
}

/** mountShm mounts the tmpfs of a shareable /dev/shm once (moby setupIpcDirs). */
async function mountShm(path: string, size: number): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  if (await isMountpoint(path)) return;
  await execFileP('mount', ['-t', 'tmpfs', '-o', `nosuid,nodev,noexec,mode=1777,size=${size}`, 'shm', path]);
}

/** unmountShm unmounts a shareable /dev/shm if mounted (lazily when busy). */
export async function unmountShm(path: string): Promise<void> {
  const mounted = await isMountpoint(path).catch(() => false);
  if (mounted) await unmount(path);
}
