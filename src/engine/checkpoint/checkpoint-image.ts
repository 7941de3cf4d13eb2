/**
 * Checkpoints as images (Podman `podman container checkpoint --create-image`, CRI-O's checkpoint
 * images): a checkpoint written as an OCI image whose one layer is the checkpoint archive's
 * content, tagged in ckptd's image store (so `docker save`, `docker push` and `docker images`
 * treat it like any image), and containers created from such an image restored from it.
 *
 * Writing: the checkpoint is taken as an export is (CheckpointService.checkpointExport, a
 * temporary checkpoint directory packed by tar) and its tar streamed straight into containerd's
 * content store (the writer hashes as it goes: no whole-archive buffer, no temporary file); then
 * config and manifest (with the Podman and CRI-O annotations, oci/checkpoint-image) and the name,
 * all inside one lease.
 *
 * Reading: a container created from a checkpoint image (`docker create`/`docker run`, as CRI-O's
 * CreateContainer) is created from the base image its checkpoint names, with the checkpoint's
 * rootfs diff applied; the layer is unpacked as an imported archive is (extractCheckpointArchive:
 * as nobody, only files and directories, bounded) into the container's checkpoint `image`; its
 * first start restores it in place (CheckpointService.checkpointRestore), through the same trust
 * checks as any import: the create request's HostConfig decides confinement, never the image.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { extractCheckpointArchive } from '../../archive/checkpoint-archive.js';
import { compressStream } from '../../archive/compression.js';
import type { CallContext, ContainerdClient } from '../../containerd/index.js';
import {
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  isEngineError,
  wrapError,
} from '../../errors/index.js';
import {
  checkpointImageAnnotations,
  checkpointImageConfig,
  checkpointImageInfo,
  checkpointImageManifest,
  checkCreateFields,
  criuVersionNumber,
  type CheckpointImageInfo,
} from '../../oci/checkpoint-image.js';
import { sha256Digest } from '../../oci/digest.js';
import { layerLabels, manifestGcLabels } from '../../oci/manifest.js';
import { layerMediaType, type LayerCompression } from '../../oci/media-types.js';
import { familiarName, normalizeName } from '../../oci/reference.js';
import { IMAGE_CHECKPOINT, PENDING_FILE } from './layout.js';
import type { CheckpointService } from './service.js';
import type { CheckpointCreateOptions, CheckpointStats, RestoreOptions } from './types.js';
import type {
  ContainerInspect,
  CreateContainerRequest,
  CreateContainerResponse,
  StartOptions,
  StopOptions,
} from '../containers/index.js';
import type { ManifestDescriptor, ResolvedImage } from '../images/index.js';
import { hostArchitecture } from '../../host/platform.js';

const execFileP = promisify(execFile);

/** CHECKPOINT_IMAGE_LEASE_MS bounds how long a crashed checkpoint-image write keeps its content. */
const CHECKPOINT_IMAGE_LEASE_MS = 60 * 60 * 1000;

/** PullImage fetches an image from its registry (wired once the registry client exists). */
export type PullImage = (ref: string, signal?: AbortSignal) => Promise<void>;

/** CheckpointImageOptions are the parameters of `checkpoint?image=`. */
export interface CheckpointImageOptions extends CheckpointCreateOptions {
  /** image is the reference the checkpoint image is tagged with. */
  image: string;
  /** compress is the layer's compression (default none, as Podman's local store keeps it). */
  compress?: LayerCompression;
}

/** CheckpointImageResult describes a checkpoint image just written. */
export interface CheckpointImageResult {
  /** id is the container's ID. */
  id: string;
  /** imageId is the checkpoint image's ID (its config digest). */
  imageId: string;
  /** image is the full reference it is tagged with. */
  image: string;
  manifestDigest: string;
  layerSize: number;
  stats: CheckpointStats & { imageDurationMs: number };
}

/** CheckpointImageBackend is what the routes call for checkpoint images. */
export interface CheckpointImageBackend {
  checkpointToImage(
    ref: string,
    opts: CheckpointImageOptions,
    signal?: AbortSignal,
  ): Promise<CheckpointImageResult>;
  /** restoreFromImage creates a container from a checkpoint image and restores it (restore?image=). */
  restoreFromImage(
    image: string,
    opts: Pick<RestoreOptions, 'name' | 'hostConfig' | 'ignoreRootfs'>,
    signal?: AbortSignal,
  ): Promise<{ Id: string }>;
}

/** CheckpointImageContainers is the part of the container lifecycle used here. */
export interface CheckpointImageContainers {
  containerInspect(ref: string, signal?: AbortSignal): Promise<ContainerInspect>;
  containerRemove(ref: string, opts?: { force?: boolean }): Promise<void>;
}

/** CheckpointImageImages is the part of the image store used here. */
export interface CheckpointImageImages {
  resolveImage(nameOrId: string, signal?: AbortSignal): Promise<ResolvedImage>;
  writeImageBlob(
    bytes: Buffer,
    digest: string,
    labels: Record<string, string>,
    ctx: CallContext,
  ): Promise<void>;
  nameImage(
    name: string | undefined,
    target: ManifestDescriptor,
    imageId: string,
    ctx: CallContext,
  ): Promise<void>;
}

/** CheckpointImageServiceOptions wire a CheckpointImageService. */
export interface CheckpointImageServiceOptions {
  client: Pick<ContainerdClient, 'withLease' | 'content'>;
  checkpoints: Pick<
    CheckpointService,
    'checkpointExport' | 'createFromCheckpoint' | 'checkpointRestore' | 'stagingDir'
  >;
  containers: CheckpointImageContainers;
  images: CheckpointImageImages;
  dataRoot: string;
  /** version is ckptd's, written into the image's annotations. */
  version: string;
  /** cgroupVersion of the host ('1' or '2'). */
  cgroupVersion: string;
  /** pullImage, when wired, fetches a missing base image; without it a missing one is a 404. */
  pullImage?: PullImage;
  logger?: { warn(o: object, m?: string): void };
}

/** CheckpointImageService implements checkpoint images over the checkpoint engine. */
export class CheckpointImageService implements CheckpointImageBackend {
  readonly #o: CheckpointImageServiceOptions;
  #hostFacts: Promise<{ criu: string; runc: string; distName: string; distVersion: string }> | undefined;

  constructor(o: CheckpointImageServiceOptions) {
    this.#o = o;
  }

  // ---- writing ----

  async checkpointToImage(
    ref: string,
    opts: CheckpointImageOptions,
    signal?: AbortSignal,
  ): Promise<CheckpointImageResult> {
    const t0 = performance.now();
    let name: string;
    try {
      name = normalizeName(opts.image);
    } catch (err) {
      throw new InvalidArgumentError(`image: ${(err as Error).message}`);
    }
    if (name.includes('@')) throw new InvalidArgumentError('image: a digest reference cannot be a tag');
    const compression = opts.compress ?? 'none';
    const { image: _image, compress: _compress, ...ckOpts } = opts;
    const c = await this.#o.containers.containerInspect(ref, signal);
    const facts = await this.#facts();
    const exp = await this.#o.checkpoints.checkpointExport(ref, { ...ckOpts, compress: 'none' }, signal);
    const i0 = performance.now();
    let opened = false;
    try {
      const out = await this.#o.client.withLease(
        async (ctx) => {
          const writer = this.#o.client.content.writer(
            `ckptd-checkpoint-image-${c.Id}-${randomBytes(6).toString('hex')}`,
            {},
            ctx,
          );
          let diffId: string;
          try {
            opened = true;
            const source = exp.open();
            if (compression === 'none') {
              await pipeline(source, writer, signal ? { signal } : {});
              diffId = writer.digest();
            } else {
              const hash = new HashStream();
              await pipeline(source, hash, compressStream(compression), writer, signal ? { signal } : {});
              diffId = hash.digest();
            }
          } catch (err) {
            writer.destroy(err instanceof Error ? err : new Error(String(err)));
            throw err;
          }
          const layerDigest = await writer.commit(undefined, undefined, layerLabels(diffId));
          const layer = {
            mediaType: layerMediaType(compression, 'oci'),
            digest: layerDigest,
            size: writer.written,
          };
          const created = new Date().toISOString();
          const containerName = c.Name.replace(/^\//, '');
          const config = checkpointImageConfig({
            diffId,
            created,
            architecture: hostArchitecture(),
            containerName,
          });
          const configBytes = Buffer.from(JSON.stringify(config));
          const configDigest = sha256Digest(configBytes);
          const baseName = String(c.Config.Image ?? '');
          const annotations = checkpointImageAnnotations({
            containerName,
            rawImageName: baseName,
            rootfsImageId: c.Image,
            rootfsImageName: fullName(baseName),
            runtimeName: 'runc',
            runtimeVersion: facts.runc,
            criuVersion: facts.criu,
            ckptdVersion: this.#o.version,
            hostArch: hostArchitecture(),
            hostKernel: release(),
            cgroupsVersion: `v${this.#o.cgroupVersion}`,
            distributionName: facts.distName,
            distributionVersion: facts.distVersion,
          });
          const built = checkpointImageManifest(
            { digest: configDigest, size: configBytes.length },
            layer,
            annotations,
          );
          await this.#o.images.writeImageBlob(configBytes, configDigest, {}, ctx);
          await this.#o.images.writeImageBlob(
            built.bytes,
            built.descriptor.digest,
            manifestGcLabels(built.manifest),
            ctx,
          );
          await this.#o.images.nameImage(name, built.descriptor, configDigest, ctx);
          return { configDigest, manifestDigest: built.descriptor.digest, layerSize: layer.size };
        },
        { expire: CHECKPOINT_IMAGE_LEASE_MS, ctx: signal ? { signal } : {} },
      );
      return {
        id: c.Id,
        imageId: out.configDigest,
        image: name,
        manifestDigest: out.manifestDigest,
        layerSize: out.layerSize,
        stats: {
          ...exp.result.stats,
          imageDurationMs: Math.round((performance.now() - i0) * 10) / 10,
          totalDurationMs: Math.round((performance.now() - t0) * 10) / 10,
        },
      };
    } catch (err) {
      throw isEngineError(err) ? err : wrapError('checkpoint image', err);
    } finally {
      if (!opened) exp.discard();
    }
  }

  async #facts(): Promise<{ criu: string; runc: string; distName: string; distVersion: string }> {
    this.#hostFacts ??= (async () => {
      const out = async (cmd: string, args: string[]) =>
        execFileP(cmd, args, { timeout: 10_000 }).then(
          (r) => r.stdout,
          () => '',
        );
      const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
      const field = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(osRelease)?.[1] ?? '';
      const runc = /runc version (\S+)/.exec(await out('runc', ['--version']))?.[1] ?? '';
      return {
        criu: criuVersionNumber(await out('criu', ['--version'])),
        runc,
        distName: field('ID'),
        distVersion: field('VERSION_ID'),
      };
    })();
    return this.#hostFacts;
  }

  // ---- reading ----

  /**
   * checkpointImageOf tells whether `ref` names a checkpoint image (undefined when it names an
   * ordinary image or none: the ordinary create reports that).
   */
  async checkpointImageOf(
    ref: string,
    signal?: AbortSignal,
  ): Promise<{ image: ResolvedImage; info: CheckpointImageInfo } | undefined> {
    let image: ResolvedImage;
    try {
      image = await this.#o.images.resolveImage(ref, signal);
    } catch (err) {
      if (isEngineError(err) && err.code === 'CKPTD_NOT_FOUND') return undefined;
      throw err;
    }
    const info = checkpointImageInfo(image.manifest);
    return info ? { image, info } : undefined;
  }

  /**
   * createFromImage serves `POST /containers/create` for a checkpoint image: the container is
   * created from the checkpoint (base image, rootfs diff, the checkpoint's process config), with
   * the caller's name and HostConfig, and marked so its first start restores it. Returns
   * undefined when `req.Image` is no checkpoint image (the ordinary create goes on).
   */
  async createFromImage(
    name: string | undefined,
    req: CreateContainerRequest,
    signal?: AbortSignal,
  ): Promise<CreateContainerResponse | undefined> {
    const ref = typeof req.Image === 'string' ? req.Image : '';
    if (ref === '') return undefined;
    const found = await this.checkpointImageOf(ref, signal);
    if (found === undefined) return undefined;
    checkCreateFields(req as Record<string, unknown>);
    const hostConfig = (req.HostConfig ?? {}) as Record<string, unknown>;
    const id = await this.#createFrom(
      found,
      ref,
      { ...(name ? { name } : {}), hostConfig },
      signal,
      'create',
    );
    return { Id: id, Warnings: [] };
  }

  async #createFrom(
    found: { image: ResolvedImage; info: CheckpointImageInfo },
    ref: string,
    opts: Pick<RestoreOptions, 'name' | 'hostConfig' | 'ignoreRootfs'>,
    signal: AbortSignal | undefined,
    via: 'create' | 'restore',
  ): Promise<string> {
    const { image, info } = found;
    const layers = image.manifest.layers;
    if (layers.length !== 1) {
      throw new InvalidArgumentError(
        `${ref} is not a valid checkpoint image: it has ${layers.length} layers (a checkpoint image has one)`,
      );
    }
    await this.#ensureBaseImage(info, signal, via);
    const staging = this.#o.checkpoints.stagingDir;
    await mkdir(staging, { recursive: true, mode: 0o700 });
    // the layer is unpacked by nobody in `staging`: nobody else may reach it through here
    await chmod(staging, 0o700);
    const dir = await mkdtemp(join(staging, 'image-'));
    try {
      await extractCheckpointArchive(
        this.#o.client.content.readStream(layers[0]!.digest, {}, signal ? { signal } : {}),
        dir,
        signal ?? new AbortController().signal,
      );
      const id = await this.#o.checkpoints.createFromCheckpoint(dir, IMAGE_CHECKPOINT, opts, signal);
      await writeFile(
        join(this.#o.dataRoot, 'containers', id, PENDING_FILE),
        JSON.stringify({ image: ref, imageId: image.id, checkpoint: IMAGE_CHECKPOINT }),
        { mode: 0o600 },
      );
      return id;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * #ensureBaseImage checks that the base image the annotations name is here (by ID, then by
   * name), pulling it through the wired pullImage when it is not. An image that names none is
   * left to the checkpoint's config.dump (checked again at create).
   */
  async #ensureBaseImage(
    info: CheckpointImageInfo,
    signal: AbortSignal | undefined,
    via: 'create' | 'restore',
  ): Promise<void> {
    const candidates = [info.rootfsImageId, info.rootfsImageName].filter((s) => s !== '');
    if (candidates.length === 0) return;
    for (const c of candidates) {
      if (await this.#has(c, signal)) return;
    }
    const wanted = info.rootfsImageName || info.rootfsImageId;
    let pullFailure = '';
    if (this.#o.pullImage !== undefined && info.rootfsImageName !== '') {
      try {
        await this.#o.pullImage(info.rootfsImageName, signal);
        if (await this.#has(info.rootfsImageName, signal)) return;
      } catch (err) {
        pullFailure = ` (pulling it failed: ${err instanceof Error ? err.message : String(err)})`;
      }
    }
    const msg = `base image ${familiarName(wanted)} not found${pullFailure}; pull it first`;
    // A create answers 400, not 404: the docker CLI takes a 404 from create for "the image you
    // named is missing" and would pull the checkpoint image itself.
    throw via === 'create' ? new FailedPreconditionError(msg) : new NotFoundError(msg);
  }

  async #has(ref: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.#o.images.resolveImage(ref, signal);
      return true;
    } catch (err) {
      if (isEngineError(err) && (err.code === 'CKPTD_NOT_FOUND' || err.code === 'CKPTD_INVALID_ARGUMENT'))
        return false;
      throw err;
    }
  }

  /**
   * startPending restores a container created from a checkpoint image at its first start, in
   * place, and clears the mark; false when the container has no pending checkpoint image.
   */
  async startPending(ref: string, opts: StartOptions | undefined, signal?: AbortSignal): Promise<boolean> {
    if (opts?.checkpoint !== undefined || opts?.checkpointDir !== undefined) return false;
    let id: string;
    try {
      id = (await this.#o.containers.containerInspect(ref, signal)).Id;
    } catch {
      return false; // the ordinary start reports it
    }
    const mark = join(this.#o.dataRoot, 'containers', id, PENDING_FILE);
    const text = await readFile(mark, 'utf8').catch(() => undefined);
    if (text === undefined) return false;
    await this.#o.checkpoints.checkpointRestore(id, { checkpoint: IMAGE_CHECKPOINT }, signal);
    await rm(mark, { force: true });
    return true;
  }

  async restoreFromImage(
    image: string,
    opts: Pick<RestoreOptions, 'name' | 'hostConfig' | 'ignoreRootfs'>,
    signal?: AbortSignal,
  ): Promise<{ Id: string }> {
    const found = await this.checkpointImageOf(image, signal);
    if (found === undefined) {
      await this.#o.images.resolveImage(image, signal); // 404 No such image
      throw new InvalidArgumentError(
        `image: ${image} is not a checkpoint image (no io.podman.annotations.checkpoint.* or io.kubernetes.cri-o.annotations.checkpoint.* annotations)`,
      );
    }
    const id = await this.#createFrom(found, image, opts, signal, 'restore');
    try {
      await this.startPending(id, undefined, signal);
    } catch (err) {
      await this.#o.containers
        .containerRemove(id, { force: true })
        .catch((e: unknown) =>
          this.#o.logger?.warn({ err: e, id }, 'removing the container of a failed restore failed'),
        );
      throw err;
    }
    return { Id: id };
  }
}

function fullName(ref: string): string {
  try {
    return normalizeName(ref);
  } catch {
    return ref;
  }
}

/** HashStream passes bytes through and computes their sha256 (the diffID of a compressed layer). */
class HashStream extends Transform {
  readonly #hash = createHash('sha256');
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    cb(null, chunk);
  }
  digest(): string {
    return `sha256:${this.#hash.digest('hex')}`;
  }
}

/** CheckpointImageCreateStart is the part of the containers backend a checkpoint image changes. */
export interface CheckpointImageCreateStart {
  containerCreate(
    name: string | undefined,
    req: CreateContainerRequest,
    signal?: AbortSignal,
    platform?: string,
  ): Promise<CreateContainerResponse>;
  containerStart(ref: string, signal?: AbortSignal, opts?: StartOptions): Promise<void>;
  containerRestart(ref: string, opts?: StopOptions, signal?: AbortSignal): Promise<void>;
}

/**
 * withCheckpointImages returns `containers` with create and start extended for checkpoint images
 * (as CRI-O's CreateContainer/StartContainer): a create whose image is a checkpoint image makes
 * the container from the checkpoint, and its first start (or restart) restores it. Everything else is
 * `containers` itself, bound.
 */
export function withCheckpointImages<T extends CheckpointImageCreateStart>(
  containers: T,
  service: CheckpointImageService,
): T {
  return new Proxy(containers, {
    get(target, prop) {
      if (prop === 'containerCreate') {
        return async (
          name: string | undefined,
          req: CreateContainerRequest,
          signal?: AbortSignal,
          platform?: string,
        ) =>
          (req !== null && typeof req === 'object'
            ? await service.createFromImage(name, req, signal)
            : undefined) ?? target.containerCreate(name, req, signal, platform);
      }
      if (prop === 'containerStart') {
        return async (ref: string, signal?: AbortSignal, opts?: StartOptions) => {
          if (await service.startPending(ref, opts, signal)) return;
          await target.containerStart(ref, signal, opts);
        };
      }
      if (prop === 'containerRestart') {
        // a restart of a never-started container is its first start (dockerd: stop is a no-op)
        return async (ref: string, opts?: StopOptions, signal?: AbortSignal) => {
          if (await service.startPending(ref, undefined, signal)) return;
          await target.containerRestart(ref, opts, signal);
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
