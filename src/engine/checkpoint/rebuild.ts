/**
 * Rebuilding a container from a checkpoint's metadata: config.dump names the base image,
 * ckptd.dump (or, for a Podman archive, spec.dump's process fields) the Docker config; the host
 * settings are never the checkpoint's (rule 2: data is never authority) but those ckptd recorded
 * for the source container, or an import's defaults, under the caller's HostConfig.
 */
import { join } from 'node:path';
import { parseDeletedFiles } from '../../archive/checkpoint-archive.js';
import { InvalidArgumentError, NotFoundError, isEngineError } from '../../errors/index.js';
import { isZero } from '../../oci/create-fields.js';
import type {
  ContainerInspect,
  CreateContainerRequest,
  CreateContainerResponse,
} from '../containers/index.js';
import {
  importVolumes,
  parseCheckpointVolumes,
  removeVolumes,
  type ImportedVolumes,
} from '../volumes/checkpoint-volumes.js';
import {
  CHECKPOINT_IMAGES_DIR,
  CKPTD_DUMP,
  CONFIG_DUMP,
  DELETED_FILES,
  INVENTORY_IMG,
  SPEC_DUMP,
  exists,
  readBounded,
  type CkptdDump,
  type ConfigDump,
} from './layout.js';
import type { CheckpointContext, RestoreOptions } from './types.js';

/**
 * createNew checks an unpacked checkpoint's metadata, finds its base image here and creates
 * the new container from it (createRequest); nothing of the checkpoint is applied yet.
 */
export async function createNew(
  ctx: CheckpointContext,
  ckDir: string,
  opts: RestoreOptions,
  source: ContainerInspect | undefined,
  signal?: AbortSignal,
): Promise<{
  id: string;
  image: string;
  from: string;
  deleted: string[];
  volumes: ImportedVolumes['created'];
}> {
  const configText = await readBounded(join(ckDir, CONFIG_DUMP));
  if (configText === undefined)
    throw new InvalidArgumentError(`invalid checkpoint: ${CONFIG_DUMP} is missing`);
  let config: Partial<ConfigDump>;
  try {
    config = JSON.parse(configText) as Partial<ConfigDump>;
  } catch (err) {
    throw new InvalidArgumentError(`invalid checkpoint: ${CONFIG_DUMP}: ${(err as Error).message}`);
  }
  if (config === null || typeof config !== 'object')
    throw new InvalidArgumentError(`invalid checkpoint: ${CONFIG_DUMP} is not an object`);
  if (
    config.runtime !== undefined &&
    config.runtime !== 'runc' &&
    config.runtime !== 'io.containerd.runc.v2'
  ) {
    throw new InvalidArgumentError(
      `checkpoint was taken with runtime ${String(config.runtime)} and cannot be restored with runc`,
    );
  }
  const docker = await readCkptdDump(ckDir);
  const deleted = parseDeletedFiles((await readBounded(join(ckDir, DELETED_FILES))) ?? '[]');
  if (!(await exists(join(ckDir, CHECKPOINT_IMAGES_DIR, INVENTORY_IMG)))) {
    throw new InvalidArgumentError(
      `invalid checkpoint: ${CHECKPOINT_IMAGES_DIR}/${INVENTORY_IMG} is missing`,
    );
  }

  // The base image must exist here: resolve by ID first (a tag may have moved), then by name.
  const imageName = str(config.rootfsImageName) || str(docker?.Config.Image);
  const podmanId = /^[0-9a-f]{64}$/.test(str(config.rootfsImageID))
    ? `sha256:${str(config.rootfsImageID)}`
    : '';
  const imageId = str(config.rootfsImageRef) || str(config.rootfsImage) || podmanId || str(docker?.Image);
  let image: string | undefined;
  for (const candidate of [imageId, imageName]) {
    if (!candidate) continue;
    try {
      const found = await ctx.o.images.resolveImage(candidate, signal);
      if (imageId && found.id !== imageId && candidate === imageName) continue;
      image =
        candidate === imageId && imageName && (await sameImage(ctx, imageName, found.id, signal))
          ? imageName
          : candidate;
      break;
    } catch (err) {
      if (!(isEngineError(err) && err.code === 'CKPTD_NOT_FOUND')) throw err;
    }
  }
  if (image === undefined)
    throw new NotFoundError(`No such image: ${imageName || imageId || '(none named by the checkpoint)'}`);

  const req = await createRequest(ctx, docker, ckDir, image, source, opts.hostConfig);
  // an import's volumes: new volumes with the archive's content (checked before any work)
  let imported: ImportedVolumes = { mounts: [], created: [] };
  const archiveVolumes = source === undefined ? parseCheckpointVolumes(docker?.Volumes) : [];
  if (archiveVolumes.length > 0) {
    if (ctx.o.volumes === undefined)
      throw new InvalidArgumentError('the checkpoint has volumes and ckptd has no volume store');
    imported = await importVolumes(
      ctx.o.volumes,
      ckDir,
      archiveVolumes,
      opts.hostConfig ?? {},
      opts.ignoreVolumes === true,
      signal ?? new AbortController().signal,
    );
    const hc = (req.HostConfig ?? {}) as Record<string, unknown>;
    req.HostConfig = {
      ...hc,
      Mounts: [...(Array.isArray(hc.Mounts) ? hc.Mounts : []), ...imported.mounts],
    };
  }
  let created: CreateContainerResponse;
  try {
    created = await ctx.o.containers.containerCreate(opts.name || undefined, req, signal);
  } catch (err) {
    if (ctx.o.volumes) await removeVolumes(ctx.o.volumes, imported.created);
    throw err;
  }
  return { id: created.Id, image, from: str(config.name), deleted, volumes: imported.created };
}

export async function sameImage(
  ctx: CheckpointContext,
  name: string,
  id: string,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    return (await ctx.o.images.resolveImage(name, signal)).id === id;
  } catch {
    return false;
  }
}

/** readCkptdDump reads and checks ckptd.dump; undefined when the checkpoint has none (Podman's). */
export async function readCkptdDump(ckDir: string): Promise<CkptdDump | undefined> {
  const text = await readBounded(join(ckDir, CKPTD_DUMP));
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as CkptdDump;
    if (v === null || typeof v !== 'object' || typeof v.Config !== 'object' || v.Config === null)
      throw new Error('not an object');
    return v;
  } catch (err) {
    throw new InvalidArgumentError(`invalid checkpoint: ${CKPTD_DUMP}: ${(err as Error).message}`);
  }
}

/**
 * createRequest rebuilds a create request. From ckptd.dump: the Docker config (Cmd, Env,
 * User, WorkingDir, Labels, Tty...), never its HostConfig: a checkpoint directory or archive
 * is data, whoever wrote it (a kept import, a `dir` given by the caller). The host settings
 * (binds, network mode, shm size, sysctls, read-only root) are those ckptd recorded for the
 * `source` container; an import gets network mode `none`, no binds and ckptd's defaults (its
 * dump may only make the root read-only). The caller's `requested` HostConfig goes on top. Without ckptd.dump (a Podman archive), the process
 * fields of spec.dump (args, env, cwd, terminal, hostname) — nothing else of it.
 */
export async function createRequest(
  ctx: CheckpointContext,
  docker: CkptdDump | undefined,
  ckDir: string,
  image: string,
  source: ContainerInspect | undefined,
  requested: Record<string, unknown> = {},
): Promise<CreateContainerRequest> {
  const pick = <T>(v: unknown, ok: (x: unknown) => x is T): T | undefined => (ok(v) ? v : undefined);
  const isStr = (x: unknown): x is string => typeof x === 'string';
  const isStrs = (x: unknown): x is string[] => Array.isArray(x) && x.every(isStr);
  const isBool = (x: unknown): x is boolean => typeof x === 'boolean';
  const isObj = (x: unknown): x is Record<string, unknown> =>
    typeof x === 'object' && x !== null && !Array.isArray(x);
  let config: Record<string, unknown>;
  if (docker !== undefined) {
    const c = docker.Config;
    const labels = c.Labels && typeof c.Labels === 'object' ? (c.Labels as Record<string, unknown>) : {};
    config = {
      Hostname: pick(c.Hostname, isStr),
      Domainname: pick(c.Domainname, isStr),
      User: pick(c.User, isStr),
      Env: pick(c.Env, isStrs),
      Cmd: pick(c.Cmd, isStrs),
      Entrypoint: pick(c.Entrypoint, isStrs) ?? [''],
      WorkingDir: pick(c.WorkingDir, isStr),
      Tty: pick(c.Tty, isBool),
      OpenStdin: pick(c.OpenStdin, isBool),
      StdinOnce: pick(c.StdinOnce, isBool),
      StopSignal: pick(c.StopSignal, isStr),
      // the container's own health check (checked at create like any request's): it runs
      // inside the container with the container's rights, nothing of the host's
      Healthcheck: pick(c.Healthcheck, isObj),
      Shell: pick(c.Shell, isStrs),
      Labels: Object.fromEntries(Object.entries(labels).filter(([, v]) => typeof v === 'string')),
    };
  } else {
    const specText = await readBounded(join(ckDir, SPEC_DUMP));
    let spec: {
      process?: { args?: unknown; env?: unknown; cwd?: unknown; terminal?: unknown };
      hostname?: unknown;
    } = {};
    try {
      spec = specText ? (JSON.parse(specText) as typeof spec) : {};
    } catch (err) {
      throw new InvalidArgumentError(`invalid checkpoint: ${SPEC_DUMP}: ${(err as Error).message}`);
    }
    config = {
      Hostname: pick(spec.hostname, isStr),
      Env: pick(spec.process?.env, isStrs),
      Cmd: pick(spec.process?.args, isStrs),
      Entrypoint: [''],
      WorkingDir: pick(spec.process?.cwd, isStr),
      Tty: pick(spec.process?.terminal, isBool),
    };
  }
  const hostConfig: Record<string, unknown> = {
    ...(source === undefined
      ? {
          NetworkMode: 'none',
          ...(docker?.HostConfig?.ReadonlyRootfs === true ? { ReadonlyRootfs: true } : {}),
        }
      : sourceHostConfig(source)),
    ...requested,
  };
  const clean = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  // a UTS-host container's recorded Hostname is ckptd's default, which a UTSMode host create refuses
  if (hostConfig.UTSMode === 'host') delete clean.Hostname;
  return { ...clean, Image: image, HostConfig: hostConfig } as CreateContainerRequest;
}

/**
 * sourceHostConfig is the host part of a new container restored from `c`'s checkpoint: every
 * setting ckptd recorded (and validated) when it created `c` (what shapes its spec must match its
 * CRIU images), never the checkpoint's files. The create of the copy checks them all again.
 */
function sourceHostConfig(c: ContainerInspect): Record<string, unknown> {
  const hc = c.HostConfig as Record<string, unknown>;
  return Object.fromEntries(Object.entries(hc).filter(([k, v]) => !isZero(k, v)));
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
