/**
 * writeImageArchive streams a docker-save archive (GET /images/get) the way dockerd 25+ lays it
 * out (moby image/tarexport/save.go): an OCI image layout (`oci-layout`, `index.json`,
 * `blobs/sha256/<hex>` for every manifest, config and layer, each written once) plus docker's
 * `manifest.json` and `repositories`. Older `docker load` (dockerd 20.10) reads only
 * manifest.json and the config and layer paths it names; it decompresses layers itself, so
 * compressed layer blobs are fine there.
 *
 * Blobs are opened one at a time, only when it is their turn, and piped into the tar with
 * backpressure: nothing is buffered whole. Entries get a fixed mtime (epoch 0 by default) so
 * the same images always give the same bytes.
 */
import { makeTempDir } from '../host/temp-dirs.js';
import { lstat, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

import { CancelledError, InvalidArgumentError, isEngineError, wrapError } from '../errors/index.js';
import { pipelineSource, type ArchiveSource } from './compression.js';
import type { Descriptor } from './image-archive-reader.js';
import {
  Annotations,
  MediaTypes,
  blobPath,
  familiarName,
  isDigest,
  parseNormalizedRef,
  refString,
  type ParsedRef,
} from './oci-local.js';

/** ExportImage is one image to save. */
export interface ExportImage {
  /** names are full references (docker.io/library/busybox:latest); digest-only refs are skipped. */
  names: string[];
  manifest: Descriptor;
  config: { digest: string; size: number };
  layers: Descriptor[];
}

/** BlobSourceOptions are passed to every BlobSource call. */
export interface BlobSourceOptions {
  signal: AbortSignal;
}

/**
 * BlobSource reads content by digest (in ckptd: containerd's content store, under a lease).
 * `open` returns a stream of exactly the blob's bytes; the writer destroys it on abort or error.
 */
export interface BlobSource {
  open(digest: string, opts: BlobSourceOptions): Promise<Readable>;
  /** readJson reads a small JSON blob (an image config) into memory. */
  readJson(digest: string, opts: BlobSourceOptions): Promise<unknown>;
}

/** WriteImageArchiveOptions are the options of writeImageArchive. */
export interface WriteImageArchiveOptions {
  signal: AbortSignal;
  /** mtime of every entry; fixed so output is reproducible. Default: epoch 0. */
  mtime?: Date;
  /** layout is the archive already planned by planImageArchive (else planned here). */
  layout?: ImageArchiveLayout;
}

interface ManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

interface IndexDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Record<string, string>;
}

const OCI_LAYOUT = '{"imageLayoutVersion":"1.0.0"}';

function checkDescriptor(d: { digest: string; size: number }, what: string): void {
  if (!isDigest(d.digest) || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw new InvalidArgumentError(`cannot save image: invalid ${what} descriptor ${JSON.stringify(d)}`);
  }
}

function platformOf(config: unknown): Record<string, string> | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const c = config as Record<string, unknown>;
  if (typeof c.architecture !== 'string' || typeof c.os !== 'string') return undefined;
  // Field order of Go's ocispec.Platform, so the bytes match dockerd's.
  const p: Record<string, string> = { architecture: c.architecture, os: c.os };
  if (typeof c.variant === 'string' && c.variant) p.variant = c.variant;
  return p;
}

function topDiffId(config: unknown): string | undefined {
  const rootfs = (config as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs;
  const ids = rootfs?.diff_ids;
  if (!Array.isArray(ids) || ids.length === 0) return undefined;
  const last: unknown = ids[ids.length - 1];
  return isDigest(last) ? last : undefined;
}

/** Plan is everything decided before the first byte goes out. */
interface Plan {
  blobs: Map<string, number>;
  manifestJson: ManifestItem[];
  index: IndexDescriptor[];
  repositories: Record<string, Record<string, string>>;
}

async function planArchive(images: ExportImage[], source: BlobSource, signal: AbortSignal): Promise<Plan> {
  if (images.length === 0) throw new InvalidArgumentError('cannot save image: no images given');
  const blobs = new Map<string, number>();
  const addBlob = (d: { digest: string; size: number }, what: string): void => {
    checkDescriptor(d, what);
    const known = blobs.get(d.digest);
    if (known !== undefined && known !== d.size) {
      throw new InvalidArgumentError(
        `cannot save image: ${d.digest} given with sizes ${known} and ${d.size}`,
      );
    }
    blobs.set(d.digest, d.size);
  };
  const plan: Plan = { blobs, manifestJson: [], index: [], repositories: {} };
  // One manifest.json entry per image, as dockerd (it groups names by image).
  const byManifest = new Map<string, { image: ExportImage; refs: ParsedRef[] }>();
  for (const image of images) {
    addBlob(image.manifest, 'manifest');
    addBlob(image.config, 'config');
    image.layers.forEach((l) => addBlob(l, 'layer'));
    const entry = byManifest.get(image.manifest.digest) ?? { image, refs: [] };
    byManifest.set(image.manifest.digest, entry);
    for (const name of image.names) {
      const ref = parseNormalizedRef(name);
      if (ref.digest !== undefined || ref.tag === undefined) continue; // dockerd skips canonical refs
      if (!entry.refs.some((r) => refString(r) === refString(ref))) entry.refs.push(ref);
    }
  }
  for (const { image, refs } of byManifest.values()) {
    const config = await source.readJson(image.config.digest, { signal });
    const platform = platformOf(config);
    const top = topDiffId(config) ?? image.layers[image.layers.length - 1]?.digest;
    const base = {
      mediaType: image.manifest.mediaType || MediaTypes.ociManifest,
      digest: image.manifest.digest,
      size: image.manifest.size,
    };
    for (const ref of refs) {
      plan.index.push({
        ...base,
        annotations: { [Annotations.imageName]: refString(ref), [Annotations.refName]: ref.tag! },
        ...(platform ? { platform } : {}),
      });
      // `repositories` maps the familiar name and tag to the top layer's diffID hex, as dockerd.
      if (top) (plan.repositories[familiarName(ref)] ??= {})[ref.tag!] = top.split(':')[1]!;
    }
    if (refs.length === 0) plan.index.push({ ...base, ...(platform ? { platform } : {}) });
    plan.manifestJson.push({
      Config: blobPath(image.config.digest),
      // Go marshals an empty RepoTags as null; docker load accepts both.
      RepoTags: refs.length > 0 ? refs.map((r) => `${familiarName(r)}:${r.tag}`) : null,
      Layers: image.layers.map((l) => blobPath(l.digest)),
    });
  }
  return plan;
}

/**
 * ImageArchiveLayout is a docker-save archive decided before its first byte: the blobs it holds
 * (sorted, with sizes) and its small metadata files (name and text), in archive order.
 */
export interface ImageArchiveLayout {
  blobs: { digest: string; size: number }[];
  files: { name: string; body: string }[];
}

/**
 * planImageArchive decides the archive of `images` (reading their configs from `source`):
 * dockerd's order, a sorted directory walk — blobs/ first, then the metadata files.
 */
export async function planImageArchive(
  images: ExportImage[],
  source: BlobSource,
  signal: AbortSignal,
): Promise<ImageArchiveLayout> {
  const plan = await planArchive(images, source, signal).catch((err: unknown) => {
    throw isEngineError(err) ? err : wrapError('saving images', err);
  });
  const files = [
    {
      name: 'index.json',
      body: JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: plan.index }),
    },
    { name: 'manifest.json', body: `${JSON.stringify(plan.manifestJson)}\n` },
    { name: 'oci-layout', body: OCI_LAYOUT },
  ];
  if (Object.keys(plan.repositories).length > 0) {
    const repos = sortedKeys(
      Object.fromEntries(Object.entries(plan.repositories).map(([k, v]) => [k, sortedKeys(v)])),
    );
    files.push({ name: 'repositories', body: `${JSON.stringify(repos)}\n` });
  }
  return {
    blobs: [...plan.blobs.keys()].sort().map((digest) => ({ digest, size: plan.blobs.get(digest)! })),
    files,
  };
}

function sortedKeys<T>(obj: Record<string, T>): Record<string, T> {
  // Go's encoding/json sorts map keys.
  return Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** writeImageArchive writes `images` as a docker-save tar to `out`, reading blobs from `source`. */
export async function writeImageArchive(
  images: ExportImage[],
  source: BlobSource,
  out: Writable,
  opts: WriteImageArchiveOptions,
): Promise<void> {
  const { signal } = opts;
  const mtime = opts.mtime ?? new Date(0);
  signal.throwIfAborted();
  const layout = opts.layout ?? (await planImageArchive(images, source, signal));

  const pack = tar.pack();
  const sending = pipeline(pack, out, { signal });
  sending.catch(() => {}); // awaited below
  const file = (name: string, size: number) => ({ name, size, mode: 0o644, mtime, type: 'file' as const });
  const dir = (name: string) => ({ name, mode: 0o755, mtime, type: 'directory' as const });
  const small = (name: string, body: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const buf = Buffer.from(body, 'utf8');
      pack.entry(file(name, buf.length), buf, (err) => (err ? reject(err) : resolve()));
    });

  let failure: unknown;
  try {
    // dockerd's order (a sorted directory walk): blobs/, then the metadata files.
    await new Promise<void>((resolve, reject) =>
      pack.entry(dir('blobs/'), (err) => (err ? reject(err) : resolve())),
    );
    await new Promise<void>((resolve, reject) =>
      pack.entry(dir('blobs/sha256/'), (err) => (err ? reject(err) : resolve())),
    );
    for (const { digest, size } of layout.blobs) {
      signal.throwIfAborted();
      const entry = pack.entry(file(blobPath(digest), size));
      const blob = await source.open(digest, { signal });
      try {
        await pipeline(blob, entry, { signal });
      } catch (err) {
        blob.destroy();
        throw err;
      }
    }
    for (const f of layout.files) await small(f.name, f.body);
    pack.finalize();
  } catch (err) {
    failure = err;
    pack.destroy(err instanceof Error ? err : new Error(String(err)));
  }
  try {
    await sending;
  } catch (err) {
    failure ??= err;
  }
  if (failure === undefined) return;
  if (signal.aborted) throw new CancelledError('image save cancelled', { cause: signal.reason ?? failure });
  throw isEngineError(failure) ? failure : wrapError('saving images', failure);
}

/** SAVE_TAR_RECORD is tar's record size for a local save: 128 blocks = 64 KiB. */
const SAVE_TAR_RECORD = 128;

/**
 * contentStoreBlob is the file of a sha256 blob in a local containerd content store (its
 * `blobs/sha256/<hex>` layout), or undefined for another kind of digest.
 */
export function contentStoreBlob(contentDir: string, digest: string): string | undefined {
  return /^sha256:[0-9a-f]{64}$/.test(digest) ? join(contentDir, blobPath(digest)) : undefined;
}

/**
 * localImageArchive prepares `layout` to be written by the host's GNU tar straight from a local
 * containerd content store (`contentDir`, whose blobs/sha256/<hex> files are complete and
 * immutable): a private staging directory holds the metadata files and a symlink per blob, and
 * tar (dereferencing them) streams the archive without the blobs passing through Node. Entries
 * as writeImageArchive lays them out (sorted, mtime 0, owner 0:0, 0644/0755). Undefined when a
 * blob is not a regular file of its size there: save through Content.Read then. The caller
 * holds the blobs (a lease) until the opened stream closes, then calls cleanup().
 */
export async function localImageArchive(
  contentDir: string,
  layout: ImageArchiveLayout,
): Promise<{ source: ArchiveSource; cleanup(): Promise<void> } | undefined> {
  const blobFile = (digest: string) => contentStoreBlob(contentDir, digest);
  for (const b of layout.blobs) {
    const path = blobFile(b.digest);
    if (path === undefined) return undefined;
    const st = await lstat(path).catch(() => undefined);
    if (!st?.isFile() || st.size !== b.size) return undefined;
  }
  const dir = await makeTempDir('ckptd-save-');
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    for (const b of layout.blobs) await symlink(blobFile(b.digest)!, join(dir, blobPath(b.digest)));
    for (const f of layout.files) await writeFile(join(dir, f.name), f.body, { mode: 0o644 });
  } catch (err) {
    await cleanup();
    throw wrapError('saving images', err);
  }
  const source = pipelineSource([
    {
      program: 'tar',
      args: [
        '--create',
        '--file=-',
        `--blocking-factor=${SAVE_TAR_RECORD}`,
        '--format=gnu',
        '--dereference',
        '--sort=name',
        '--mtime=@0',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '--mode=u=rwX,go=rX',
        '--directory',
        dir,
        '--',
        'blobs',
        ...layout.files.map((f) => f.name),
      ],
      what: 'tar of the images',
    },
  ]);
  return { source, cleanup };
}
