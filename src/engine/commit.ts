/**
 * Commit, changes and export of a container's filesystem (moby `daemon/containerd/
 * image_commit.go`, `image_changes.go`, `daemon/export.go`), through containerd's snapshot,
 * diff and content services.
 *
 * Commit: one lease around everything; the container is paused (unless asked not to, or
 * already paused) only while containerd's Diff service walks its snapshot against the parent
 * (the image's chainID, a View of it); the layer goes to the content store uncompressed by
 * default; config and manifest are written with `containerd.io/gc.ref.*` labels and the image
 * record created last, so a failure anywhere leaves nothing outside the lease, which is deleted.
 *
 * Unpack strategy: lazy. The new layer is NOT applied into a new snapshot at commit time
 * (containerd's route writes the data twice: the diff blob, then the unpack). The image's
 * config carries no snapshot GC label until ImageService.ensureUnpacked — called when a
 * container is first created from the image — unpacks the top layer and labels the config.
 * Reusing the container's own snapshot is not possible: containerd can only commit an active
 * snapshot by consuming it (the container would lose its rootfs), and views of active
 * snapshots do not exist.
 */
import { hostArchitecture } from '../host/platform.js';
import type { PauseMarks } from './pause-marks.js';
import { createHash, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import {
  compressStream,
  sendSource,
  type ArchiveSource,
  type ProgramOutput,
} from '../archive/compression.js';
import type { CallContext, ContainerdClient, ContentWriter, Descriptor } from '../containerd/index.js';
import { ConflictError, InvalidArgumentError, NotFoundError, wrapError } from '../errors/index.js';
import { applyChanges } from '../oci/changes.js';
import { mergeEnv, toStrSlice, type ContainerRequestConfig } from '../oci/container-config.js';
import { sha256Digest, type Digest } from '../oci/digest.js';
import type { HistoryEntry, ImageConfig, ImageRuntimeConfig } from '../oci/image-config.js';
import { LABEL_UNCOMPRESSED } from '../oci/labels.js';
import { buildManifest, layerLabels, manifestGcLabels } from '../oci/manifest.js';
import { layerMediaType, type LayerCompression } from '../oci/media-types.js';
import { familiarName, withTag } from '../oci/reference.js';
import type { CommitSource, ContainerRecord } from './containers/index.js';
import type { ManifestDescriptor, ResolvedImage } from './images/index.js';
import { abortIngest, reopenIngest, writeLocalBlob, type LocalBlob } from './local-blob.js';
import { openLocalIngest } from './local-ingest.js';
import {
  isEmptyPlan,
  planUpperLayer,
  upperLayerLayout,
  upperLayerStream,
  writeUpperLayer,
  type UpperLayerPlan,
} from './commit-upper.js';
import { hasInitLayer, squashMounts } from './init-layer.js';
import { TaskPauser } from './pause.js';
import {
  exportTar,
  overlayChanges,
  overlayLayout,
  readOnlyMounts,
  withReadOnlyRootfs,
  type Change,
} from './rootfs.js';

export type { Change } from './rootfs.js';

/** EMPTY_LAYER_DIFF_ID is the digest of a tar with only its two end blocks: a diff with no change. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';
/** COMMIT_LEASE_EXPIRE_MS bounds how long a crashed commit's lease keeps its content (nerdctl: 1 h). */
export const COMMIT_LEASE_EXPIRE_MS = 60 * 60 * 1000;
const CLEANUP_DEADLINE_MS = 10_000;

/** CommitOptions are the parameters of POST /commit. */
export interface CommitOptions {
  /** container is an ID, unique ID prefix or name. */
  container: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  /** pause the container while its filesystem is read (default true). */
  pause?: boolean;
  /** changes are Dockerfile instructions (`ENV A=b`, `CMD ["x"]`). */
  changes?: string[];
  /** config overrides the container's config (the request body); null/undefined = the container's. */
  config?: ContainerRequestConfig | null;
  /** compression of the new layer (default none, as dockerd's graph driver and podman keep them). */
  compression?: LayerCompression;
  /** squash: a single-layer image holding the whole root filesystem. */
  squash?: boolean;
}

/** CommitResult is POST /commit's answer. */
export interface CommitResult {
  Id: string;
}

/**
 * ExportSink sends the export tar: it opens the source (into the client's connection or as a
 * stream) and resolves once the archive is sent.
 */
export type ExportSink = (tar: ArchiveSource) => Promise<void>;

/** CommitBackend is what the commit/changes/export handlers call. */
export interface CommitBackend {
  /** createImageFromContainer commits a container's filesystem and config into a new image. */
  createImageFromContainer(opts: CommitOptions, signal?: AbortSignal): Promise<CommitResult>;
  /** containerChanges lists the container's filesystem changes as `docker diff`. */
  containerChanges(ref: string, signal?: AbortSignal): Promise<Change[]>;
  /**
   * containerExport resolves the container, mounts its rootfs read-only and hands the tar
   * stream to sink; everything is released when sink settles (also when it fails: client gone).
   */
  containerExport(ref: string, sink: ExportSink, signal?: AbortSignal): Promise<void>;
}

/** CommitContainers is the part of the ContainerService the commit engine uses. */
export interface CommitContainers {
  commitSource(ref: string, signal?: AbortSignal): Promise<CommitSource>;
}

/** CommitImages is the part of the ImageService the commit engine uses. */
export interface CommitImages {
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

/** CommitEvents publishes engine events. */
export interface CommitEvents {
  publish(type: string, action: string, id: string, attributes?: Record<string, string>): void;
  /** muteTaskEcho silences the next pause/unpause event of a container (quiet pause holds). */
  muteTaskEcho?(id: string, action: 'pause' | 'unpause'): void;
}

/** CommitServiceOptions wire a CommitService. */
export interface CommitServiceOptions {
  client: ContainerdClient;
  containers: CommitContainers;
  images: CommitImages;
  events?: CommitEvents;
  logger: Logger;
  /** pauseMarks records on disk which containers ckptd froze (thawed at the next start after a crash). */
  pauseMarks?: PauseMarks;
  /** contentDir finds containerd's content store root when it is local: layers are written there. */
  contentDir?: () => Promise<string | undefined>;
}

/**
 * commitRuntimeConfig is the image `config` of a commit, as moby's commit does: the override
 * (request body) or else the container's config, the `--change` instructions applied, then
 * moby's `merge` filling what is still empty from the container's config.
 */
export function commitRuntimeConfig(
  container: ContainerRecord['Config'],
  override: ContainerRequestConfig | null | undefined,
  changes: readonly string[],
): ImageRuntimeConfig {
  const pick = (c: ContainerRequestConfig | ContainerRecord['Config']): ImageRuntimeConfig => {
    const out: ImageRuntimeConfig = {};
    if (typeof c.User === 'string') out.User = c.User;
    if (c.ExposedPorts) out.ExposedPorts = { ...c.ExposedPorts };
    if (Array.isArray(c.Env)) out.Env = [...c.Env];
    const cmd = toStrSlice(c.Cmd as ContainerRequestConfig['Cmd']);
    const ep = toStrSlice(c.Entrypoint as ContainerRequestConfig['Entrypoint']);
    out.Cmd = cmd;
    out.Entrypoint = ep;
    if (c.Volumes) out.Volumes = { ...c.Volumes };
    if (typeof c.WorkingDir === 'string') out.WorkingDir = c.WorkingDir;
    if (c.Labels) {
      out.Labels = Object.fromEntries(Object.entries(c.Labels).filter(([k]) => !k.startsWith('ckptd/')));
    }
    if (typeof c.StopSignal === 'string' && c.StopSignal) out.StopSignal = c.StopSignal;
    if (c.Healthcheck) out.Healthcheck = { ...c.Healthcheck };
    if (c.ArgsEscaped !== undefined) out.ArgsEscaped = c.ArgsEscaped;
    if (Array.isArray(c.OnBuild)) out.OnBuild = [...(c.OnBuild as string[])];
    if (Array.isArray(c.Shell)) out.Shell = [...(c.Shell as string[])];
    return out;
  };
  const base = pick(container);
  const user = applyChanges(override ? pick(override) : pick(container), changes);
  // moby daemon/commit.go merge(userConf, imageConf)
  if (!user.User) user.User = base.User ?? '';
  if (!user.ExposedPorts || Object.keys(user.ExposedPorts).length === 0) {
    if (base.ExposedPorts) user.ExposedPorts = base.ExposedPorts;
  } else if (base.ExposedPorts) {
    for (const p of Object.keys(base.ExposedPorts)) user.ExposedPorts[p] ??= {};
  }
  user.Env = mergeEnv(user.Env, base.Env);
  user.Labels = { ...base.Labels, ...user.Labels };
  if (!user.Entrypoint || user.Entrypoint.length === 0) {
    if (!user.Cmd || user.Cmd.length === 0) {
      user.Cmd = base.Cmd ?? null;
      if (base.ArgsEscaped !== undefined) user.ArgsEscaped = base.ArgsEscaped;
    }
    if (user.Entrypoint === null || user.Entrypoint === undefined) user.Entrypoint = base.Entrypoint ?? null;
  }
  if (base.Healthcheck) user.Healthcheck = { ...base.Healthcheck, ...user.Healthcheck };
  if (!user.WorkingDir) user.WorkingDir = base.WorkingDir ?? '';
  if (!user.Volumes || Object.keys(user.Volumes).length === 0) {
    if (base.Volumes) user.Volumes = base.Volumes;
  } else if (base.Volumes) Object.assign(user.Volumes, base.Volumes);
  if (!user.StopSignal && base.StopSignal) user.StopSignal = base.StopSignal;
  return user;
}

/**
 * commitImageConfig builds the new image config: the base config (platform fields kept),
 * the new runtime config, the layer's diffID appended (or, squashed, alone) and a history
 * entry (`empty_layer` when nothing changed).
 */
export function commitImageConfig(p: {
  base: ImageConfig;
  runtime: ImageRuntimeConfig;
  diffId: string | undefined;
  squash: boolean;
  created: string;
  createdBy: string;
  author: string;
  comment: string;
  containerId: string;
}): ImageConfig {
  const { config: _c, rootfs, history = [], created: _cr, author: _a, comment: _m, ...rest } = p.base;
  const entry: HistoryEntry = { created: p.created, created_by: p.createdBy };
  if (p.author) entry.author = p.author;
  if (p.comment) entry.comment = p.comment;
  if (p.diffId === undefined) entry.empty_layer = true;
  const baseHistory = p.squash ? history.map((h) => ({ ...h, empty_layer: true })) : history;
  const diffIds = p.squash ? [] : [...rootfs.diff_ids];
  if (p.diffId !== undefined) diffIds.push(p.diffId as Digest);
  const out: ImageConfig = {
    ...rest,
    architecture: p.base.architecture,
    os: p.base.os,
    created: p.created,
    config: p.runtime,
    container: p.containerId,
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [...baseHistory, entry],
  };
  if (p.author) out.author = p.author;
  if (p.comment) out.comment = p.comment;
  return out;
}

/** CommitService implements CommitBackend over containerd. */
export class CommitService implements CommitBackend {
  readonly #o: CommitServiceOptions;
  readonly #client: ContainerdClient;
  readonly #pauser: TaskPauser;

  constructor(o: CommitServiceOptions) {
    this.#o = o;
    this.#client = o.client;
    this.#pauser = new TaskPauser(
      {
        get: (id) => o.client.tasks.get(id),
        pause: async (id) => {
          await o.pauseMarks?.mark(id);
          try {
            await o.client.tasks.pause(id);
          } catch (err) {
            // frozen or not (containerd may have died after the freeze): recovery checks and thaws
            o.pauseMarks?.done(id);
            throw err;
          }
        },
        resume: async (id, ctx) => {
          try {
            await o.client.tasks.resume(id, ctx);
            await o.pauseMarks?.clear(id);
          } finally {
            o.pauseMarks?.done(id); // a failed thaw (containerd away) is recovery's at the reconnect
          }
        },
      },
      o.logger,
      (id, action) => o.events?.muteTaskEcho?.(id, action),
    );
  }

  async createImageFromContainer(opts: CommitOptions, signal?: AbortSignal): Promise<CommitResult> {
    const compression = opts.compression ?? 'none';
    const name = opts.repo ? withTag(opts.repo, opts.tag) : undefined;
    if (!opts.repo && opts.tag) throw new InvalidArgumentError('tag requires a repository');
    const src = await this.#o.containers.commitSource(opts.container, signal);
    if (src.removing)
      throw new ConflictError(`You cannot commit a container which is being removed: ${src.id}`);
    let base: ResolvedImage | undefined;
    if (src.record.Image) {
      base = await this.#o.images.resolveImage(src.record.Image, signal).catch((err: unknown) => {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      });
    }
    if (!base && !opts.squash) {
      throw new ConflictError(`cannot commit container ${src.id}: its image is gone (use squash=true)`);
    }
    // Validate the changes before any work (400 with BuildKit's message).
    const runtime = commitRuntimeConfig(src.record.Config, opts.config, opts.changes ?? []);
    const sn = this.#client.snapshots(src.snapshotter);

    const result = await this.#client.withLease(
      async (ctx) => {
        const info = await sn.stat(src.snapshotKey, ctx);
        const parent = info.parent;
        const mediaType = layerMediaType(compression, 'oci');
        // the upper dir path: overlayfs, not squashed, a compression ckptd writes itself, and a
        // filesystem nothing writes to while it is read (frozen, or without running process)
        const upper =
          !opts.squash &&
          (compression === 'none' || compression === 'zstd') &&
          (opts.pause !== false || src.taskStatus !== 'RUNNING')
            ? upperLayerLayout(await sn.mounts(src.snapshotKey, ctx))
            : undefined;
        let layer: Descriptor | undefined;
        let diffId: string | undefined;
        if (upper) {
          const release = await this.#pause(src, opts.pause !== false);
          try {
            ({ layer, diffId } = await this.#upperLayer(
              upper.upper,
              compression === 'zstd' ? 'zstd' : 'none',
              src.id,
              ctx,
            ));
          } finally {
            await release();
          }
        } else {
          ({ layer, diffId } = await this.#differLayer(src, parent, compression, opts, ctx));
        }
        if (diffId === EMPTY_LAYER_DIFF_ID && !opts.squash) diffId = undefined;
        if (diffId !== undefined && layer !== undefined) {
          await this.#client.content.update(
            { digest: layer.digest, labels: layerLabels(diffId) },
            [`labels.${LABEL_UNCOMPRESSED}`],
            ctx,
          );
        }

        const baseConfig: ImageConfig = base?.config ?? {
          architecture: hostArchitecture(),
          os: 'linux',
          rootfs: { type: 'layers', diff_ids: [] },
        };
        const config = commitImageConfig({
          base: baseConfig,
          runtime,
          diffId,
          squash: opts.squash === true,
          created: new Date().toISOString(),
          createdBy: [src.record.Path, ...src.record.Args].filter((s) => s !== '').join(' '),
          author: opts.author ?? '',
          comment: opts.comment ?? '',
          containerId: src.id,
        });
        const configBytes = Buffer.from(JSON.stringify(config));
        const configDigest = sha256Digest(configBytes);
        const baseLayers = opts.squash || !base ? [] : base.manifest.layers;
        const layers = [
          ...baseLayers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
          ...(diffId !== undefined && layer !== undefined
            ? [{ mediaType: layer.media_type || mediaType, digest: layer.digest, size: Number(layer.size) }]
            : []),
        ];
        const built = buildManifest(
          { mediaType: '', digest: configDigest, size: configBytes.length },
          layers,
        );
        await this.#o.images.writeImageBlob(configBytes, configDigest, {}, ctx);
        await this.#o.images.writeImageBlob(
          built.bytes,
          built.descriptor.digest,
          manifestGcLabels(built.manifest),
          ctx,
        );
        await this.#o.images.nameImage(name, built.descriptor, configDigest, ctx);
        return configDigest;
      },
      { expire: COMMIT_LEASE_EXPIRE_MS, ctx: signal ? { signal } : {} },
    );
    this.#o.events?.publish('container', 'commit', src.id, {
      comment: opts.comment ?? '',
      imageID: result,
      imageRef: name ? familiarName(name) : '',
      name: src.name,
    });
    return { Id: result };
  }

  /**
   * #differLayer has containerd's Diff service compare the container's snapshot with its parent
   * (a View of it): for snapshotters other than overlayfs, squashes, gzip, and a commit without
   * pause of a running container. Returns the layer blob and its diffID (the EMPTY diffID for no
   * change; the caller drops that layer).
   */
  async #differLayer(
    src: CommitSource,
    parent: string,
    compression: LayerCompression,
    opts: CommitOptions,
    ctx: CallContext,
  ): Promise<{ layer: Descriptor; diffId: string }> {
    const sn = this.#client.snapshots(src.snapshotter);
    const mediaType = layerMediaType(compression, 'oci');
    // containerd 1.6's differ compresses only gzip: zstd is diffed uncompressed, then recompressed.
    const diffMediaType = compression === 'zstd' ? layerMediaType('none', 'oci') : mediaType;
    const viewKey = `ckptd-commit-view-${randomBytes(6).toString('hex')}`;
    let layer: Descriptor;
    let viewCreated = false;
    try {
      const left = opts.squash || parent === '' ? [] : await sn.view(viewKey, parent, {}, ctx);
      viewCreated = left.length > 0;
      const release = await this.#pause(src, opts.pause !== false);
      try {
        // read-only: unmounting a writable overlay syncs the whole filesystem under its
        // upper dir (the container's new data included), which the diff does not need
        const mounts = await sn.mounts(src.snapshotKey, ctx);
        // the parent is the init layer (or, for a container created before init layers,
        // the image): a squash takes the image and the changes, never the init layer
        const right = readOnlyMounts(
          opts.squash ? squashMounts(mounts, hasInitLayer(src.id, parent)) : mounts,
        );
        layer = await this.#client.diff.diff(
          left,
          right,
          {
            mediaType: diffMediaType,
            ref: `ckptd-commit-${src.id}-${randomBytes(6).toString('hex')}`,
          },
          ctx,
        );
      } finally {
        await release();
      }
    } finally {
      if (viewCreated) await this.#removeSnapshot(src.snapshotter, viewKey, ctx);
    }
    let diffId = layer.digest;
    if (compression === 'zstd') {
      if (layer.digest !== EMPTY_LAYER_DIFF_ID || opts.squash) {
        layer = await this.#zstdLayer(layer, src.id, ctx);
      }
    } else if (compression !== 'none') {
      const labels = (await this.#client.content.info(layer.digest, ctx)).labels;
      const uncompressed = labels[LABEL_UNCOMPRESSED];
      if (!uncompressed) throw wrapError('commit', new Error('the differ gave no uncompressed digest'));
      diffId = uncompressed;
    }
    return { layer, diffId };
  }

  /**
   * #upperLayer writes the layer read from the container's overlay upper dir (commit-upper.ts)
   * into the content store, hashed on the way (the diffID), zstd-compressed by the host's zstd
   * when asked. Run with the container frozen or stopped. No layer for an unchanged upper dir.
   */
  async #upperLayer(
    upper: string,
    compression: 'none' | 'zstd',
    containerId: string,
    ctx: CallContext,
  ): Promise<{ layer: Descriptor | undefined; diffId: string | undefined }> {
    const plan = await planUpperLayer(upper, ctx.signal);
    if (isEmptyPlan(plan)) return { layer: undefined, diffId: undefined };
    const ref = `ckptd-commit-${containerId}-${randomBytes(6).toString('hex')}`;
    const contentRoot = await this.#o.contentDir?.().catch(() => undefined);
    if (compression === 'none' && contentRoot !== undefined) {
      const direct = await this.#upperLayerDirect(plan, contentRoot, ref, ctx);
      if (direct) return direct;
    }
    let source: ProgramOutput | undefined;
    try {
      source = await upperLayerStream(plan);
      let blob: LocalBlob;
      let diffId: string;
      if (compression === 'zstd') {
        const hash = createHash('sha256');
        const tap = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            cb(null, chunk);
          },
        });
        let uncompressed: string | undefined;
        blob = await writeLocalBlob(
          this.#client,
          contentRoot,
          ref,
          [source, tap, compressStream('zstd')],
          () => layerLabels((uncompressed = `sha256:${hash.digest('hex')}`)),
          ctx,
        );
        diffId = uncompressed!;
      } else {
        blob = await writeLocalBlob(this.#client, contentRoot, ref, [source], (d) => layerLabels(d), ctx);
        diffId = blob.digest;
      }
      await source.exited;
      return {
        layer: {
          media_type: layerMediaType(compression, 'oci'),
          digest: blob.digest,
          size: String(blob.size),
          annotations: {},
        },
        diffId,
      };
    } catch (err) {
      source?.destroy();
      await source?.exited.catch(() => undefined);
      throw wrapError('commit: reading the upper dir', err);
    }
  }

  /**
   * #upperLayerDirect has GNU tar write the layer straight into a local containerd's ingest data
   * file (no byte through Node or gRPC); the ingest is then reopened, so containerd hashes the
   * file, and committed under that digest. undefined when the ingest is not found on this host
   * (the caller streams the layer instead).
   */
  async #upperLayerDirect(
    plan: UpperLayerPlan,
    contentRoot: string,
    ref: string,
    ctx: CallContext,
  ): Promise<{ layer: Descriptor; diffId: string } | undefined> {
    const w = this.#client.content.writer(ref, {}, ctx);
    w.on('error', () => undefined);
    let reopened: ContentWriter | undefined;
    try {
      await w.ready();
      await w.settled();
      const ingest = await openLocalIngest(
        contentRoot,
        ctx.namespace ?? this.#client.namespace,
        ref,
        w.written,
      );
      if (ingest === undefined) {
        this.#o.logger.warn(
          { ref, contentRoot, written: w.written },
          'commit: the ingest is not on this host',
        );
        await w.release();
        await abortIngest(this.#client, ref, ctx, CLEANUP_DEADLINE_MS);
        return undefined;
      }
      let size: number;
      try {
        // no fsync here: containerd syncs the data file when it commits it
        size = await writeUpperLayer(plan, ingest.fh, ctx.signal);
      } finally {
        await ingest.fh.close();
      }
      await w.release();
      reopened = await reopenIngest(this.#client, ref, size, ctx);
      // containerd hashed the data file when the ingest was reopened: that digest names the blob
      const digest = reopened.ingestDigest;
      if (digest === undefined) throw new Error(`containerd gave no digest for ingest ${ref}`);
      await reopened.commit(size, digest);
      return {
        layer: { media_type: layerMediaType('none', 'oci'), digest, size: String(size), annotations: {} },
        diffId: digest,
      };
    } catch (err) {
      w.destroy();
      reopened?.destroy();
      await abortIngest(this.#client, ref, ctx, CLEANUP_DEADLINE_MS);
      throw wrapError('commit: writing the layer', err);
    }
  }

  /**
   * #zstdLayer recompresses an uncompressed layer blob with the host's zstd into a new blob
   * labelled with its diffID (the uncompressed digest), inside the caller's lease. The
   * uncompressed blob stays unreferenced and goes to GC once the lease ends.
   */
  async #zstdLayer(tarLayer: Descriptor, containerId: string, ctx: CallContext): Promise<Descriptor> {
    const diffId = tarLayer.digest;
    const ref = `ckptd-commit-zstd-${containerId}-${randomBytes(6).toString('hex')}`;
    const writer = this.#client.content.writer(ref, {}, ctx);
    try {
      await pipeline(
        this.#client.content.readStream(diffId, {}, ctx),
        compressStream('zstd'),
        writer,
        ctx.signal ? { signal: ctx.signal } : {},
      );
      const digest = await writer.commit(undefined, undefined, layerLabels(diffId));
      return {
        media_type: layerMediaType('zstd', 'oci'),
        digest,
        size: String(writer.written),
        annotations: {},
      };
    } catch (err) {
      writer.destroy(err instanceof Error ? err : new Error(String(err)));
      throw wrapError('commit: zstd compression of the layer', err);
    }
  }

  /**
   * pauser is the commit engine's pause holds, shared with the archive engine so a commit and
   * a cp overlapping on one container pause it once and resume it once.
   */
  get pauser(): TaskPauser {
    return this.#pauser;
  }

  /**
   * #pause freezes the container's task for the duration of a filesystem read, shared by
   * concurrent commits of one container: the first pauses (if it runs), the last resumes. A
   * container that was already paused is left paused; a failed resume is logged.
   */
  async #pause(src: CommitSource, wanted: boolean): Promise<() => Promise<void>> {
    if (!wanted) return async () => undefined;
    return this.#pauser.hold(src.id, 'commit');
  }

  async #removeSnapshot(snapshotter: string, key: string, ctx: CallContext): Promise<void> {
    try {
      const c: CallContext = { deadlineMs: CLEANUP_DEADLINE_MS };
      if (ctx.namespace !== undefined) c.namespace = ctx.namespace;
      if (ctx.lease !== undefined) c.lease = ctx.lease;
      await this.#client.snapshots(snapshotter).remove(key, c);
    } catch (err) {
      if (!(err instanceof NotFoundError)) {
        this.#o.logger.warn({ err, key }, 'commit: removing a view failed; the lease frees it');
      }
    }
  }

  async containerChanges(ref: string, signal?: AbortSignal): Promise<Change[]> {
    const src = await this.#o.containers.commitSource(ref, signal);
    const ctx: CallContext = signal ? { signal } : {};
    const mounts = await this.#client.snapshots(src.snapshotter).mounts(src.snapshotKey, ctx);
    const layout = overlayLayout(mounts);
    if (!layout) {
      throw wrapError('changes', new Error(`snapshotter ${src.snapshotter}: unsupported mount type`));
    }
    return overlayChanges(layout, src.mountDestinations, signal);
  }

  async containerExport(ref: string, sink: ExportSink, signal?: AbortSignal): Promise<void> {
    const src = await this.#o.containers.commitSource(ref, signal);
    if (src.removing) throw new ConflictError(`You cannot export container ${src.id} which is being removed`);
    await this.#client.withLease(
      async (ctx) => {
        const mounts = await this.#client.snapshots(src.snapshotter).mounts(src.snapshotKey, ctx);
        await withReadOnlyRootfs(mounts, async (root) => {
          // tar reads the mount: sendSource waits until it is gone, before the unmount
          await sendSource(await exportTar(root), sink);
        });
      },
      { ctx: signal ? { signal } : {} },
    );
    this.#o.events?.publish('container', 'export', src.id, {
      name: src.name,
      image: src.record.Config.Image,
    });
  }
}
