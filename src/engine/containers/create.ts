/**
 * Container create (moby `daemon/create.go`): the request is checked field by field before any
 * work, the name reserved, the etc files, bind sources and volumes made, the init layer and
 * rootfs snapshot prepared, the runtime spec built, and the record and the containerd container
 * written; a failure undoes what was made.
 */
import { execFile } from 'node:child_process';
import { access, mkdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Mount as CtdMount } from '../../containerd/index.js';
import { packSpec } from '../../containerd/index.js';
import {
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  isEngineError,
  wrapError,
} from '../../errors/index.js';
import { writeFileAtomic } from '../../host/atomic-write.js';
import { makeTempDir } from '../../host/temp-dirs.js';
import { mergeContainerConfig, processArgs } from '../../oci/container-config.js';
import { recordedPaths, type ConfinementRequest } from '../../oci/confinement.js';
import { checkCreateRequest, checkPlatform } from '../../oci/create-fields.js';
import { createOptions, type CreateOptions } from '../../oci/create-options.js';
import { LABEL_IMAGE_REF, LABEL_NAME } from '../../oci/labels.js';
import { checkBindSources } from '../../oci/mounts.js';
import { generateContainerId } from '../../oci/names.js';
import { applyNamespaceModes, containerOf } from '../../oci/namespaces.js';
import {
  DEFAULT_INIT_BINARY,
  additionalGroups,
  applyInit,
  groupAddNeedsFile,
} from '../../oci/process-options.js';
import { resolvConf, type DnsOptions } from '../../oci/resolv-conf.js';
import { resourcesForCreate, type ResourceHost } from '../../oci/resources.js';
import {
  DEFAULT_SHM_SIZE,
  buildRuntimeSpec,
  execUserFromFiles,
  parseBind,
  userResolverFromFiles,
  type RuntimeSpec,
  type UserResolver,
} from '../../oci/runtime-spec.js';
import { confinementHost } from '../confinement-host.js';
import { validateHealthConfig } from '../health/health-state.js';
import { hostDevices, readHostSysInfo } from '../host-resources.js';
import { commitInitLayer, initEntriesFor, prepareInitLayer, removeInitLayer } from '../init-layer.js';
import { checkAutoRemove, restartPolicyOf } from '../restart-manager.js';
import { mountArgs, readOnlyOptions, unmount } from '../rootfs.js';
import {
  copyUp,
  createVolumes,
  removeAnonymous,
  volumeRequests,
  volumeSpecMounts,
  type VolumeMountPoint,
} from '../volumes/mounts.js';
import { checkWorkingDir, needsWorkdirCheck } from '../workdir.js';
import { ZERO_TIME, extraHosts, lookupContainer, parseNetworkMode, parseSignal } from './shape.js';
import { shmPathOf } from './shared-namespaces.js';
import { isNotFound } from './store.js';
import {
  RUNC_RUNTIME,
  type ContainerDeps,
  type ContainerRecord,
  type CreateContainerRequest,
  type CreateContainerResponse,
  type HostConfig,
  type ResolvedImage,
  type RunState,
} from './types.js';

const execFileP = promisify(execFile);

const resourceHosts = new WeakMap<object, ResourceHost>();

/**
 * resourceHost is what the host's cgroups enforce and its device lookups (the settings' own,
 * else this host's, read once per daemon).
 */
export function resourceHost(d: ContainerDeps): ResourceHost {
  let h = resourceHosts.get(d.settings);
  if (h === undefined) {
    h = d.settings.resourceHost ?? { sys: readHostSysInfo(), devices: hostDevices };
    resourceHosts.set(d.settings, h);
  }
  return h;
}

/** containerCreate creates a container (moby `ContainerCreate`); see ContainersBackend. */
export async function containerCreate(
  d: ContainerDeps,
  name: string | undefined,
  req: CreateContainerRequest,
  signal?: AbortSignal,
  platform?: string,
): Promise<CreateContainerResponse> {
  if (req === null || typeof req !== 'object')
    throw new InvalidArgumentError('config cannot be empty in order to create a container');
  const imageRef = typeof req.Image === 'string' ? req.Image : '';
  if (imageRef === '') throw new InvalidArgumentError('No image specified');
  checkCreateRequest(req as Record<string, unknown>);
  checkPlatform(platform);
  const hostConfig: HostConfig = { ...(req.HostConfig ?? {}) };
  checkAutoRemove(hostConfig.AutoRemove, hostConfig.RestartPolicy);
  const restartPolicy = restartPolicyOf(hostConfig.RestartPolicy);
  const networkMode = parseNetworkMode(hostConfig.NetworkMode);
  if (req.NetworkDisabled === true && networkMode === 'host') {
    throw new InvalidArgumentError('NetworkDisabled: cannot be combined with NetworkMode host');
  }
  for (const b of hostConfig.Binds ?? []) parseBind(b); // 400 before any work
  if (typeof req.StopSignal === 'string' && req.StopSignal !== '') parseSignal(req.StopSignal);
  validateHealthConfig(req.Healthcheck);
  const opts = createOptions(
    req as Parameters<typeof createOptions>[0],
    networkMode,
    d.settings.cgroupVersion ?? 2,
  );
  const volumeReqs = volumeRequests(
    hostConfig.Binds ?? [],
    opts.mounts,
    hostConfig.Tmpfs as Record<string, unknown> | null | undefined,
    { ...(req.Volumes ?? {}) },
  );
  if (volumeReqs.length > 0 && d.volumes === undefined)
    throw new InvalidArgumentError('HostConfig.Binds: volumes are not available (no volume store)');
  const mkdirs = await checkBindSources(opts.mounts, (p) =>
    stat(p).then(
      () => true,
      () => false,
    ),
  );
  if (opts.init) {
    await access(DEFAULT_INIT_BINARY).catch(() => {
      throw new InvalidArgumentError(
        `HostConfig.Init: docker-init is not installed on this host (${DEFAULT_INIT_BINARY}, Debian package tini)`,
      );
    });
  }
  await adaptSharedNamespaces(d, opts, signal);
  const resources = resourcesForCreate(hostConfig, resourceHost(d));

  let image: ResolvedImage;
  try {
    image = await d.images.resolveImage(imageRef, signal);
  } catch (err) {
    if (isNotFound(err)) throw new NotFoundError(`No such image: ${imageRef}`, { cause: err });
    throw err;
  }

  const { HostConfig: _h, NetworkingConfig: _n, Image: _i, StopTimeout, ...configReq } = req;
  const merged = mergeContainerConfig(configReq, image.config.config);
  validateHealthConfig(merged.Healthcheck, "Healthcheck (with the image's HEALTHCHECK)");
  const id = generateContainerId();
  const chosen = await d.store.reserveName(name, id, signal);
  const dir = d.store.dir(id);
  let snapshotPrepared = false;
  let volumePoints: VolumeMountPoint[] = [];
  try {
    if (networkMode === 'host' && !merged.Hostname) merged.Hostname = osHostname();
    if (!merged.Hostname) merged.Hostname = id.slice(0, 12);
    const config = {
      ...merged,
      Image: imageRef,
      ...(typeof StopTimeout === 'number' ? { StopTimeout } : {}),
    } as ContainerRecord['Config'];
    const hc: ContainerRecord['HostConfig'] = {
      ...hostConfig,
      ...resources.record,
      NetworkMode: networkMode,
      Binds: hostConfig.Binds ?? null,
      AutoRemove: hostConfig.AutoRemove === true,
      ReadonlyRootfs: hostConfig.ReadonlyRootfs === true,
      RestartPolicy: restartPolicy,
      ...opts.modes,
      ShmSize: hostConfig.ShmSize || DEFAULT_SHM_SIZE,
    };
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const etc = await writeEtcFiles(
      dir,
      merged.Hostname,
      networkMode,
      extraHosts(hostConfig.ExtraHosts),
      opts.dns,
    );
    await ensureBindSources(hc.Binds ?? []);
    for (const p of mkdirs) await mkdir(p, { recursive: true });
    // the image's VOLUMEs too (merged Config.Volumes), where the user mounted nothing else
    if (d.volumes !== undefined) {
      const reqs = volumeRequests(
        hostConfig.Binds ?? [],
        opts.mounts,
        hostConfig.Tmpfs as Record<string, unknown> | null | undefined,
        merged.Volumes,
      );
      volumePoints = await createVolumes(d.volumes, reqs);
    }

    await d.client.withLease(
      async (ctx) => {
        const parent = await d.images.ensureUnpacked(image, signal);
        const sn = d.client.snapshots(d.settings.snapshotter);
        // the init layer (dockerd's `-init`) while it is written: the image's content
        snapshotPrepared = true;
        const mounts = await prepareInitLayer(sn, id, parent, ctx);
        const resolveUser = await userResolver(merged.User, mounts, merged.WorkingDir);
        const groupAdd = await groupAddOf(opts, mounts);
        const volumes = d.volumes;
        if (volumes !== undefined && volumePoints.some((p) => p.CopyData)) {
          for (const p of volumePoints) await volumes.ensureMounted(p.Name);
          await inRootfs(mounts, (root) => copyUp(volumes, root, volumePoints));
        }
        const spec = buildRuntimeSpec({
          id,
          config: merged,
          hostConfig: hc,
          networkMode,
          namespace: d.settings.namespace,
          cgroupVersion: d.settings.cgroupVersion ?? 2,
          etcFiles: etc,
          ...(annotations(hc.Annotations) ? { annotations: annotations(hc.Annotations) } : {}),
          ...(resolveUser ? { resolveUser } : {}),
          ...(Array.isArray(req.ConsoleSize) ? { consoleSize: req.ConsoleSize as [number, number] } : {}),
          groupAdd,
          resources: resources.spec,
          confinementHost: await confinementHost(hc.Privileged === true),
          volumeMounts: volumeSpecMounts(volumePoints),
        });
        Object.assign(hc, recordedPaths(hc as ConfinementRequest, spec)); // the paths in force, as dockerd
        // the default only: a --ulimit nofile the host cannot grant fails the start, as with dockerd
        if (!resources.record.Ulimits.some((u) => u.Name === 'nofile'))
          clampRlimits(spec, await hostNofileLimit());
        applyNamespaceModes(spec, opts.modes, shmPathOf(dir));
        // Path and Args stay the user's command; the init wraps it (moby)
        const args = processArgs(merged.Entrypoint, merged.Cmd);
        if (opts.init) applyInit(spec);
        const initLayer = await commitInitLayer(sn, id, mounts, await initEntriesFor(spec.mounts ?? []), ctx);
        await sn.prepare(id, initLayer, {}, ctx);
        const record: ContainerRecord = {
          Id: id,
          Name: chosen,
          Created: new Date().toISOString(),
          Path: args[0] ?? '',
          Args: args.slice(1),
          Config: config,
          HostConfig: hc,
          Image: image.id,
          Driver: d.settings.snapshotter,
          Platform: 'linux',
          ResolvConfPath: etc.resolvConf,
          HostnamePath: etc.hostname,
          HostsPath: etc.hosts,
          ...(volumePoints.length > 0 ? { MountPoints: volumePoints } : {}),
        };
        const state: RunState = {
          StartedAt: ZERO_TIME,
          FinishedAt: ZERO_TIME,
          ExitCode: 0,
          Error: '',
          Running: false,
        };
        await writeFileAtomic(join(dir, 'config.json'), JSON.stringify(record));
        await writeFileAtomic(join(dir, 'state.json'), JSON.stringify(state));
        const labels: Record<string, string> = {
          ...merged.Labels,
          [LABEL_NAME]: chosen,
          [LABEL_IMAGE_REF]: imageRef,
        };
        await d.client.containers.create(
          {
            id,
            labels,
            image: image.names[0] ?? imageRef,
            runtime: { name: RUNC_RUNTIME, options: null },
            spec: packSpec(spec),
            snapshotter: d.settings.snapshotter,
            snapshot_key: id,
          },
          ctx,
        );
        d.store.add(id, { record, state, removing: false });
      },
      signal ? { ctx: { signal } } : {},
    );
  } catch (err) {
    if (snapshotPrepared) {
      const sn = d.client.snapshots(d.settings.snapshotter);
      await sn.remove(id).catch(() => undefined);
      await removeInitLayer(sn, id).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
    d.store.forget(id);
    if (d.volumes !== undefined) await removeAnonymous(d.volumes, volumePoints);
    throw isEngineError(err) ? err : wrapError('create container', err);
  } finally {
    d.store.releaseName(chosen);
  }
  return { Id: id, Warnings: resources.warnings };
}

async function writeEtcFiles(
  dir: string,
  hostname: string,
  networkMode: 'none' | 'host',
  extra: readonly [string, string][] = [],
  dns: DnsOptions = { dns: [], search: [], options: [] },
): Promise<{ hostname: string; hosts: string; resolvConf: string }> {
  const paths = {
    hostname: join(dir, 'hostname'),
    hosts: join(dir, 'hosts'),
    resolvConf: join(dir, 'resolv.conf'),
  };
  await writeFile(paths.hostname, `${hostname}\n`);
  let hosts =
    '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n' +
    'ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
  if (networkMode === 'host') {
    hosts = await readFile('/etc/hosts', 'utf8').catch(() => hosts);
  }
  // `--add-host name:ip`, one line each after the defaults, as dockerd writes them
  for (const [name, ip] of extra)
    hosts += `${hosts.endsWith('\n') || hosts === '' ? '' : '\n'}${ip}\t${name}\n`;
  await writeFile(paths.hosts, hosts);
  // like dockerd: a loopback resolver of the host is unreachable from another network namespace
  const hostResolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  await writeFile(paths.resolvConf, resolvConf(hostResolv, dns, networkMode !== 'host'));
  return paths;
}

export async function ensureBindSources(binds: readonly string[]): Promise<void> {
  for (const b of binds) {
    const { source, volume } = parseBind(b);
    if (volume !== undefined) continue;
    // dockerd creates a missing bind source as a directory; an existing file is bound as is
    const found = await stat(source).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (found === undefined) await mkdir(source, { recursive: true });
  }
}

/**
 * adaptSharedNamespaces names the container of a `container:<name>` IpcMode or PidMode by its
 * ID, so renaming it keeps the link (moby adaptSharedNamespaceContainer); an unknown one is
 * left as given and refused when this container starts.
 */
async function adaptSharedNamespaces(
  d: ContainerDeps,
  opts: CreateOptions,
  signal?: AbortSignal,
): Promise<void> {
  const views = await d.store.views(signal);
  for (const field of ['IpcMode', 'PidMode'] as const) {
    const ref = containerOf(opts.modes[field]);
    if (ref === undefined) continue;
    try {
      opts.modes[field] = `container:${lookupContainer(views, ref).id}`;
    } catch {
      // resolved again at start, where a missing container is an error
    }
  }
}

/** groupAddOf resolves HostConfig.GroupAdd against the image's /etc/group (names only need it). */
async function groupAddOf(opts: CreateOptions, mounts: CtdMount[]): Promise<number[]> {
  if (opts.groupAdd.length === 0) return [];
  const group = groupAddNeedsFile(opts.groupAdd)
    ? await inRootfs(mounts, (root) => readFile(join(root, 'etc/group'), 'utf8').catch(() => undefined))
    : undefined;
  return additionalGroups(opts.groupAdd, group);
}

/**
 * prepareNamespaces readies what a start needs for the container's IPC and PID modes, as
 * moby's setupIpcDirs and WithNamespaces do at each start: a `shareable` container gets its
 * host /dev/shm tmpfs mounted; a `container:<id>` mode needs that container running (and, for
 * IPC, shareable) and the stored spec is pointed at its namespaces and /dev/shm.

/**
 * userResolver returns a resolver reading the image's /etc/passwd and /etc/group when User
 * names a user or group (numbers and '' need no files). The rootfs is mounted read-only for
 * a moment, as containerd's `oci.WithUser` does. In the same mount it refuses a `workdir`
 * that is not a directory, as dockerd does at create (`SetupWorkingDirectory`).
 */
async function userResolver(
  user: string,
  mounts: CtdMount[],
  workdir = '',
): Promise<UserResolver | undefined> {
  const [u = '', g = ''] = user.split(':');
  const numeric = (s: string) => s === '' || /^\d+$/.test(s);
  if (user === '' || (numeric(u) && numeric(g))) {
    // dockerd refuses a WorkingDir that is a file at create (one mount for both checks)
    if (needsWorkdirCheck(workdir)) await inRootfs(mounts, (root) => checkWorkingDir(root, workdir));
    // root's supplementary groups need /etc/group only for named users; numbers resolve alone
    if (user === '') return undefined;
    return (spec) => execUserFromFiles(spec);
  }
  const files = await inRootfs(mounts, async (root) => {
    if (needsWorkdirCheck(workdir)) await checkWorkingDir(root, workdir);
    return Promise.all(
      ['etc/passwd', 'etc/group'].map((p) => readFile(join(root, p), 'utf8').catch(() => undefined)),
    );
  });
  return userResolverFromFiles({
    ...(files[0] !== undefined ? { passwd: files[0] } : {}),
    ...(files[1] !== undefined ? { group: files[1] } : {}),
  });
}

/** inRootfs runs fn with the container's rootfs mounted read-only at a temporary directory. */
async function inRootfs<T>(mounts: CtdMount[], fn: (root: string) => Promise<T>): Promise<T> {
  const m = mounts[0];
  if (m === undefined || mounts.length !== 1)
    throw new InternalError('cannot read the image rootfs: unexpected mounts');
  const target = await makeTempDir('ckptd-rootfs-');
  try {
    const options = readOnlyOptions(m.options);
    if (m.type === 'bind') options.push('bind');
    await execFileP('mount', mountArgs(m, options, target));
    try {
      return await fn(target);
    } finally {
      await unmount(target);
    }
  } finally {
    await rmdir(target).catch(() => undefined);
  }
}

let nofileLimit: Promise<number | undefined> | undefined;

/** hostNofileLimit reads ckptd's own hard RLIMIT_NOFILE (what runc may grant without CAP_SYS_RESOURCE). */
function hostNofileLimit(): Promise<number | undefined> {
  nofileLimit ??= readFile('/proc/self/limits', 'utf8').then(
    (t) => {
      const m = /^Max open files\s+\S+\s+(\d+|unlimited)/m.exec(t);
      return m?.[1] === undefined || m[1] === 'unlimited' ? undefined : Number(m[1]);
    },
    () => undefined,
  );
  return nofileLimit;
}

/**
 * clampRlimits lowers the spec's RLIMIT_NOFILE to the host's hard limit: runc cannot raise a
 * hard limit in a user namespace or sandbox without CAP_SYS_RESOURCE, and dockerd likewise
 * inherits its own limits rather than failing.
 */
export function clampRlimits(spec: RuntimeSpec, hardLimit: number | undefined): void {
  if (hardLimit === undefined) return;
  for (const r of spec.process.rlimits) {
    if (r.type === 'RLIMIT_NOFILE') {
      r.hard = Math.min(r.hard, hardLimit);
      r.soft = Math.min(r.soft, hardLimit);
    }
  }
}

/** annotations returns HostConfig.Annotations when it is a string map (400 otherwise). */
function annotations(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw new InvalidArgumentError('HostConfig.Annotations: must be a map of strings');
  }
  return v as Record<string, string>;
}
