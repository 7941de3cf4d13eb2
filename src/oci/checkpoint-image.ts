/**
 * Pure builders for checkpoint images: an OCI image whose single layer is the content of a
 * checkpoint archive (config.dump, spec.dump, checkpoint/, rootfs-diff.tar, ...), as Podman 4.x
 * `podman container checkpoint --create-image` writes it (libpod `createCheckpointImage`: buildah
 * from scratch, the exported archive added extracted at /, squashed, annotations set on the
 * manifest) and as CRI-O restores it (a container created from an image carrying
 * `io.kubernetes.cri-o.annotations.checkpoint.name`). Both annotation sets are written so that
 * either reader recognises ckptd's images; either set is accepted on reading. No I/O.
 */
import { InvalidArgumentError } from '../errors/index.js';
import { checkCreateRequest, isZero } from './create-fields.js';
import { sha256Digest, type Digest } from './digest.js';
import type { ImageConfig, ImageManifest } from './image-config.js';
import type { BuiltManifest } from './manifest.js';
import { MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_MANIFEST } from './media-types.js';

/** PODMAN_CHECKPOINT_PREFIX prefixes Podman's checkpoint annotations (libpod `define.CheckpointAnnotation*`). */
export const PODMAN_CHECKPOINT_PREFIX = 'io.podman.annotations.checkpoint.';
/** CRIO_CHECKPOINT_PREFIX prefixes CRI-O's checkpoint annotations (cri-o `pkg/annotations`). */
export const CRIO_CHECKPOINT_PREFIX = 'io.kubernetes.cri-o.annotations.checkpoint.';

/** PodmanAnnotations are the keys of Podman's checkpoint image annotations. */
export const PodmanAnnotations = Object.freeze({
  name: `${PODMAN_CHECKPOINT_PREFIX}name`,
  rawImageName: `${PODMAN_CHECKPOINT_PREFIX}rawImageName`,
  rootfsImageID: `${PODMAN_CHECKPOINT_PREFIX}rootfsImageID`,
  rootfsImageName: `${PODMAN_CHECKPOINT_PREFIX}rootfsImageName`,
  podmanVersion: `${PODMAN_CHECKPOINT_PREFIX}podman.version`,
  criuVersion: `${PODMAN_CHECKPOINT_PREFIX}criu.version`,
  runtimeName: `${PODMAN_CHECKPOINT_PREFIX}runtime.name`,
  runtimeVersion: `${PODMAN_CHECKPOINT_PREFIX}runtime.version`,
  conmonVersion: `${PODMAN_CHECKPOINT_PREFIX}conmon.version`,
  hostArch: `${PODMAN_CHECKPOINT_PREFIX}host.arch`,
  hostKernel: `${PODMAN_CHECKPOINT_PREFIX}host.kernel`,
  cgroupsVersion: `${PODMAN_CHECKPOINT_PREFIX}cgroups.version`,
  distributionVersion: `${PODMAN_CHECKPOINT_PREFIX}distribution.version`,
  distributionName: `${PODMAN_CHECKPOINT_PREFIX}distribution.name`,
});

/** CrioAnnotations are the keys of CRI-O's checkpoint image annotations. */
export const CrioAnnotations = Object.freeze({
  name: `${CRIO_CHECKPOINT_PREFIX}name`,
  rawImageName: `${CRIO_CHECKPOINT_PREFIX}rawImageName`,
  rootfsImageID: `${CRIO_CHECKPOINT_PREFIX}rootfsImageID`,
  rootfsImageName: `${CRIO_CHECKPOINT_PREFIX}rootfsImageName`,
  criuVersion: `${CRIO_CHECKPOINT_PREFIX}criu.version`,
});

/** CKPTD_VERSION_ANNOTATION names the ckptd that wrote a checkpoint image. */
export const CKPTD_VERSION_ANNOTATION = 'io.ckptd.checkpoint.ckptd.version';

/** CheckpointImageFacts describe the container and host of a checkpoint image. */
export interface CheckpointImageFacts {
  /** containerName is the checkpointed container's name (no leading slash). */
  containerName: string;
  /** rawImageName is the image reference the container was created with, as given. */
  rawImageName: string;
  /** rootfsImageId is the base image's ID (`sha256:<hex>`). */
  rootfsImageId: string;
  /** rootfsImageName is the base image's full reference. */
  rootfsImageName: string;
  runtimeName: string;
  runtimeVersion: string;
  /** criuVersion is CRIU's version number as Podman writes it (major*10000+minor*100+sublevel). */
  criuVersion: string;
  ckptdVersion: string;
  hostArch: string;
  hostKernel: string;
  /** cgroupsVersion is `v1` or `v2` (Podman's host info wording). */
  cgroupsVersion: string;
  distributionName: string;
  distributionVersion: string;
}

/**
 * checkpointImageAnnotations are the manifest annotations of a checkpoint image: Podman's full
 * set (its `podman.version` and `conmon.version` name ckptd, which has no conmon: empty) and
 * CRI-O's. Podman records the image ID as bare hex, as its storage prints it.
 */
export function checkpointImageAnnotations(f: CheckpointImageFacts): Record<string, string> {
  const idHex = f.rootfsImageId.replace(/^sha256:/, '');
  return {
    [PodmanAnnotations.name]: f.containerName,
    [PodmanAnnotations.rawImageName]: f.rawImageName,
    [PodmanAnnotations.rootfsImageID]: idHex,
    [PodmanAnnotations.rootfsImageName]: f.rootfsImageName,
    [PodmanAnnotations.podmanVersion]: '',
    [PodmanAnnotations.criuVersion]: f.criuVersion,
    [PodmanAnnotations.runtimeName]: f.runtimeName,
    [PodmanAnnotations.runtimeVersion]: f.runtimeVersion,
    [PodmanAnnotations.conmonVersion]: '',
    [PodmanAnnotations.hostArch]: f.hostArch,
    [PodmanAnnotations.hostKernel]: f.hostKernel,
    [PodmanAnnotations.cgroupsVersion]: f.cgroupsVersion,
    [PodmanAnnotations.distributionName]: f.distributionName,
    [PodmanAnnotations.distributionVersion]: f.distributionVersion,
    [CrioAnnotations.name]: f.containerName,
    [CrioAnnotations.rawImageName]: f.rawImageName,
    [CrioAnnotations.rootfsImageID]: idHex,
    [CrioAnnotations.rootfsImageName]: f.rootfsImageName,
    [CrioAnnotations.criuVersion]: f.criuVersion,
    [CKPTD_VERSION_ANNOTATION]: f.ckptdVersion,
  };
}

/**
 * checkpointImageConfig is the image config of a checkpoint image: buildah's config of a
 * `scratch` image with one layer (no Cmd, no Env: the image is never run as it is).
 */
export function checkpointImageConfig(o: {
  diffId: string;
  created: string;
  architecture: string;
  containerName: string;
}): ImageConfig {
  return {
    created: o.created,
    architecture: o.architecture,
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [o.diffId] },
    history: [{ created: o.created, created_by: `ckptd checkpoint of container ${o.containerName}` }],
  } as ImageConfig;
}

/**
 * checkpointImageManifest is the OCI manifest of a checkpoint image: the config, the one layer,
 * and the annotations. OCI media types throughout, as CRI-O needs them to see the annotations
 * (a Docker schema 2 manifest has none). Compact JSON bytes, so the digest is reproducible.
 */
export function checkpointImageManifest(
  config: { digest: string; size: number },
  layer: { mediaType: string; digest: string; size: number },
  annotations: Record<string, string>,
): BuiltManifest {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: config.digest as Digest, size: config.size },
    layers: [{ mediaType: layer.mediaType, digest: layer.digest as Digest, size: layer.size }],
    annotations,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return {
    manifest,
    bytes,
    descriptor: { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: sha256Digest(bytes), size: bytes.length },
  };
}

/** CheckpointImageInfo is what a checkpoint image's annotations say. */
export interface CheckpointImageInfo {
  /** flavour tells which annotation set made it one: Podman's (ckptd writes both) or CRI-O's. */
  flavour: 'podman' | 'cri-o';
  containerName: string;
  /** rootfsImageName is the base image's reference, '' when not named. */
  rootfsImageName: string;
  /** rootfsImageId is the base image's ID as `sha256:<hex>`, '' when not named or malformed. */
  rootfsImageId: string;
  runtimeName: string;
}

/**
 * checkpointImageInfo tells whether a manifest is a checkpoint image's (Podman's `name` or
 * `runtime.name` annotation, or CRI-O's `name`) and what it names; undefined otherwise. What
 * the annotations say is only a hint: the checkpoint's own files are read (and checked) again.
 */
export function checkpointImageInfo(
  manifest: Pick<ImageManifest, 'annotations'>,
): CheckpointImageInfo | undefined {
  const a = manifest.annotations ?? {};
  const podman = a[PodmanAnnotations.name] !== undefined || a[PodmanAnnotations.runtimeName] !== undefined;
  const crio = a[CrioAnnotations.name] !== undefined;
  if (!podman && !crio) return undefined;
  const pick = (p: string, c: string) => (podman ? (a[p] ?? a[c] ?? '') : (a[c] ?? ''));
  const id = pick(PodmanAnnotations.rootfsImageID, CrioAnnotations.rootfsImageID).replace(/^sha256:/, '');
  return {
    flavour: podman ? 'podman' : 'cri-o',
    containerName: pick(PodmanAnnotations.name, CrioAnnotations.name),
    rootfsImageName: pick(PodmanAnnotations.rootfsImageName, CrioAnnotations.rootfsImageName),
    rootfsImageId: /^[0-9a-f]{64}$/.test(id) ? `sha256:${id}` : '',
    runtimeName: a[PodmanAnnotations.runtimeName] ?? '',
  };
}

/** criuVersionNumber turns `criu --version`'s `Version: 4.1.1` into Podman's number (40101). */
export function criuVersionNumber(text: string): string {
  const m = /Version:\s*(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return '';
  return String(Number(m[1]) * 10000 + Number(m[2]) * 100 + Number(m[3] ?? 0));
}

/**
 * CREATE_FIELDS_ALLOWED are the create-body fields a container from a checkpoint image takes:
 * the image, the caller's HostConfig (confinement, limits, binds, network: checked by create's
 * rules, then CRIU's images against the spec built from it) and the attach flags (the client's
 * business), endpoint entries without settings. Every other Config field describes a process to start, and the process is the
 * checkpoint's: set, it is refused rather than dropped.
 */
const CREATE_FIELDS_ALLOWED = new Set([
  'Image',
  'HostConfig',
  // endpoint entries without settings (checked by create's rules): all the none and host networks take
  'NetworkingConfig',
  'AttachStdin',
  'AttachStdout',
  'AttachStderr',
]);

/**
 * checkCreateFields refuses the create-body fields a checkpoint image cannot honour (the process
 * is restored, not started): everything set but the image, HostConfig and the attach flags.
 */
export function checkCreateFields(req: Record<string, unknown>): void {
  // first the rules of any create (unknown fields, values ckptd cannot apply, endpoint settings)
  checkCreateRequest({ ...req });
  const refused: string[] = [];
  for (const [k, v] of Object.entries(req)) {
    if (CREATE_FIELDS_ALLOWED.has(k)) continue;
    if (!isZero(k, v)) refused.push(k);
  }
  if (refused.length > 0) {
    throw new InvalidArgumentError(
      `${refused.join(', ')}: cannot be set on a container created from a checkpoint image (its process is restored as it was checkpointed; only the name and HostConfig apply)`,
    );
  }
}
