/** LABEL_NAME is the container label holding the Docker-style name (without the leading `/`). */
export const LABEL_NAME = 'ckptd/name';
/** LABEL_IMAGE_REF is the container label holding the image reference the user asked for. */
export const LABEL_IMAGE_REF = 'ckptd/image';
/** LABEL_GC_EXPIRE is containerd's lease label that lets GC reclaim a forgotten lease. */
export const LABEL_GC_EXPIRE = 'containerd.io/gc.expire';
/** LABEL_GC_REF_CONTENT_CONFIG makes containerd's GC keep a manifest's config blob. */
export const LABEL_GC_REF_CONTENT_CONFIG = 'containerd.io/gc.ref.content.config';
/** LABEL_GC_REF_CONTENT_LAYER_PREFIX + index makes containerd's GC keep a manifest's layer blob. */
export const LABEL_GC_REF_CONTENT_LAYER_PREFIX = 'containerd.io/gc.ref.content.l.';
/** LABEL_GC_REF_CONTENT_MANIFEST_PREFIX + index makes containerd's GC keep an index's manifests. */
export const LABEL_GC_REF_CONTENT_MANIFEST_PREFIX = 'containerd.io/gc.ref.content.m.';
/** LABEL_GC_REF_SNAPSHOT_PREFIX + snapshotter makes containerd's GC keep a config's unpacked chain. */
export const LABEL_GC_REF_SNAPSHOT_PREFIX = 'containerd.io/gc.ref.snapshot.';
/** LABEL_UNCOMPRESSED is containerd's layer-blob label holding the layer's diffID. */
export const LABEL_UNCOMPRESSED = 'containerd.io/uncompressed';
/** LABEL_SNAPSHOT_REF is the label containerd's unpacker puts on the snapshots it creates (the chainID). */
export const LABEL_SNAPSHOT_REF = 'containerd.io/snapshot.ref';
/** DANGLING_IMAGE_PREFIX names the image record of an untagged image: `moby-dangling@<manifest digest>`, as moby's containerd store. */
export const DANGLING_IMAGE_PREFIX = 'moby-dangling@';
