/**
 * pullImage: `POST /images/create?fromImage=` as dockerd's distribution puller (pull_v2.go),
 * over containerd's content service: the manifest (an index resolves to one platform), the
 * config, then layers 3 at a time streamed from the registry into content ingests (digest and
 * size checked by containerd at commit; a cut connection resumes with Range from the ingest's
 * offset), unpacked in order into the snapshotter while later layers still download. All of it
 * runs in one lease; the image record is written last, so a failed pull leaves no image and its
 * lease's deletion frees what it wrote.
 */
import { once } from 'node:events';
import type { CallContext, ContentWriter } from '../containerd/index.js';
import { isContainerdGone } from '../containerd/index.js';
import {
  CancelledError,
  EngineError,
  InvalidArgumentError,
  NotFoundError,
  wrapError,
} from '../errors/index.js';
import { sha256Digest, shortId } from '../oci/digest.js';
import { parseImageConfig, type Descriptor, type ImageManifest } from '../oci/image-config.js';
import { LABEL_GC_REF_CONTENT_MANIFEST_PREFIX } from '../oci/labels.js';
import { configGcLabels, manifestGcLabels } from '../oci/manifest.js';
import { familiarName, parseReference } from '../oci/reference.js';
import type { Credentials } from '../registry/auth.js';
import { RegistrySession } from '../registry/client.js';
import {
  MANIFEST_ACCEPT,
  classifyManifest,
  hostPlatform,
  parsePlatform,
  selectPlatform,
  type PlatformSpec,
} from '../registry/manifests.js';
import { registryHost } from '../registry/reference.js';
import {
  Limiter,
  addSourceRepo,
  sleep,
  sourceLabelKey,
  type DistributionDeps,
} from './distribution-common.js';
import { message, progress, status, Throttle, type ProgressSink } from './progress.js';

/** MAX_CONCURRENT_DOWNLOADS is dockerd's default `max-concurrent-downloads`. */
export const MAX_CONCURRENT_DOWNLOADS = 3;
/** DOWNLOAD_ATTEMPTS is how many times a layer download is tried (dockerd: 5, backing off). */
export const DOWNLOAD_ATTEMPTS = 3;
const MAX_CONFIG_BYTES = 20 << 20;

/** PullOptions are POST /images/create's pull parameters. */
export interface PullOptions {
  fromImage: string;
  tag?: string;
  platform?: string;
  credentials?: Credentials;
  signal: AbortSignal;
  progress: ProgressSink;
}

/** pullReference combines fromImage and tag as dockerd's postImagesCreate (tag may be a digest). */
export function pullReference(fromImage: string, tag: string | undefined): string {
  const ref = parseReference(fromImage);
  if (tag === undefined || tag === '') {
    if (ref.tag === undefined && ref.digest === undefined) {
      throw new InvalidArgumentError(
        'tag: pulling every tag of a repository (docker pull --all-tags) is not supported by ckptd; name a tag or digest',
      );
    }
    return ref.toString();
  }
  if (ref.tag !== undefined || ref.digest !== undefined) {
    // dockerd: the tag parameter is ignored when fromImage already has one (the CLI never sends both).
    return ref.toString();
  }
  if (/^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/.test(tag)) {
    return parseReference(`${ref.name}@${tag}`).toString();
  }
  return parseReference(`${ref.name}:${tag}`).toString();
}

interface LayerJob {
  desc: Descriptor;
  id: string;
  /** exists: the blob was in the content store before the pull. */
  exists: boolean;
  done: Promise<void>;
}

/** pullImage runs one pull; errors before the first progress message are plain API errors. */
export async function pullImage(deps: DistributionDeps, opts: PullOptions): Promise<void> {
  const full = pullReference(opts.fromImage, opts.tag);
  const ref = parseReference(full);
  const platform: PlatformSpec = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  const host = registryHost(ref.domain);
  const session = new RegistrySession({
    transport: deps.transport,
    tokens: deps.tokens,
    host,
    credentials: opts.credentials,
    signal: opts.signal,
  });
  const shownRef = familiarName(full);
  const tagOrDigest = ref.digest ?? ref.tag ?? 'latest';
  const { client, images } = deps;

  let fetched;
  try {
    fetched = await session.getManifest(ref.path, tagOrDigest, MANIFEST_ACCEPT);
  } catch (err) {
    throw pullError(err, ref.name, shownRef);
  }
  const topDigest = sha256Digest(fetched.bytes);
  if (ref.digest !== undefined && topDigest !== ref.digest) {
    throw new InvalidArgumentError(`manifest verification failed for digest ${ref.digest}`);
  }
  if (
    fetched.headerDigest &&
    fetched.headerDigest.startsWith('sha256:') &&
    fetched.headerDigest !== topDigest
  ) {
    throw new InvalidArgumentError(`manifest verification failed for digest ${fetched.headerDigest}`);
  }
  const top = classifyManifest(fetched.bytes, fetched.mediaType, shownRef);

  await client.withLease(
    async (ctx) => {
      let index: { desc: Descriptor; bytes: Buffer } | undefined;
      let manifestDesc: Descriptor;
      let manifestBytes: Buffer;
      let manifest: ImageManifest;
      if (top.kind === 'index') {
        index = {
          desc: { mediaType: top.mediaType, digest: topDigest, size: fetched.bytes.length },
          bytes: fetched.bytes,
        };
        manifestDesc = selectPlatform(top.index, platform);
        const m = await session.getManifest(ref.path, manifestDesc.digest, MANIFEST_ACCEPT);
        if (sha256Digest(m.bytes) !== manifestDesc.digest) {
          throw new InvalidArgumentError(`manifest verification failed for digest ${manifestDesc.digest}`);
        }
        const c = classifyManifest(m.bytes, m.mediaType, shownRef);
        if (c.kind !== 'manifest')
          throw new InvalidArgumentError(`${shownRef}: an index inside an index is not supported`);
        manifest = c.manifest;
        manifestBytes = m.bytes;
      } else {
        manifestDesc = { mediaType: top.mediaType, digest: topDigest, size: fetched.bytes.length };
        manifest = top.manifest;
        manifestBytes = fetched.bytes;
      }
      opts.progress({ status: `Pulling from ${ref.path}`, id: tagOrDigest });

      const configBytes = await fetchSmallBlob(session, ref.path, manifest.config, opts.signal);
      const config = parseImageConfig(configBytes);
      const diffIds = [...config.rootfs.diff_ids];
      if (diffIds.length !== manifest.layers.length) {
        throw new InvalidArgumentError(
          `invalid image: manifest has ${manifest.layers.length} layers, config has ${diffIds.length} diff IDs`,
        );
      }
      const configPlatform = { os: config.os, architecture: config.architecture };
      if (
        opts.platform &&
        (configPlatform.os !== platform.os || configPlatform.architecture !== platform.architecture)
      ) {
        throw new NotFoundError(
          `image with reference ${shownRef} was found but does not match the specified platform: wanted ${platform.os}/${platform.architecture}, actual: ${configPlatform.os}/${configPlatform.architecture}`,
        );
      }

      // Layers: "Already exists" for blobs in the store, the others download 3 at a time.
      const abort = new AbortController();
      const signal = AbortSignal.any([opts.signal, abort.signal]);
      const limiter = new Limiter(MAX_CONCURRENT_DOWNLOADS);
      const throttle = new Throttle();
      const jobs: LayerJob[] = [];
      const seen = new Map<string, Promise<void>>();
      for (const desc of manifest.layers) {
        const id = shortId(desc.digest);
        const exists = await blobExists(deps, desc.digest, ctx);
        if (exists) opts.progress(status(id, 'Already exists'));
        else if (!seen.has(desc.digest)) opts.progress(status(id, 'Pulling fs layer'));
        jobs.push({ desc, id, exists, done: Promise.resolve() });
      }
      let started = 0;
      // The failure that stopped the pull, not the cancellations it caused.
      let firstFailure: unknown;
      for (const job of jobs) {
        if (job.exists) continue;
        const dup = seen.get(job.desc.digest);
        if (dup) {
          job.done = dup;
          continue;
        }
        if (started++ >= MAX_CONCURRENT_DOWNLOADS) opts.progress(status(job.id, 'Waiting'));
        job.done = limiter.run(() =>
          downloadLayer(deps, session, ref.path, ref.domain, job, ctx, signal, opts.progress, throttle),
        );
        seen.set(job.desc.digest, job.done);
        job.done.catch((err: unknown) => {
          firstFailure ??= err;
          abort.abort(new CancelledError('another layer failed'));
        });
      }
      // Settled, not Promise.all: on failure every download must have stopped (its ingest
      // aborted) before the lease goes.
      const allDownloads = Promise.allSettled(jobs.map((j) => j.done)).then((rs) => {
        const failed = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      });
      allDownloads.catch(() => undefined);

      let chainTop: string;
      try {
        chainTop = await images.unpackLayers(manifest, diffIds, ctx, {
          before: async (i) => {
            const job = jobs[i]!;
            await job.done;
            opts.progress(progress(job.id, 'Extracting', 0, job.desc.size));
          },
          after: (i) => {
            const job = jobs[i]!;
            if (!job.exists) {
              opts.progress(progress(job.id, 'Extracting', job.desc.size, job.desc.size));
              opts.progress(status(job.id, 'Pull complete'));
            }
          },
          skipped: async (i) => {
            const job = jobs[i]!;
            await job.done;
            if (!job.exists) opts.progress(status(job.id, 'Pull complete'));
          },
        });
        await allDownloads;
      } catch (err) {
        abort.abort(new CancelledError('pull failed'));
        await allDownloads.catch(() => undefined);
        throw firstFailure ?? err;
      }

      // Content last, with containerd's GC labels and the distribution source, then the name.
      const source = { [sourceLabelKey(ref.domain)]: ref.path };
      const snapLabels = chainTop ? configGcLabels(images.snapshotter, chainTop) : {};
      await images.writeImageBlob(configBytes, manifest.config.digest, { ...snapLabels }, ctx);
      await addSourceRepo(client, manifest.config.digest, ref.domain, ref.path, ctx);
      await images.writeImageBlob(manifestBytes, manifestDesc.digest, { ...manifestGcLabels(manifest) }, ctx);
      await addSourceRepo(client, manifestDesc.digest, ref.domain, ref.path, ctx);
      let target = {
        mediaType: manifestDesc.mediaType,
        digest: manifestDesc.digest,
        size: manifestDesc.size,
      };
      if (index && !opts.platform) {
        await images.writeImageBlob(
          index.bytes,
          index.desc.digest,
          { [`${LABEL_GC_REF_CONTENT_MANIFEST_PREFIX}0`]: manifestDesc.digest, ...source },
          ctx,
        );
        await addSourceRepo(client, index.desc.digest, ref.domain, ref.path, ctx);
        target = { mediaType: index.desc.mediaType, digest: index.desc.digest, size: index.desc.size };
      }
      let upToDate = false;
      try {
        upToDate = (await client.images.get(full, ctx)).target?.digest === target.digest;
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
      if (!upToDate) await images.nameImage(full, target, manifest.config.digest, ctx);
      opts.progress(message(`Digest: ${topDigest}`));
      opts.progress(
        message(
          upToDate
            ? `Status: Image is up to date for ${shownRef}`
            : `Status: Downloaded newer image for ${shownRef}`,
        ),
      );
    },
    { ctx: { signal: opts.signal } },
  );
  deps.events?.publish('image', 'pull', shownRef, { name: shownRef });
}

/** pullError words a manifest fetch failure as dockerd does. */
function pullError(err: unknown, name: string, shown: string): unknown {
  if (!(err instanceof EngineError)) return err;
  if (err.kind === 'NotFound' && /manifest unknown/.test(err.message)) {
    return new NotFoundError(`manifest for ${shown} not found: ${err.message}`, { cause: err });
  }
  if (
    err.kind === 'NotFound' ||
    err.kind === 'PermissionDenied' ||
    (err.kind === 'Unauthenticated' && !/^Get "/.test(err.message))
  ) {
    // dockerd answers 404 here (its notFoundError): a 401 would make the CLI prompt for a login.
    return new NotFoundError(
      `pull access denied for ${familiarName(name)}, repository does not exist or may require 'docker login': ${err.message}`,
      { cause: err },
    );
  }
  return err;
}

async function blobExists(deps: DistributionDeps, digest: string, ctx: CallContext): Promise<boolean> {
  try {
    await deps.client.content.info(digest, ctx);
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

async function fetchSmallBlob(
  session: RegistrySession,
  repo: string,
  desc: Descriptor,
  signal: AbortSignal,
): Promise<Buffer> {
  if (desc.size > MAX_CONFIG_BYTES)
    throw new InvalidArgumentError(`config blob ${desc.digest} is too large (${desc.size} bytes)`);
  const { body } = await session.blob(repo, desc.digest);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    signal.throwIfAborted();
    total += c.length;
    if (total > desc.size) {
      body.destroy();
      break;
    }
    chunks.push(c);
  }
  const buf = Buffer.concat(chunks);
  if (buf.length !== desc.size || sha256Digest(buf) !== desc.digest) {
    throw new InvalidArgumentError(`failed to verify config blob ${desc.digest}: digest or size mismatch`);
  }
  return buf;
}

/**
 * downloadLayer streams one layer into a content ingest named after its digest (so an ingest a
 * crashed pull left is resumed from its offset), retrying a cut connection with Range from
 * what containerd acknowledged. Another pull holding the same ingest: wait for its blob.
 */
async function downloadLayer(
  deps: DistributionDeps,
  session: RegistrySession,
  repo: string,
  domain: string,
  job: LayerJob,
  ctx: CallContext,
  signal: AbortSignal,
  sink: ProgressSink,
  throttle: Throttle,
): Promise<void> {
  const { desc, id } = job;
  const ref = `pull-${desc.digest}`;
  const wctx: CallContext = { ...ctx, signal };
  let writer: ContentWriter | undefined;
  for (let opened = 0; ; opened++) {
    writer = deps.client.content.writer(ref, { total: desc.size, expected: desc.digest, resume: true }, wctx);
    // Failures surface through write callbacks and commit(); an 'error' event nobody heard
    // would take the daemon down.
    writer.on('error', () => undefined);
    try {
      await writer.ready();
      break;
    } catch (err) {
      writer.destroy();
      writer = undefined;
      // Locked: another pull is writing this layer; wait for it (containerd's remotes do the same).
      if (
        err instanceof EngineError &&
        err.kind === 'Unavailable' &&
        !isContainerdGone(err) &&
        opened < 1200
      ) {
        await sleep(500, signal);
        continue;
      }
      throw wrapError(`pulling layer ${desc.digest}`, err);
    }
  }
  const w = writer;
  try {
    if (!w.exists) {
      for (let attempt = 1; ; attempt++) {
        try {
          await streamInto(session, repo, desc, id, w, signal, sink, throttle);
          break;
        } catch (err) {
          if (signal.aborted) throw err;
          // a registry that is away is retried; a containerd that went away broke the writer
          const retryable =
            err instanceof EngineError
              ? err.kind === 'Unavailable' && !isContainerdGone(err)
              : isNetError(err);
          if (!retryable || attempt >= DOWNLOAD_ATTEMPTS) throw err;
          for (let s = attempt; s > 0; s--) {
            sink(status(id, `Retrying in ${s} second${s > 1 ? 's' : ''}`));
            await sleep(1000, signal);
          }
        }
      }
      sink(status(id, 'Verifying Checksum'));
    }
    try {
      await w.commit(desc.size, desc.digest);
    } catch (err) {
      throw new InvalidArgumentError(`filesystem layer verification failed for digest ${desc.digest}`, {
        cause: err,
      });
    }
  } catch (err) {
    w.destroy();
    throw err;
  }
  await addSourceRepo(deps.client, desc.digest, domain, repo, ctx);
  sink(status(id, 'Download complete'));
}

function isNetError(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ETIMEDOUT' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    code === 'ECONNREFUSED'
  );
}

async function streamInto(
  session: RegistrySession,
  repo: string,
  desc: Descriptor,
  id: string,
  w: ContentWriter,
  signal: AbortSignal,
  sink: ProgressSink,
  throttle: Throttle,
): Promise<void> {
  // Every queued write acknowledged first: the resume offset is what containerd holds.
  await new Promise<void>((resolve, reject) =>
    w.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
  );
  await w.settled();
  const from = w.written;
  const { body, ranged } = await session.blob(repo, desc.digest, from);
  if (from > 0 && !ranged) {
    body.destroy();
    throw new InvalidArgumentError(`registry ignored the range request resuming blob ${desc.digest}`);
  }
  let current = from;
  let complete = false;
  const onAbort = (): void => {
    body.destroy(new CancelledError('pull cancelled'));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    body.on('aborted', () =>
      body.destroy(Object.assign(new Error('connection cut'), { code: 'ECONNRESET' })),
    );
    for await (const chunk of body as AsyncIterable<Buffer>) {
      current += chunk.length;
      if (current > desc.size)
        throw new InvalidArgumentError(`blob ${desc.digest} is longer than its ${desc.size} bytes`);
      if (!w.write(chunk)) await once(w, 'drain', { signal });
      if (throttle.due(id, current === desc.size)) sink(progress(id, 'Downloading', current, desc.size));
    }
    complete = current === desc.size;
  } catch (err) {
    if (err instanceof EngineError || signal.aborted) throw err;
    // A body cut by the peer ('aborted', ECONNRESET): Go's reader says unexpected EOF.
    throw Object.assign(new Error('unexpected EOF'), { code: 'ECONNRESET', cause: err });
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (!complete) {
    throw Object.assign(
      new Error(`unexpected EOF after ${current} of ${desc.size} bytes of ${desc.digest}`),
      {
        code: 'ECONNRESET',
      },
    );
  }
}
