/** LABEL_NAME is the container label holding the Docker-style name (without the leading `/`). */
export const LABEL_NAME = 'ckptd/name';
/** LABEL_IMAGE_REF is the container label holding the image reference the user asked for. */
export const LABEL_IMAGE_REF = 'ckptd/image';
/** LABEL_GC_EXPIRE is containerd's lease label that lets GC reclaim a forgotten lease. */
export const LABEL_GC_EXPIRE = 'containerd.io/gc.expire';
