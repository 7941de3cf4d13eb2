/**
 * Media types of OCI and Docker image content, in one place (containerd's
 * `core/images/mediatypes.go` and the OCI image-spec), with the small predicates the image code
 * branches on. Pure: no I/O, no other layer.
 */
import { InvalidArgumentError } from '../errors/index.js';

/** MEDIA_TYPE_OCI_MANIFEST is the OCI image manifest. */
export const MEDIA_TYPE_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** MEDIA_TYPE_OCI_INDEX is the OCI image index (multi-platform or multi-manifest). */
export const MEDIA_TYPE_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** MEDIA_TYPE_OCI_CONFIG is the OCI image config blob. */
export const MEDIA_TYPE_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** MEDIA_TYPE_OCI_EMPTY is the OCI empty descriptor (`{}`), used by artifacts. */
export const MEDIA_TYPE_OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
/** MEDIA_TYPE_OCI_LAYER is an uncompressed OCI layer tar. */
export const MEDIA_TYPE_OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
/** MEDIA_TYPE_OCI_LAYER_GZIP is a gzip-compressed OCI layer tar. */
export const MEDIA_TYPE_OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** MEDIA_TYPE_OCI_LAYER_ZSTD is a zstd-compressed OCI layer tar. */
export const MEDIA_TYPE_OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
/** MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE is the (deprecated) OCI foreign layer, uncompressed. */
export const MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE =
  'application/vnd.oci.image.layer.nondistributable.v1.tar';
/** MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP is the (deprecated) OCI foreign layer, gzip. */
export const MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP =
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
/** MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_ZSTD is the (deprecated) OCI foreign layer, zstd. */
export const MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_ZSTD =
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd';

/** MEDIA_TYPE_DOCKER_MANIFEST is the Docker image manifest, schema 2. */
export const MEDIA_TYPE_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** MEDIA_TYPE_DOCKER_MANIFEST_LIST is the Docker manifest list (the index of schema 2). */
export const MEDIA_TYPE_DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** MEDIA_TYPE_DOCKER_CONFIG is the Docker image config blob. */
export const MEDIA_TYPE_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
/** MEDIA_TYPE_DOCKER_LAYER is an uncompressed Docker layer (containerd accepts it; registries rarely serve it). */
export const MEDIA_TYPE_DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
/** MEDIA_TYPE_DOCKER_LAYER_GZIP is the Docker gzip layer, the usual layer of schema 2 images. */
export const MEDIA_TYPE_DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
/** MEDIA_TYPE_DOCKER_LAYER_ZSTD is the Docker zstd layer (containerd's extension). */
export const MEDIA_TYPE_DOCKER_LAYER_ZSTD = 'application/vnd.docker.image.rootfs.diff.tar.zstd';
/** MEDIA_TYPE_DOCKER_FOREIGN_LAYER is the Docker foreign (non-distributable) layer, uncompressed. */
export const MEDIA_TYPE_DOCKER_FOREIGN_LAYER = 'application/vnd.docker.image.rootfs.foreign.diff.tar';
/** MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP is the Docker foreign (non-distributable) layer, gzip. */
export const MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP =
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';

// containerd's checkpoint media types (core/images/mediatypes.go, prefix application/vnd.containerd.container.).
/** MEDIA_TYPE_CONTAINERD_CHECKPOINT_CRIU is the tar of CRIU images written by Tasks.Checkpoint. */
export const MEDIA_TYPE_CONTAINERD_CHECKPOINT_CRIU =
  'application/vnd.containerd.container.criu.checkpoint.criu.tar';
/** MEDIA_TYPE_CONTAINERD_CHECKPOINT_PREDUMP is the tar of a CRIU pre-dump. */
export const MEDIA_TYPE_CONTAINERD_CHECKPOINT_PREDUMP =
  'application/vnd.containerd.container.criu.checkpoint.predump.tar';
/** MEDIA_TYPE_CONTAINERD_CHECKPOINT_RW is the container's read-write layer diff in a checkpoint. */
export const MEDIA_TYPE_CONTAINERD_CHECKPOINT_RW = 'application/vnd.containerd.container.rw.tar';
/** MEDIA_TYPE_CONTAINERD_CHECKPOINT_CONFIG is the runtime spec (protobuf Any) stored with a checkpoint. */
export const MEDIA_TYPE_CONTAINERD_CHECKPOINT_CONFIG =
  'application/vnd.containerd.container.checkpoint.config.v1+proto';
/** MEDIA_TYPE_CONTAINERD_CHECKPOINT_OPTIONS is the checkpoint options blob (protobuf Any). */
export const MEDIA_TYPE_CONTAINERD_CHECKPOINT_OPTIONS =
  'application/vnd.containerd.container.checkpoint.options.v1+proto';
/** MEDIA_TYPE_CONTAINERD_CHECKPOINT_RUNTIME_NAME is the runtime name blob of a checkpoint. */
export const MEDIA_TYPE_CONTAINERD_CHECKPOINT_RUNTIME_NAME =
  'application/vnd.containerd.container.checkpoint.runtime.name';
/** MEDIA_TYPE_CONTAINERD_CHECKPOINT_RUNTIME_OPTIONS is the runtime options blob of a checkpoint. */
export const MEDIA_TYPE_CONTAINERD_CHECKPOINT_RUNTIME_OPTIONS =
  'application/vnd.containerd.container.checkpoint.runtime.options+proto';

/** LayerCompression is how a layer blob is compressed. */
export type LayerCompression = 'none' | 'gzip' | 'zstd';

const manifestTypes: ReadonlySet<string> = new Set([MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST]);
const indexTypes: ReadonlySet<string> = new Set([MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST]);
const configTypes: ReadonlySet<string> = new Set([MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_DOCKER_CONFIG]);
const dockerLayerTypes: ReadonlySet<string> = new Set([
  MEDIA_TYPE_DOCKER_LAYER,
  MEDIA_TYPE_DOCKER_LAYER_GZIP,
  MEDIA_TYPE_DOCKER_LAYER_ZSTD,
  MEDIA_TYPE_DOCKER_FOREIGN_LAYER,
  MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP,
]);
const OCI_LAYER_PREFIX = 'application/vnd.oci.image.layer.';

/** isManifestType reports whether mediaType is a single-platform image manifest (OCI or Docker schema 2). */
export function isManifestType(mediaType: string): boolean {
  return manifestTypes.has(mediaType);
}

/** isIndexType reports whether mediaType is an OCI index or a Docker manifest list. */
export function isIndexType(mediaType: string): boolean {
  return indexTypes.has(mediaType);
}

/** isConfigType reports whether mediaType is an image config blob (OCI or Docker). */
export function isConfigType(mediaType: string): boolean {
  return configTypes.has(mediaType);
}

/**
 * isLayerType reports whether mediaType is a layer, as containerd's `images.IsLayerType` does:
 * every `application/vnd.oci.image.layer.*` type (including future compressions) and the Docker
 * rootfs diff types, foreign layers included.
 */
export function isLayerType(mediaType: string): boolean {
  return mediaType.startsWith(OCI_LAYER_PREFIX) || dockerLayerTypes.has(mediaType);
}

/** isForeignLayerType reports whether mediaType is a non-distributable layer (not pushed, often not present). */
export function isForeignLayerType(mediaType: string): boolean {
  return (
    mediaType === MEDIA_TYPE_DOCKER_FOREIGN_LAYER ||
    mediaType === MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP ||
    mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.')
  );
}

/**
 * layerCompression returns the compression of a layer media type. It throws InvalidArgumentError
 * for a type that is not a layer, or for a layer compression ckptd cannot decode (e.g. `+bzip2`),
 * so callers never stream an unknown encoding into the differ.
 */
export function layerCompression(mediaType: string): LayerCompression {
  if (!isLayerType(mediaType)) {
    throw new InvalidArgumentError(`unsupported layer media type: ${mediaType}`);
  }
  // OCI: `...tar`, `...tar+gzip`, `...tar+zstd`; Docker: `...diff.tar`, `...diff.tar.gzip`, `...diff.tar.zstd`.
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd') || mediaType.endsWith('.zstd')) return 'zstd';
  if (mediaType.endsWith('.tar')) return 'none';
  throw new InvalidArgumentError(`unsupported layer compression: ${mediaType}`);
}

/**
 * layerMediaType returns the layer media type for a compression in the OCI or Docker family, so a
 * commit can write layers that match the manifest it goes into.
 */
export function layerMediaType(compression: LayerCompression, family: 'oci' | 'docker' = 'oci'): string {
  if (family === 'docker') {
    switch (compression) {
      case 'none':
        return MEDIA_TYPE_DOCKER_LAYER;
      case 'gzip':
        return MEDIA_TYPE_DOCKER_LAYER_GZIP;
      case 'zstd':
        return MEDIA_TYPE_DOCKER_LAYER_ZSTD;
    }
  }
  switch (compression) {
    case 'none':
      return MEDIA_TYPE_OCI_LAYER;
    case 'gzip':
      return MEDIA_TYPE_OCI_LAYER_GZIP;
    case 'zstd':
      return MEDIA_TYPE_OCI_LAYER_ZSTD;
  }
}
