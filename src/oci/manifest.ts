/**
 * Pure builders for image content ckptd writes to containerd: the manifest synthesized for a
 * docker-save archive (which carries none), chain IDs, and containerd's GC reference labels.
 * No I/O; unit-tested without containerd.
 */
import { sha256Digest, type Digest } from './digest.js';
import type { Descriptor, ImageManifest } from './image-config.js';
import {
  LABEL_GC_REF_CONTENT_CONFIG,
  LABEL_GC_REF_CONTENT_LAYER_PREFIX,
  LABEL_GC_REF_SNAPSHOT_PREFIX,
  LABEL_UNCOMPRESSED,
} from './labels.js';
import {
  MEDIA_TYPE_DOCKER_CONFIG,
  MEDIA_TYPE_DOCKER_LAYER,
  MEDIA_TYPE_DOCKER_LAYER_GZIP,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_MANIFEST,
  layerCompression,
  layerMediaType,
} from './media-types.js';

/** BlobRef is a blob as the manifest builder needs it. */
export interface BlobRef {
  mediaType: string;
  digest: string;
  size: number;
}

/** BuiltManifest is a manifest with its canonical bytes and descriptor. */
export interface BuiltManifest {
  manifest: ImageManifest;
  bytes: Buffer;
  descriptor: { mediaType: string; digest: Digest; size: number };
}

/**
 * buildManifest synthesizes the manifest of an image that came without one (a docker-save
 * archive): a Docker schema 2 manifest when every layer is uncompressed or gzip (what
 * containerd's importer writes for such archives), otherwise an OCI manifest with OCI layer
 * types (containerd 1.6's differ knows zstd only under the OCI type). The bytes are compact
 * JSON, so the same archive always yields the same manifest digest.
 */
export function buildManifest(config: BlobRef, layers: BlobRef[]): BuiltManifest {
  const compressions = layers.map((l) => layerCompression(l.mediaType));
  const docker = compressions.every((c) => c === 'none' || c === 'gzip');
  const manifest: ImageManifest = docker
    ? {
        schemaVersion: 2,
        mediaType: MEDIA_TYPE_DOCKER_MANIFEST,
        config: { mediaType: MEDIA_TYPE_DOCKER_CONFIG, digest: config.digest as Digest, size: config.size },
        layers: layers.map((l, i) => ({
          mediaType: compressions[i] === 'gzip' ? MEDIA_TYPE_DOCKER_LAYER_GZIP : MEDIA_TYPE_DOCKER_LAYER,
          digest: l.digest as Digest,
          size: l.size,
        })),
      }
    : {
        schemaVersion: 2,
        mediaType: MEDIA_TYPE_OCI_MANIFEST,
        config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: config.digest as Digest, size: config.size },
        layers: layers.map((l, i) => ({
          mediaType: layerMediaType(compressions[i]!, 'oci'),
          digest: l.digest as Digest,
          size: l.size,
        })),
      };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return {
    manifest,
    bytes,
    descriptor: { mediaType: manifest.mediaType!, digest: sha256Digest(bytes), size: bytes.length },
  };
}

/**
 * chainIds returns the chain ID of every layer prefix (OCI image-spec: ChainID(L0) = DiffID(L0),
 * ChainID(L0|...|Ln) = sha256(ChainID(L0|...|Ln-1) + " " + DiffID(Ln))): the names of the
 * committed snapshots an unpacked image is made of.
 */
export function chainIds(diffIds: readonly string[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? (d as Digest) : sha256Digest(`${prev} ${d}`));
  }
  return out;
}

/** manifestGcLabels are the labels that make containerd's GC keep a manifest's config and layers. */
export function manifestGcLabels(manifest: {
  config: Pick<Descriptor, 'digest'>;
  layers: Pick<Descriptor, 'digest'>[];
}): Record<string, string> {
  const labels: Record<string, string> = { [LABEL_GC_REF_CONTENT_CONFIG]: manifest.config.digest };
  manifest.layers.forEach((l, i) => (labels[`${LABEL_GC_REF_CONTENT_LAYER_PREFIX}${i}`] = l.digest));
  return labels;
}

/** configGcLabels make containerd's GC keep the unpacked snapshot chain of an image config. */
export function configGcLabels(snapshotter: string, topChainId: string): Record<string, string> {
  return { [`${LABEL_GC_REF_SNAPSHOT_PREFIX}${snapshotter}`]: topChainId };
}

/** layerLabels record a layer blob's diffID, as containerd's unpacker does. */
export function layerLabels(diffId: string): Record<string, string> {
  return { [LABEL_UNCOMPRESSED]: diffId };
}
