/**
 * readImageArchive parses an image archive (POST /images/load) in one streaming pass.
 *
 * Accepted: a docker-save tar (manifest.json + `<id>/layer.tar` + `<id>.json`; and the
 * dockerd 25+ flavour that is also an OCI layout), or an OCI image-layout tar (oci-layout,
 * index.json, blobs/<alg>/<hex>); plain, gzip, bzip2, xz or zstd compressed.
 *
 * manifest.json / index.json may come before or after the blobs, so every regular file that is
 * not top-level metadata is streamed straight into the BlobSink as it arrives, and the images
 * are resolved once the archive ends. Nothing is buffered whole but small JSON (capped), and no
 * temp file is written. The archive is untrusted: paths are checked, links are resolved inside
 * the archive's own namespace only (the host filesystem is never touched), JSON is read through
 * a cap (containerd's 20 MiB LimitReader, GHSA-259w-8hf6-59c2), entry counts and the
 * uncompressed size are bounded, and every layer's diffID is checked against the config.
 *
 * diffIDs without reading a blob twice: a BlobTap between the tar entry and the sink sniffs
 * the magic bytes; for a compressed entry it feeds the same chunks into a decompressor whose
 * output is only hashed (in process for gzip, through the host's zstd/xz/bzip2 otherwise).
 * The sink therefore only hashes what it stores; it never has to decompress or re-read.
 * Uncompressed entries need nothing more: their stored digest is their diffID.
 */
import { pipeline } from 'node:stream/promises';
import { PassThrough, Readable, Writable } from 'node:stream';
import tar from 'tar-stream';

import {
  CancelledError,
  EngineError,
  InvalidArgumentError,
  NotImplementedError,
  isEngineError,
} from '../errors/index.js';
import { BlobTap, type JsonBudget } from './blob-tap.js';
import { AutoDecompress, ByteLimit, type CompressionKind } from './compression.js';
import {
  Annotations,
  MediaTypes,
  blobPath,
  digestFromBlobPath,
  dockerLayerMediaType,
  isDigest,
  isIndexMediaType,
  isManifestMediaType,
  layerMediaCompression,
  parseNormalizedRef,
  refString,
} from './oci-local.js';

/** StoredBlob is what the sink stored for one entry: the digest and size of its bytes. */
export interface StoredBlob {
  digest: string;
  size: number;
}

/** BlobWriteOptions tells the sink what it is about to receive. */
export interface BlobWriteOptions {
  /** size is the exact byte count of the stream (from the tar header). */
  size: number;
  /** expectedDigest, for `blobs/<alg>/<hex>` entries: the sink must refuse other content. */
  expectedDigest?: string;
  signal: AbortSignal;
}

/**
 * BlobSink stores archive entries as content (in ckptd: containerd's content store, under the
 * caller's lease).
 *
 * `write` must consume `stream` to its end, hash what it stores (sha256) and resolve with that
 * digest and size, or reject (a digest other than `expectedDigest` must reject). It must
 * propagate an error of `stream` as its rejection. It never decompresses: diffIDs of
 * compressed layers are computed by the reader on the same pass. Blobs already written when
 * the reader fails are the caller's to drop (they live under its lease).
 */
export interface BlobSink {
  write(path: string, stream: Readable, opts: BlobWriteOptions): Promise<StoredBlob>;
}

/** ArchiveLimits bounds what an untrusted archive may make ckptd do. */
export interface ArchiveLimits {
  /** maxEntries bounds the tar entries (headers) of the outer archive. */
  maxEntries: number;
  /** maxMetadataFileBytes bounds one JSON file read into memory (manifest, index, config). */
  maxMetadataFileBytes: number;
  /** maxMetadataBytes bounds all JSON held in memory at once. */
  maxMetadataBytes: number;
  /** maxUncompressedBytes bounds the decompressed archive and each layer's decompressed size. */
  maxUncompressedBytes: number;
  /** maxImages bounds the images (manifest.json entries / index descriptors) resolved. */
  maxImages: number;
}

/** DEFAULT_ARCHIVE_LIMITS are the limits used where a caller sets none. */
export const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = Object.freeze({
  maxEntries: 100_000,
  maxMetadataFileBytes: 20 * 1024 * 1024,
  maxMetadataBytes: 128 * 1024 * 1024,
  maxUncompressedBytes: 256 * 1024 ** 3,
  maxImages: 10_000,
});

/** ReadImageArchiveOptions are the options of readImageArchive. */
export interface ReadImageArchiveOptions {
  signal: AbortSignal;
  limits?: Partial<ArchiveLimits>;
}

/** Descriptor is an OCI content descriptor (the fields ckptd uses). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** Platform is the platform of an image, from its index descriptor or its config. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** ArchiveLayer is one verified layer of an image in the archive. */
export interface ArchiveLayer {
  /** digest of the stored blob (compressed bytes for a compressed layer). */
  digest: string;
  size: number;
  mediaType: string;
  /** diffId is sha256 of the uncompressed layer, checked against the config's rootfs.diff_ids. */
  diffId: string;
  compression: CompressionKind;
}

/** ArchiveImage is one image found in the archive. */
export interface ArchiveImage {
  /** format tells where the image came from: manifest.json or an OCI index.json. */
  format: 'docker-save' | 'oci-layout';
  /** repoTags are normalized full references (docker.io/library/busybox:latest), deduplicated. */
  repoTags: string[];
  configDigest: string;
  configSize: number;
  configMediaType: string;
  layers: ArchiveLayer[];
  /** manifest is set when the archive carries the image manifest blob (OCI layout). */
  manifest?: Descriptor;
  platform?: Platform;
  /** ociRefName is the raw `org.opencontainers.image.ref.name` annotation (often just a tag). */
  ociRefName?: string;
}

/** ImageArchive is the result of readImageArchive. */
export interface ImageArchive {
  images: ArchiveImage[];
  /** blobs maps each stored entry path to what the sink stored. */
  blobs: Map<string, StoredBlob>;
  /** compression is the compression of the archive as a whole. */
  compression: CompressionKind;
}

const METADATA_FILES = new Set(['manifest.json', 'index.json', 'oci-layout', 'repositories']);
const MAX_LINK_HOPS = 16;
const MAX_INDEX_DEPTH = 4;

interface EntryRecord extends StoredBlob {
  compression: CompressionKind;
  diffId: string | undefined;
  diffIdError: string | undefined;
  /** breakout names the first entry that leaves the root, if the blob is a layer tar. */
  breakout: string | undefined;
  json: Buffer | undefined;
}

interface LinkRecord {
  kind: 'symlink' | 'link';
  target: string;
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError(message);
}

/**
 * cleanArchivePath normalizes a path written inside an archive (entry name or manifest
 * reference) to `a/b/c`, refusing absolute paths, `..` components, NUL and empty names.
 */
export function cleanArchivePath(p: string): string | undefined {
  if (p.includes('\0') || p.startsWith('/')) return undefined;
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') return undefined;
    parts.push(seg);
  }
  return parts.length === 0 ? undefined : parts.join('/');
}

/** scopedJoin resolves a link target inside the archive root, as moby's FollowSymlinkInScope. */
function scopedJoin(dir: string, target: string): string {
  const parts = target.startsWith('/') || dir === '' ? [] : dir.split('/');
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return parts.join('/');
}

function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw invalid(`invalid ${what}: ${(err as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function drain(entry: Readable): Promise<void> {
  await pipeline(
    entry,
    new Writable({
      write(_c, _e, cb) {
        cb();
      },
    }),
  );
}

async function readCapped(entry: Readable, size: number, cap: number, what: string): Promise<Buffer> {
  if (size > cap) throw invalid(`${what} is too large: ${size} bytes, the limit is ${cap}`);
  const chunks: Buffer[] = [];
  let len = 0;
  for await (const chunk of entry as AsyncIterable<Buffer>) {
    len += chunk.length;
    if (len > cap) throw invalid(`${what} is too large: the limit is ${cap} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** ArchiveState collects what the single pass saw; resolve() turns it into images. */
class ArchiveState {
  readonly records = new Map<string, EntryRecord>();
  readonly links = new Map<string, LinkRecord>();
  readonly metadata = new Map<string, Buffer>();
  readonly budget: JsonBudget;
  entries = 0;

  constructor(readonly limits: ArchiveLimits) {
    this.budget = { remaining: limits.maxMetadataBytes };
  }

  /** lookup resolves a manifest path to a stored entry, following in-archive links only. */
  lookup(ref: unknown, what: string): EntryRecord & { path: string } {
    if (typeof ref !== 'string') throw invalid(`invalid manifest: ${what} path is not a string`);
    let p = cleanArchivePath(ref);
    if (p === undefined) {
      throw invalid(`invalid manifest: ${what} path ${JSON.stringify(ref)} is not a clean relative path`);
    }
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const rec = this.records.get(p);
      if (rec) return { ...rec, path: p };
      const link = this.links.get(p);
      if (!link) break;
      p = link.kind === 'symlink' ? scopedJoin(dirname(p), link.target) : scopedJoin('', link.target);
    }
    throw invalid(`invalid manifest: ${what} ${JSON.stringify(ref)} not found in archive`);
  }

  /** has tells whether a path names a stored entry or a link. */
  has(p: string): boolean {
    return this.records.has(p) || this.links.has(p);
  }

  jsonOf(rec: EntryRecord & { path: string }, what: string): unknown {
    if (!rec.json) {
      throw invalid(
        `${what} ${rec.path} is not a JSON object or exceeds the metadata limit ` +
          `(${this.limits.maxMetadataFileBytes} bytes per file, ${this.limits.maxMetadataBytes} in all)`,
      );
    }
    return parseJson(rec.json, `${what} ${rec.path}`);
  }
}

/** readImageArchive reads an image archive from `input`, storing its blobs through `sink`. */
export async function readImageArchive(
  input: Readable,
  sink: BlobSink,
  opts: ReadImageArchiveOptions,
): Promise<ImageArchive> {
  const limits: ArchiveLimits = { ...DEFAULT_ARCHIVE_LIMITS, ...opts.limits };
  const internal = new AbortController();
  const signal = AbortSignal.any([opts.signal, internal.signal]);
  const state = new ArchiveState(limits);
  const decompress = new AutoDecompress();
  const extract = tar.extract();

  // The input is not ours: on failure it is left (paused) for the caller, who may still want
  // to answer on the same connection (POST /images/load reports errors in-band). pipe() leaves
  // its source alone when the destination is destroyed (it unpipes and pauses it); a
  // Readable.from(input.iterator()) would not settle on Node >= 22, whose destroy awaits the
  // iterator's return() behind a next() still waiting for input that may never come.
  const source = new PassThrough();
  // pipe() forwards neither an error of the input nor its closing before the end.
  const onInputError = (err: Error) => source.destroy(err);
  const onInputClose = () => {
    if (!input.readableEnded) source.destroy(new Error('image archive input closed before its end'));
  };
  input.once('error', onInputError);
  input.once('close', onInputClose);
  input.pipe(source);
  const feeding = pipeline(
    source,
    decompress,
    new ByteLimit(limits.maxUncompressedBytes, 'image archive (uncompressed)'),
    extract,
    { signal },
  );
  feeding.catch(() => {}); // awaited below; avoid an unhandled rejection meanwhile

  let failure: unknown;
  try {
    for await (const entry of extract) {
      await handleEntry(entry as unknown as Readable & { header: tar.Header }, state, sink, signal);
    }
  } catch (err) {
    failure = err;
  }
  if (failure !== undefined) internal.abort(failure);
  try {
    await feeding;
  } catch (err) {
    failure ??= err;
    // Prefer a typed error from a stage (decompressor, limit) over tar's generic one.
    if (!isEngineError(failure) && isEngineError(err)) failure = err;
  }
  input.off('error', onInputError);
  input.off('close', onInputClose);
  if (failure !== undefined) throw toReadError(failure, opts.signal);
  if (opts.signal.aborted) throw toReadError(opts.signal.reason, opts.signal);

  const images = resolveImages(state);
  const blobs = new Map<string, StoredBlob>();
  for (const [path, rec] of state.records) blobs.set(path, { digest: rec.digest, size: rec.size });
  return { images, blobs, compression: decompress.kind ?? 'none' };
}

function toReadError(err: unknown, signal: AbortSignal): EngineError {
  if (signal.aborted) {
    return new CancelledError('image load cancelled', { cause: signal.reason ?? err });
  }
  if (isEngineError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/unexpected end/i.test(msg)) {
    return invalid(`invalid image archive: unexpected end of data (truncated archive?)`);
  }
  return new InvalidArgumentError(`invalid image archive: ${msg}`, { cause: err });
}

async function handleEntry(
  entry: Readable & { header: tar.Header },
  state: ArchiveState,
  sink: BlobSink,
  signal: AbortSignal,
): Promise<void> {
  const h = entry.header;
  if (++state.entries > state.limits.maxEntries) {
    throw invalid(`invalid image archive: more than ${state.limits.maxEntries} entries`);
  }
  const name = cleanArchivePath(h.name);
  if (name === undefined) {
    throw invalid(`invalid image archive: unsafe entry name ${JSON.stringify(h.name)}`);
  }
  const type = h.type ?? 'file';
  if (type === 'symlink' || type === 'link') {
    // Recorded as an alias inside the archive (docker 20.10 saves shared layers as symlinks);
    // never resolved against the host filesystem.
    state.records.delete(name);
    state.links.set(name, { kind: type, target: h.linkname ?? '' });
    await drain(entry);
    return;
  }
  if (type !== 'file' && type !== 'contiguous-file') {
    await drain(entry); // directories, devices, fifos: nothing to store
    return;
  }
  const size = h.size ?? 0;
  if (METADATA_FILES.has(name)) {
    const buf = await readCapped(entry, size, state.limits.maxMetadataFileBytes, name);
    const previous = state.metadata.get(name)?.length ?? 0;
    state.budget.remaining += previous;
    if (buf.length > state.budget.remaining) {
      throw invalid(`invalid image archive: metadata exceeds ${state.limits.maxMetadataBytes} bytes`);
    }
    state.budget.remaining -= buf.length;
    state.metadata.set(name, buf);
    return;
  }

  const expectedDigest = digestFromBlobPath(name);
  const tap = new BlobTap({
    captureJson: size <= state.limits.maxMetadataFileBytes,
    budget: state.budget,
    computeDiffId: true,
    maxUncompressedBytes: state.limits.maxUncompressedBytes,
  });
  const piping = pipeline(entry, tap, { signal });
  const storing = Promise.resolve().then(() =>
    sink.write(name, tap, { size, signal, ...(expectedDigest ? { expectedDigest } : {}) }),
  );
  storing.catch((err: unknown) => tap.destroy(err instanceof Error ? err : new Error(String(err))));
  piping.catch(() => {});
  const [stored] = await Promise.all([storing, piping]);
  if (stored.size !== size) {
    throw invalid(`invalid image archive: ${name}: stored ${stored.size} bytes, header says ${size}`);
  }
  if (expectedDigest && stored.digest !== expectedDigest) {
    throw invalid(`invalid image archive: ${name}: digest mismatch, got ${stored.digest}`);
  }
  const old = state.records.get(name);
  if (old?.json) state.budget.remaining += old.json.length;
  state.links.delete(name);
  state.records.set(name, {
    digest: stored.digest,
    size: stored.size,
    compression: tap.compression,
    diffId: tap.diffId,
    diffIdError: tap.diffIdError,
    breakout: tap.layerPaths.breakout,
    json: tap.json,
  });
}

function resolveImages(state: ArchiveState): ArchiveImage[] {
  const manifestJson = state.metadata.get('manifest.json');
  const indexJson = state.metadata.get('index.json');
  if (!manifestJson && !indexJson) {
    throw invalid('invalid image archive: neither manifest.json nor index.json found');
  }
  if (!manifestJson) return resolveOciIndex(state, indexJson!, true);
  // docker load reads manifest.json only; a dockerd 25+ archive also carries an OCI index,
  // which then just contributes the manifest blob and names of the images it agrees with. An
  // index.json that does not resolve (early dockerd 25 listed only foreign layers) is ignored.
  let ociImages: ArchiveImage[] = [];
  if (indexJson) {
    try {
      ociImages = resolveOciIndex(state, indexJson, false);
    } catch {
      ociImages = [];
    }
  }
  const images = resolveDockerManifest(state, manifestJson);
  for (const img of images) {
    const twin = ociImages.find(
      (o) =>
        o.configDigest === img.configDigest &&
        o.layers.length === img.layers.length &&
        o.layers.every((l, i) => l.digest === img.layers[i]!.digest),
    );
    if (!twin) continue;
    if (twin.manifest) img.manifest = twin.manifest;
    img.layers = twin.layers;
    img.repoTags = [...new Set([...img.repoTags, ...twin.repoTags])];
    if (twin.platform) img.platform = twin.platform;
    if (twin.ociRefName !== undefined) img.ociRefName = twin.ociRefName;
  }
  return images;
}

function normalizeTag(raw: unknown, requireTag: boolean): string | undefined {
  if (typeof raw !== 'string') throw invalid(`invalid tag ${JSON.stringify(raw)}`);
  const ref = parseNormalizedRef(raw);
  if (ref.digest !== undefined || ref.tag === undefined) {
    if (requireTag) throw invalid(`invalid tag ${JSON.stringify(raw)}`);
    return undefined;
  }
  return refString(ref);
}

function platformOf(config: Record<string, unknown>): Platform | undefined {
  const { os, architecture, variant } = config;
  if (typeof os !== 'string' || typeof architecture !== 'string') return undefined;
  return { os, architecture, ...(typeof variant === 'string' && variant ? { variant } : {}) };
}

function diffIdsOf(config: unknown, what: string): string[] {
  const rootfs = isObject(config) ? config.rootfs : undefined;
  const ids = isObject(rootfs) ? rootfs.diff_ids : undefined;
  if (!Array.isArray(ids) || !ids.every(isDigest)) {
    throw invalid(`invalid image config ${what}: rootfs.diff_ids missing or malformed`);
  }
  return ids;
}

/** layerDiffId is the diffID of a stored layer: its digest, or the hash of its decompression. */
function layerDiffId(rec: EntryRecord, index: number): string {
  switch (rec.compression) {
    case 'none':
      return rec.digest;
    case 'gzip':
    case 'zstd':
      if (rec.diffId === undefined) {
        throw invalid(`invalid layer ${index}: ${rec.diffIdError ?? 'could not decompress'}`);
      }
      return rec.diffId;
    default:
      throw new NotImplementedError(
        `layer ${index} is ${rec.compression}-compressed: only uncompressed, gzip and zstd layers can be unpacked`,
      );
  }
}

function checkDiffId(rec: EntryRecord, index: number, expected: string): string {
  const got = layerDiffId(rec, index);
  // dockerd's UnpackLayer refuses a layer whose entries leave its root ("breakout").
  if (rec.breakout !== undefined) throw invalid(`invalid layer ${index}: ${rec.breakout}: breakout`);
  if (got !== expected) {
    throw invalid(
      `invalid diffID for layer ${index}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`,
    );
  }
  return got;
}

function resolveDockerManifest(state: ArchiveState, buf: Buffer): ArchiveImage[] {
  const parsed = parseJson(buf, 'manifest.json');
  if (!Array.isArray(parsed)) throw invalid('invalid manifest.json: not a JSON array');
  if (parsed.length > state.limits.maxImages) {
    throw invalid(`invalid manifest.json: more than ${state.limits.maxImages} images`);
  }
  return parsed.map((item: unknown, n) => {
    if (!isObject(item) || !Array.isArray(item.Layers)) {
      throw invalid(`invalid manifest.json: entry ${n} has no Layers`);
    }
    const configRec = state.lookup(item.Config, 'config');
    const config = state.jsonOf(configRec, 'image config');
    const diffIds = diffIdsOf(config, configRec.path);
    const layerPaths: unknown[] = item.Layers;
    if (layerPaths.length !== diffIds.length) {
      throw invalid(
        `invalid manifest, layers length mismatch: expected ${layerPaths.length}, got ${diffIds.length}`,
      );
    }
    const layers = layerPaths.map((p, i): ArchiveLayer => {
      const rec = state.lookup(p, `layer ${i}`);
      const diffId = checkDiffId(rec, i, diffIds[i]!);
      return {
        digest: rec.digest,
        size: rec.size,
        mediaType: dockerLayerMediaType(rec.compression)!,
        diffId,
        compression: rec.compression,
      };
    });
    const tags = item.RepoTags === null || item.RepoTags === undefined ? [] : item.RepoTags;
    if (!Array.isArray(tags)) throw invalid(`invalid manifest.json: entry ${n} RepoTags is not an array`);
    const repoTags = [...new Set(tags.map((t: unknown) => normalizeTag(t, true)!))];
    const platform = isObject(config) ? platformOf(config) : undefined;
    return {
      format: 'docker-save' as const,
      repoTags,
      configDigest: configRec.digest,
      configSize: configRec.size,
      configMediaType: MediaTypes.dockerConfig,
      layers,
      ...(platform ? { platform } : {}),
    };
  });
}

function parseDescriptor(v: unknown, what: string): Descriptor & Record<string, unknown> {
  if (!isObject(v) || !isDigest(v.digest) || typeof v.size !== 'number' || !Number.isSafeInteger(v.size)) {
    throw invalid(`invalid ${what}: malformed descriptor`);
  }
  return {
    ...v,
    mediaType: typeof v.mediaType === 'string' ? v.mediaType : '',
    digest: v.digest,
    size: v.size,
  };
}

function blobFor(state: ArchiveState, desc: Descriptor, what: string): EntryRecord & { path: string } {
  const rec = state.lookup(blobPath(desc.digest), what);
  if (rec.digest !== desc.digest) {
    throw invalid(`invalid ${what}: blob ${rec.path} has digest ${rec.digest}, expected ${desc.digest}`);
  }
  if (rec.size !== desc.size) {
    throw invalid(`invalid ${what}: ${desc.digest} is ${rec.size} bytes, descriptor says ${desc.size}`);
  }
  return rec;
}

function resolveOciIndex(state: ArchiveState, buf: Buffer, strict: boolean): ArchiveImage[] {
  const index = parseJson(buf, 'index.json');
  if (!isObject(index) || !Array.isArray(index.manifests)) {
    throw invalid('invalid index.json: no manifests');
  }
  const byManifest = new Map<string, ArchiveImage>();
  const visit = (raw: unknown, names: string[], refName: string | undefined, depth: number): void => {
    const desc = parseDescriptor(raw, 'index.json');
    const rec = blobFor(state, desc, 'manifest');
    const doc = state.jsonOf(rec, 'manifest');
    if (!isObject(doc)) throw invalid(`invalid manifest ${desc.digest}: not a JSON object`);
    const mediaType = desc.mediaType || (typeof doc.mediaType === 'string' ? doc.mediaType : '');
    if (isIndexMediaType(mediaType) || (!mediaType && Array.isArray(doc.manifests))) {
      if (depth >= MAX_INDEX_DEPTH) throw invalid(`invalid index ${desc.digest}: nested too deep`);
      if (!Array.isArray(doc.manifests)) throw invalid(`invalid index ${desc.digest}: no manifests`);
      // Multi-platform archives often carry only some platforms: skip children not present.
      const present = doc.manifests.filter(
        (m) => isObject(m) && isDigest(m.digest) && state.has(blobPath(m.digest)),
      );
      if (present.length === 0)
        throw invalid(`invalid index ${desc.digest}: none of its manifests is in the archive`);
      for (const child of present) visit(child, names, refName, depth + 1);
      return;
    }
    if (!isManifestMediaType(mediaType) && !(mediaType === '' && isObject(doc.config))) {
      if (strict) throw invalid(`unsupported media type ${JSON.stringify(mediaType)} in index.json`);
      return;
    }
    const seen = byManifest.get(desc.digest);
    if (seen) {
      seen.repoTags = [...new Set([...seen.repoTags, ...names])];
      return;
    }
    if (byManifest.size >= state.limits.maxImages) {
      throw invalid(`invalid index.json: more than ${state.limits.maxImages} images`);
    }
    const configDesc = parseDescriptor(doc.config, `manifest ${desc.digest} config`);
    const configRec = blobFor(state, configDesc, 'image config');
    const config = state.jsonOf(configRec, 'image config');
    const diffIds = diffIdsOf(config, configDesc.digest);
    const layerDescs: unknown[] = Array.isArray(doc.layers) ? doc.layers : [];
    if (layerDescs.length !== diffIds.length) {
      throw invalid(
        `invalid manifest, layers length mismatch: expected ${layerDescs.length}, got ${diffIds.length}`,
      );
    }
    const layers = layerDescs.map((raw, i): ArchiveLayer => {
      const ld = parseDescriptor(raw, `manifest ${desc.digest} layer ${i}`);
      const lrec = blobFor(state, ld, `layer ${i}`);
      const declared = layerMediaCompression(ld.mediaType);
      if (declared !== undefined && declared !== lrec.compression) {
        throw invalid(`invalid layer ${i}: media type ${ld.mediaType} but the blob is ${lrec.compression}`);
      }
      return {
        digest: lrec.digest,
        size: lrec.size,
        mediaType: ld.mediaType,
        diffId: checkDiffId(lrec, i, diffIds[i]!),
        compression: lrec.compression,
      };
    });
    const platform = isObject(desc.platform)
      ? platformOf(desc.platform)
      : isObject(config)
        ? platformOf(config)
        : undefined;
    const image: ArchiveImage = {
      format: 'oci-layout',
      repoTags: [...new Set(names)],
      configDigest: configDesc.digest,
      configSize: configDesc.size,
      configMediaType: configDesc.mediaType || MediaTypes.ociConfig,
      layers,
      manifest: { mediaType: mediaType || MediaTypes.ociManifest, digest: desc.digest, size: desc.size },
      ...(platform ? { platform } : {}),
      ...(refName !== undefined ? { ociRefName: refName } : {}),
    };
    byManifest.set(desc.digest, image);
  };

  for (const raw of index.manifests) {
    const annotations = isObject(raw) && isObject(raw.annotations) ? raw.annotations : {};
    const imageName = annotations[Annotations.imageName];
    const refNameRaw = annotations[Annotations.refName];
    const names: string[] = [];
    if (imageName !== undefined) {
      const tag = normalizeTag(imageName, false);
      if (tag) names.push(tag);
    }
    visit(raw, names, typeof refNameRaw === 'string' ? refNameRaw : undefined, 0);
  }
  return [...byManifest.values()];
}
