/**
 * Docker image references, parsed and normalized exactly as Docker's `distribution/reference`
 * does (`ParseNormalizedNamed`, `TagNameOnly`, `FamiliarString`, `ParseAnyReference`), with its
 * error wording, plus the short-ID test of moby's containerd image store (`checkTruncatedID`).
 */
import { InvalidArgumentError } from '../errors/index.js';
import { parseDigest, type Digest } from './digest.js';

/** DEFAULT_DOMAIN is the registry a reference without a domain resolves to. */
export const DEFAULT_DOMAIN = 'docker.io';
/** LEGACY_DEFAULT_DOMAIN is the old Hub domain, rewritten to DEFAULT_DOMAIN. */
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
/** OFFICIAL_REPO_PREFIX is the Hub namespace of official images (`busybox` is `library/busybox`). */
export const OFFICIAL_REPO_PREFIX = 'library/';
/** DEFAULT_TAG is the tag a name-only reference gets. */
export const DEFAULT_TAG = 'latest';
/** NAME_TOTAL_LENGTH_MAX is the longest repository name (domain included) a reference may have. */
export const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar of distribution/reference's regexp.go, composed the same way.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tag = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}';
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;

const referenceRegexp = new RegExp(`^(${namePat})(?::(${tag}))?(?:@(${digestPat}))?$`);
const anchoredNameRegexp = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const anchoredTagRegexp = new RegExp(`^${tag}$`);
const anchoredIdentifierRegexp = /^[a-f0-9]{64}$/;

/** ERR_REFERENCE_INVALID_FORMAT is distribution/reference's ErrReferenceInvalidFormat text. */
export const ERR_REFERENCE_INVALID_FORMAT = 'invalid reference format';

/** Reference is a parsed, normalized image reference. */
export interface Reference {
  /** domain is the registry host (and port), `docker.io` by default. */
  readonly domain: string;
  /** path is the repository path inside the registry (`library/busybox`). */
  readonly path: string;
  /** tag is the tag, when the reference has one. */
  readonly tag?: string;
  /** digest is the digest, when the reference has one. */
  readonly digest?: Digest;
  /** name is `domain/path`, the repository without tag or digest. */
  readonly name: string;
  /** toString renders `name[:tag][@digest]`. */
  toString(): string;
}

function makeReference(domain: string, path: string, tagValue?: string, digest?: Digest): Reference {
  const name = `${domain}/${path}`;
  const ref: Reference = {
    domain,
    path,
    name,
    ...(tagValue !== undefined ? { tag: tagValue } : {}),
    ...(digest !== undefined ? { digest } : {}),
    toString() {
      return `${name}${tagValue !== undefined ? `:${tagValue}` : ''}${digest !== undefined ? `@${digest}` : ''}`;
    },
  };
  return Object.freeze(ref);
}

// splitDockerDomain of normalize.go: the first component is a domain only if it looks like one.
function splitDockerDomain(name: string): [string, string] {
  let domain: string;
  let remainder: string;
  const i = name.indexOf('/');
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) {
    remainder = OFFICIAL_REPO_PREFIX + remainder;
  }
  return [domain, remainder];
}

// reference.Parse: the grammar check of a fully qualified string.
function parseStrict(s: string): Reference {
  const m = referenceRegexp.exec(s);
  if (m === null) {
    if (s === '') throw new InvalidArgumentError('repository name must have at least one component');
    if (referenceRegexp.test(s.toLowerCase())) {
      throw new InvalidArgumentError('repository name must be lowercase');
    }
    throw new InvalidArgumentError(ERR_REFERENCE_INVALID_FORMAT);
  }
  const fullName = m[1] ?? '';
  if (fullName.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidArgumentError(
      `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
    );
  }
  const nm = anchoredNameRegexp.exec(fullName);
  const domain = nm?.[1] ?? '';
  const path = nm?.[2] ?? fullName;
  const digest = m[3] !== undefined ? parseDigest(m[3]) : undefined;
  return makeReference(domain, path, m[2], digest);
}

/**
 * parseReference parses a user-given image reference and normalizes it as Docker's
 * `ParseNormalizedNamed`: `busybox` has domain `docker.io` and path `library/busybox`,
 * `localhost:5000/a/b` keeps its domain, and `x:tag@sha256:…` keeps both tag and digest. No
 * default tag is added (see normalizeName). Errors are InvalidArgumentError in Docker's words:
 * `invalid reference format`, `invalid reference format: repository name (library/Busybox) must
 * be lowercase`, `invalid repository name (…), cannot specify 64-byte hexadecimal strings`.
 */
export function parseReference(s: string): Reference {
  if (anchoredIdentifierRegexp.test(s)) {
    throw new InvalidArgumentError(
      `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  const [domain, remainder] = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw new InvalidArgumentError(
      `${ERR_REFERENCE_INVALID_FORMAT}: repository name (${remote}) must be lowercase`,
    );
  }
  const ref = parseStrict(`${domain}/${remainder}`);
  if (ref.domain === '') {
    // Cannot happen with a domain prepended; kept so the type of `name` stays honest.
    throw new InvalidArgumentError(ERR_REFERENCE_INVALID_FORMAT);
  }
  return ref;
}

/**
 * parseNamedStrict parses an already fully qualified name (what ckptd stores in containerd, e.g.
 * `docker.io/library/busybox:latest`) without normalizing it, as `reference.ParseNamed`:
 * a familiar or non-canonical form is an error (`repository name must be canonical`).
 */
export function parseNamedStrict(s: string): Reference {
  const ref = parseReference(s);
  if (ref.toString() !== s) throw new InvalidArgumentError('repository name must be canonical');
  return ref;
}

/** withDefaultTag returns ref with tag `latest` when it has neither tag nor digest (`TagNameOnly`). */
export function withDefaultTag(ref: Reference): Reference {
  if (ref.tag !== undefined || ref.digest !== undefined) return ref;
  return makeReference(ref.domain, ref.path, DEFAULT_TAG, undefined);
}

/**
 * normalizeName returns the full form of a user-given reference, the name ckptd stores images
 * under: `busybox` -> `docker.io/library/busybox:latest`, `x@sha256:…` stays digest-only.
 */
export function normalizeName(s: string): string {
  return withDefaultTag(parseReference(s)).toString();
}

/**
 * withTag returns the full `name:tag` of a repository and a tag given separately (the `repo` and
 * `tag` query parameters of /commit and /images/{name}/tag). An empty tag means `latest`; a bad
 * tag is `invalid tag format`. A repo that carries a digest is refused, as Docker refuses it.
 */
export function withTag(repo: string, tagValue?: string): string {
  const ref = parseReference(repo);
  if (ref.digest !== undefined) {
    throw new InvalidArgumentError('refusing to create a tag with a digest reference');
  }
  const t = tagValue === undefined || tagValue === '' ? (ref.tag ?? DEFAULT_TAG) : tagValue;
  if (!anchoredTagRegexp.test(t)) throw new InvalidArgumentError('invalid tag format');
  return makeReference(ref.domain, ref.path, t, undefined).toString();
}

/**
 * familiarName turns a full name back into the short form Docker shows in RepoTags and
 * RepoDigests (`FamiliarString`): `docker.io/library/busybox:latest` -> `busybox:latest`,
 * `docker.io/user/x:1` -> `user/x:1`, `localhost:5000/a:b` unchanged. A string that does not parse
 * is returned as it is, as moby does for malformed stored names.
 */
export function familiarName(fullName: string): string {
  let ref: Reference;
  try {
    ref = parseReference(fullName);
  } catch {
    return fullName;
  }
  let name = ref.name;
  if (ref.domain === DEFAULT_DOMAIN) {
    name = ref.path;
    if (name.startsWith(OFFICIAL_REPO_PREFIX)) {
      const rest = name.slice(OFFICIAL_REPO_PREFIX.length);
      // Only a one-component official name is shortened (`library/a/b` stays as it is).
      if (!rest.includes('/')) name = rest;
    }
  }
  return `${name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** AnyReference is what `ParseAnyReference` yields: a bare digest (an image ID) or a named reference. */
export type AnyReference = { kind: 'digest'; digest: Digest } | { kind: 'named'; ref: Reference };

/**
 * parseAnyReference parses what image endpoints accept as `{name}`: a 64-hex ID or `sha256:` ID
 * (a digest reference) or else a normalized named reference (`ParseAnyReference`).
 */
export function parseAnyReference(s: string): AnyReference {
  if (anchoredIdentifierRegexp.test(s)) return { kind: 'digest', digest: `sha256:${s}` };
  if (s.startsWith('sha256:')) {
    return { kind: 'digest', digest: parseDigest(s) };
  }
  return { kind: 'named', ref: parseReference(s) };
}

/**
 * truncatedIdHex returns the hex part of s when s could be an image ID or an ID prefix — 4 to 64
 * lowercase hex digits, optionally after `sha256:` — and undefined otherwise. This is moby's
 * `checkTruncatedID` (daemon/containerd/image.go): a lookup by name is tried first, and a string
 * passing this test is then matched against image IDs and must be unambiguous.
 */
export function truncatedIdHex(s: string): string | undefined {
  const hex = s.startsWith('sha256:') ? s.slice(7) : s;
  return /^[a-f0-9]{4,64}$/.test(hex) ? hex : undefined;
}

/** isImageIdLike reports whether s could be an image ID or an unambiguous-prefix lookup of one. */
export function isImageIdLike(s: string): boolean {
  return truncatedIdHex(s) !== undefined;
}
