/**
 * pushImage: `POST /images/{name}/push` as dockerd's distribution pusher (push_v2.go): layers
 * 5 at a time (dockerd's `max-concurrent-uploads`), each skipped when the repository has it
 * (HEAD), mounted from another repository of the same registry when containerd's
 * distribution-source label names one, else streamed from the content store (one PUT for a
 * small blob, PATCH chunks then PUT for a large one); then the config, and the manifest last.
 */
import type { Readable } from 'node:stream';
import type { CallContext } from '../containerd/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { shortId } from '../oci/digest.js';
import type { Descriptor } from '../oci/image-config.js';
import { parseReference, withTag } from '../oci/reference.js';
import type { Credentials } from '../registry/auth.js';
import { RegistrySession, pullScope, pushScope } from '../registry/client.js';
import { registryHost } from '../registry/reference.js';
import { Limiter, addSourceRepo, sourceRepos, type DistributionDeps } from './distribution-common.js';
import { message, progress, status, Throttle, type ProgressSink } from './progress.js';

/** MAX_CONCURRENT_UPLOADS is dockerd's default `max-concurrent-uploads`. */
export const MAX_CONCURRENT_UPLOADS = 5;
/** MONOLITHIC_MAX_BYTES: blobs up to this size go in one PUT; larger ones in PATCH chunks. */
export const MONOLITHIC_MAX_BYTES = 32 << 20;
/** CHUNK_BYTES is the size of one PATCH of a chunked upload. */
export const CHUNK_BYTES = 128 << 20;

/** PushOptions are POST /images/{name}/push's parameters. */
export interface PushOptions {
  name: string;
  tag?: string;
  credentials?: Credentials;
  signal: AbortSignal;
  progress: ProgressSink;
}

/** pushReference is the full `name:tag` a push sends, as dockerd's postImagesPush. */
export function pushReference(name: string, tag: string | undefined): string {
  const ref = parseReference(name);
  if (ref.digest !== undefined) throw new InvalidArgumentError(`cannot push a digest reference: ${name}`);
  if (tag !== undefined && tag !== '') return withTag(ref.name, tag);
  if (ref.tag === undefined) {
    throw new InvalidArgumentError(
      'tag: pushing every tag of a repository (docker push --all-tags) is not supported by ckptd; name a tag',
    );
  }
  return ref.toString();
}

/** pushImage pushes one tagged image; errors before the first message are plain API errors. */
export async function pushImage(deps: DistributionDeps, opts: PushOptions): Promise<void> {
  const full = pushReference(opts.name, opts.tag);
  const ref = parseReference(full);
  const { client, images } = deps;
  const img = await images.resolveImage(full, opts.signal);
  const repo = ref.path;
  const session = new RegistrySession({
    transport: deps.transport,
    tokens: deps.tokens,
    host: registryHost(ref.domain),
    credentials: opts.credentials,
    signal: opts.signal,
  });
  const ctx: CallContext = { signal: opts.signal };
  const manifestBytes = await client.content.readBlob(img.target.digest, 4 << 20, ctx);
  opts.progress(message(`The push refers to repository [${ref.name}]`));
  const scopes = [pushScope(repo)];
  await session.authorize(scopes);

  const layers = img.manifest.layers.map((desc, i) => ({ desc, id: shortId(img.diffIds[i] ?? desc.digest) }));
  const order = [...layers].reverse();
  const unique = order.filter((l, i) => order.findIndex((o) => o.desc.digest === l.desc.digest) === i);
  for (const l of unique) opts.progress(status(l.id, 'Preparing'));
  const limiter = new Limiter(MAX_CONCURRENT_UPLOADS);
  const throttle = new Throttle();
  const abort = new AbortController();
  const signal = AbortSignal.any([opts.signal, abort.signal]);
  const uploads = unique.map((l, i) => {
    if (i >= MAX_CONCURRENT_UPLOADS) opts.progress(status(l.id, 'Waiting'));
    const p = limiter.run(async () => {
      signal.throwIfAborted();
      const outcome = await pushBlob(deps, session, ref.domain, repo, l.desc, signal, (cur) => {
        if (throttle.due(l.id, cur === l.desc.size))
          opts.progress(progress(l.id, 'Pushing', cur, l.desc.size));
      });
      if (outcome.kind === 'exists') opts.progress(status(l.id, 'Layer already exists'));
      else if (outcome.kind === 'mounted') opts.progress(status(l.id, `Mounted from ${outcome.from}`));
      else opts.progress(status(l.id, 'Pushed'));
    });
    p.catch((err: unknown) => abort.abort(err));
    return p;
  });
  const settled = await Promise.allSettled(uploads);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;

  await pushBlob(deps, session, ref.domain, repo, img.manifest.config, opts.signal, () => undefined);
  const tag = ref.tag ?? 'latest';
  const digest =
    (await session.putManifest(repo, tag, img.target.mediaType, manifestBytes)) ?? img.target.digest;
  await addSourceRepo(client, img.target.digest, ref.domain, repo, ctx).catch(() => undefined);
  opts.progress(message(`${tag}: digest: ${digest} size: ${manifestBytes.length}`));
  opts.progress({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: manifestBytes.length } });
  deps.events?.publish('image', 'push', full, { name: full });
}

type BlobOutcome = { kind: 'exists' } | { kind: 'mounted'; from: string } | { kind: 'pushed' };

async function pushBlob(
  deps: DistributionDeps,
  session: RegistrySession,
  domain: string,
  repo: string,
  desc: Descriptor,
  signal: AbortSignal,
  onProgress: (current: number) => void,
): Promise<BlobOutcome> {
  const ctx: CallContext = { signal };
  const scopes = [pushScope(repo)];
  if (await session.hasBlob(repo, desc.digest, scopes)) {
    await addSourceRepo(deps.client, desc.digest, domain, repo, ctx);
    return { kind: 'exists' };
  }
  for (const from of await sourceRepos(deps.client, desc.digest, domain, ctx)) {
    if (from === repo) continue;
    const mountScopes = [...scopes, pullScope(from)];
    const start = await session.startUpload(repo, mountScopes, { digest: desc.digest, from });
    if (start.mounted) {
      await addSourceRepo(deps.client, desc.digest, domain, repo, ctx);
      return { kind: 'mounted', from };
    }
    return upload(deps, session, start.location, scopes, desc, signal, onProgress, domain, repo);
  }
  const start = await session.startUpload(repo, scopes);
  if (start.mounted) return { kind: 'mounted', from: repo };
  return upload(deps, session, start.location, scopes, desc, signal, onProgress, domain, repo);
}

async function upload(
  deps: DistributionDeps,
  session: RegistrySession,
  location: string,
  scopes: string[],
  desc: Descriptor,
  signal: AbortSignal,
  onProgress: (current: number) => void,
  domain: string,
  repo: string,
): Promise<BlobOutcome> {
  const ctx: CallContext = { signal };
  let sent = 0;
  const tap = (stream: Readable): Readable => {
    stream.on('data', (c: Buffer) => {
      sent += c.length;
      onProgress(sent);
    });
    return stream;
  };
  if (desc.size <= MONOLITHIC_MAX_BYTES) {
    const stream = tap(deps.client.content.readStream(desc.digest, {}, ctx));
    await session.finishUpload(location, scopes, desc.digest, { stream, size: desc.size });
  } else {
    let loc = location;
    for (let off = 0; off < desc.size; off += CHUNK_BYTES) {
      const len = Math.min(CHUNK_BYTES, desc.size - off);
      const stream = tap(deps.client.content.readStream(desc.digest, { offset: off, size: len }, ctx));
      loc = await session.patchChunk(loc, scopes, stream, off, len);
    }
    await session.finishUpload(loc, scopes, desc.digest);
  }
  await addSourceRepo(deps.client, desc.digest, domain, repo, ctx);
  return { kind: 'pushed' };
}
