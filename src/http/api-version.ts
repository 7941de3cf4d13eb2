import type { IncomingMessage } from 'node:http';
import { InvalidArgumentError } from '../errors/index.js';

/** API_VERSION is the Docker Engine API version ckptd implements and advertises (`Api-Version`). */
export const API_VERSION = '1.47';

/** MIN_API_VERSION is the oldest API version ckptd accepts in a `/v1.NN/` prefix (dockerd's floor). */
export const MIN_API_VERSION = '1.24';

/**
 * FIRST_JSON_ERRORS_VERSION: clients asking for this version or older get plain-text errors, as
 * moby's `apiVersionSupportsJSONErrors` decides (JSON error bodies arrived with API 1.24).
 */
const FIRST_JSON_ERRORS_VERSION = '1.23';

const kRequestedVersion = Symbol('ckptd.requestedApiVersion');

type VersionedRequest = IncomingMessage & { [kRequestedVersion]?: string };

/** VERSION_PREFIX matches moby's `/v{version:[0-9.]+}` route prefix; the rest must start with `/`. */
const VERSION_PREFIX = /^\/v([0-9.]+)(?=\/)/;

/**
 * stripVersionPrefix is Fastify's `rewriteUrl`: it removes a `/v1.NN` prefix, remembering the
 * version on the raw request, so every route answers under both `/path` and `/v1.NN/path`.
 */
export function stripVersionPrefix(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const m = VERSION_PREFIX.exec(url);
  if (!m) return url;
  (req as VersionedRequest)[kRequestedVersion] = m[1];
  return url.slice(m[0].length);
}

/** requestedApiVersion returns the version from the URL prefix, or undefined when there was none. */
export function requestedApiVersion(req: IncomingMessage): string | undefined {
  return (req as VersionedRequest)[kRequestedVersion];
}

/**
 * compareVersions compares dotted versions the way moby's `api/types/versions.compare` does:
 * field by field, numerically, a non-numeric field counting as 0, missing fields as 0.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  const n = Math.max(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = toInt(pa[i]);
    const y = toInt(pb[i]);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function toInt(field: string | undefined): number {
  if (field === undefined || !/^\d+$/.test(field)) return 0;
  return Number(field);
}

/**
 * checkApiVersion throws dockerd's 400 when a requested version is outside
 * [MIN_API_VERSION, API_VERSION] (moby `middleware/version.go`).
 */
export function checkApiVersion(version: string): void {
  if (compareVersions(version, API_VERSION) > 0) {
    throw new InvalidArgumentError(
      `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`,
      { code: 'CKPTD_API_VERSION' },
    );
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new InvalidArgumentError(
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
      { code: 'CKPTD_API_VERSION' },
    );
  }
}

/** supportsJsonErrors tells whether errors for this requested version are JSON (else plain text). */
export function supportsJsonErrors(requested: string | undefined): boolean {
  return requested === undefined || compareVersions(requested, FIRST_JSON_ERRORS_VERSION) > 0;
}
