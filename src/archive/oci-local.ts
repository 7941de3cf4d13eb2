/**
 * Tiny local OCI/Docker helpers for src/archive: media types, digest and image-reference
 * parsing. src/oci/ is being written in parallel; these stay minimal so the lead can replace
 * them with the shared builders without touching the archive logic.
 */
import { InvalidArgumentError } from '../errors/index.js';
import type { CompressionKind } from './compression.js';

/** MediaTypes used by docker-save and OCI image layouts. */
export const MediaTypes = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Annotation keys written into index.json by docker save / containerd export. */
export const Annotations = {
  imageName: 'io.containerd.image.name',
  refName: 'org.opencontainers.image.ref.name',
} as const;

/** isIndexMediaType tells an image index / manifest list media type. */
export function isIndexMediaType(mt: string): boolean {
  return mt === MediaTypes.ociIndex || mt === MediaTypes.dockerManifestList;
}

/** isManifestMediaType tells a single-platform image manifest media type. */
export function isManifestMediaType(mt: string): boolean {
  return mt === MediaTypes.ociManifest || mt === MediaTypes.dockerManifest;
}

/** layerMediaCompression tells the compression a layer media type declares, if it is a layer. */
export function layerMediaCompression(mt: string): CompressionKind | undefined {
  if (/[+.]gzip$/.test(mt)) return 'gzip';
  if (/\+zstd$/.test(mt)) return 'zstd';
  if (/\.tar$/.test(mt)) return 'none';
  return undefined;
}

/** dockerLayerMediaType is the media type containerd's importer gives a docker-save layer. */
export function dockerLayerMediaType(kind: CompressionKind): string | undefined {
  switch (kind) {
    case 'none':
      return MediaTypes.dockerLayer;
    case 'gzip':
      return MediaTypes.dockerLayerGzip;
    case 'zstd':
      return MediaTypes.ociLayerZstd;
    default:
      return undefined;
  }
}

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** isDigest tells a canonical sha256/sha512 digest string. */
export function isDigest(s: unknown): s is string {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

/** blobPath is the OCI layout path of a digest: `blobs/<alg>/<hex>`. */
export function blobPath(digest: string): string {
  const [alg, hex] = digest.split(':');
  return `blobs/${alg}/${hex}`;
}

/** digestFromBlobPath is the digest an OCI layout path names, or undefined. */
export function digestFromBlobPath(path: string): string | undefined {
  const m = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(path);
  if (!m) return undefined;
  const digest = `${m[1]}:${m[2]}`;
  return isDigest(digest) ? digest : undefined;
}

/** ParsedRef is a normalized image reference. */
export interface ParsedRef {
  /** domain is the registry, `docker.io` for familiar names. */
  domain: string;
  /** path is the repository path, `library/busybox` for `busybox`. */
  path: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PATH_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const DOMAIN_RE =
  /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

/**
 * parseNormalizedRef parses an image reference the way distribution's ParseNormalizedNamed
 * does: `busybox` -> docker.io/library/busybox. Throws InvalidArgumentError
 * ("invalid reference format") on anything else.
 */
export function parseNormalizedRef(ref: string): ParsedRef {
  const bad = (): never => {
    throw new InvalidArgumentError(`invalid reference format: ${JSON.stringify(ref)}`);
  };
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) bad();
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) bad();
  }
  let domain = 'docker.io';
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  if (!DOMAIN_RE.test(domain) || !PATH_RE.test(path) || domain.length + path.length + 1 > 255) bad();
  return { domain, path, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** refString is the full form of a parsed ref: docker.io/library/busybox:latest. */
export function refString(r: ParsedRef): string {
  return `${r.domain}/${r.path}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** familiarName is the short repository name docker shows: `busybox`, `me/app`, `host:5000/x`. */
export function familiarName(r: ParsedRef): string {
  if (r.domain !== 'docker.io') return `${r.domain}/${r.path}`;
  return r.path.startsWith('library/') && r.path.split('/').length === 2 ? r.path.slice(8) : r.path;
}
