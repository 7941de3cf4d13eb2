/**
 * What a pull accepts from a registry and how it picks the image (dockerd's distribution
 * `pull_v2.go`): OCI and Docker schema 2 manifests and indexes; an index resolves to the
 * platform asked for (default linux and the host's architecture, as dockerd); schema 1 is
 * refused with moby's deprecation notice.
 */
import { hostArchitecture } from '../host/platform.js';
import { InvalidArgumentError, NotFoundError } from '../errors/index.js';
import {
  parseIndex,
  parseManifest,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
} from '../oci/image-config.js';
import {
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
} from '../oci/media-types.js';

/** MEDIA_TYPE_DOCKER_SCHEMA1 and its signed form: refused. */
export const MEDIA_TYPE_DOCKER_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json';
export const MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

/** MANIFEST_ACCEPT is the Accept list of a manifest GET (schema 1 listed last, so it can be named and refused). */
export const MANIFEST_ACCEPT: readonly string[] = [
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED,
  MEDIA_TYPE_DOCKER_SCHEMA1,
];

/** PlatformSpec is the platform a pull resolves an index to. */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

/** hostPlatform is linux with Node's architecture in Go's naming. */
export function hostPlatform(): PlatformSpec {
  return { os: 'linux', architecture: hostArchitecture() };
}

/** parsePlatform parses the `platform` parameter (`os[/arch[/variant]]`), as containerd's platforms.Parse. */
export function parsePlatform(s: string): PlatformSpec {
  const parts = s.toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw new InvalidArgumentError(
      `platform: "${s}": unknown operating system or architecture: invalid argument`,
    );
  }
  const norm = (a: string): string =>
    a === 'x86_64' || a === 'x86-64' ? 'amd64' : a === 'aarch64' ? 'arm64' : a;
  if (parts.length === 1) {
    const host = hostPlatform();
    return parts[0] === 'linux' ? host : { os: host.os, architecture: norm(parts[0]!) };
  }
  return { os: parts[0]!, architecture: norm(parts[1]!), ...(parts[2] ? { variant: parts[2] } : {}) };
}

/** schema1Message is moby's refusal of a schema 1 image. */
export function schema1Message(ref: string): string {
  return `[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support is disabled by default and will be removed in an upcoming release. Suggest the author of ${ref} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/`;
}

/** Classified is a fetched manifest document, typed. */
export type Classified =
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest };

/**
 * classifyManifest types a fetched document by its Content-Type, or its own mediaType when the
 * registry sent a generic one; schema 1 (by type or `schemaVersion: 1`) is refused.
 */
export function classifyManifest(bytes: Buffer, contentType: string, ref: string): Classified {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new InvalidArgumentError(`manifest for ${ref} is not valid JSON`);
  }
  const obj = (typeof json === 'object' && json !== null ? json : {}) as {
    mediaType?: unknown;
    schemaVersion?: unknown;
    manifests?: unknown;
  };
  if (
    contentType === MEDIA_TYPE_DOCKER_SCHEMA1 ||
    contentType === MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED ||
    obj.schemaVersion === 1
  ) {
    throw new InvalidArgumentError(schema1Message(ref));
  }
  let mt = contentType;
  if (
    ![
      MEDIA_TYPE_OCI_INDEX,
      MEDIA_TYPE_DOCKER_MANIFEST_LIST,
      MEDIA_TYPE_OCI_MANIFEST,
      MEDIA_TYPE_DOCKER_MANIFEST,
    ].includes(mt)
  ) {
    mt =
      typeof obj.mediaType === 'string'
        ? obj.mediaType
        : Array.isArray(obj.manifests)
          ? MEDIA_TYPE_OCI_INDEX
          : MEDIA_TYPE_OCI_MANIFEST;
  }
  if (mt === MEDIA_TYPE_OCI_INDEX || mt === MEDIA_TYPE_DOCKER_MANIFEST_LIST) {
    return { kind: 'index', mediaType: mt, index: parseIndex(json) };
  }
  if (mt === MEDIA_TYPE_OCI_MANIFEST || mt === MEDIA_TYPE_DOCKER_MANIFEST) {
    return { kind: 'manifest', mediaType: mt, manifest: parseManifest(json) };
  }
  throw new InvalidArgumentError(`unsupported manifest media type ${mt} for ${ref}`);
}

/**
 * selectPlatform picks the manifest of an index for a platform as dockerd's
 * `filterManifests`: os and architecture must match; a variant asked for must match, else the
 * first one listed wins. None: dockerd's `no matching manifest for linux/amd64 in the manifest
 * list entries`.
 */
export function selectPlatform(index: ImageIndex, want: PlatformSpec): Descriptor {
  const candidates = index.manifests.filter(
    (m) =>
      (m.mediaType === MEDIA_TYPE_OCI_MANIFEST || m.mediaType === MEDIA_TYPE_DOCKER_MANIFEST) &&
      m.platform !== undefined &&
      m.platform.os === want.os &&
      m.platform.architecture === want.architecture,
  );
  const exact = want.variant ? candidates.find((m) => m.platform?.variant === want.variant) : candidates[0];
  if (!exact) {
    const p = `${want.os}/${want.architecture}${want.variant ? `/${want.variant}` : ''}`;
    throw new NotFoundError(`no matching manifest for ${p} in the manifest list entries`);
  }
  return exact;
}
