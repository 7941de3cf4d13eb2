/**
 * Types of the OCI/Docker image config, manifest and index, and validating parsers for JSON that
 * comes from content we did not write (loaded archives, pulled images, containerd's store).
 * Unknown fields are kept: configs carry Docker extensions (`container_config`,
 * `docker_version`, `Shell`, ...) that must survive a parse/modify/serialize round trip.
 */
import { InvalidArgumentError } from '../errors/index.js';
import { isDigest, type Digest } from './digest.js';

/** HealthConfig is Docker's healthcheck; durations are nanoseconds, as in Docker's JSON. */
export interface HealthConfig {
  /** Test is `[]` (inherit), `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`. */
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** ImageRuntimeConfig is the `config` object of an image config: the container defaults. */
export interface ImageRuntimeConfig {
  User?: string;
  /** ExposedPorts maps `port/proto` to `{}`. */
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  /** Volumes maps a container path to `{}`. */
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  Healthcheck?: HealthConfig;
  OnBuild?: string[] | null;
  /** Shell is Docker's SHELL instruction, used for shell-form CMD/ENTRYPOINT (default `/bin/sh -c`). */
  Shell?: string[];
  [extra: string]: unknown;
}

/** HistoryEntry is one step of an image's history; empty_layer marks steps without a layer. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
  [extra: string]: unknown;
}

/** RootFS lists the uncompressed layer digests (diff IDs), bottom first. */
export interface RootFS {
  type: 'layers';
  diff_ids: Digest[];
}

/** ImageConfig is the OCI image config (`application/vnd.oci.image.config.v1+json`) with Docker's fields. */
export interface ImageConfig {
  created?: string;
  author?: string;
  /** comment is the commit message (`docker commit -m`), as dockerd's image configs carry it. */
  comment?: string;
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  config?: ImageRuntimeConfig;
  rootfs: RootFS;
  history?: HistoryEntry[];
  [extra: string]: unknown;
}

/** Platform is an OCI platform description. */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

/** Descriptor points at content by media type, digest and size. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  data?: string;
}

/** ImageManifest is an OCI image manifest or a Docker schema 2 manifest (same shape). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** ImageIndex is an OCI image index or a Docker manifest list (same shape). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(what: string, field: string, want: string): never {
  throw new InvalidArgumentError(`invalid ${what}: ${field} must be ${want}`);
}

function optString(o: Obj, key: string, what: string, prefix = ''): void {
  if (o[key] !== undefined && typeof o[key] !== 'string') fail(what, prefix + key, 'a string');
}

function optStringArray(o: Obj, key: string, what: string, prefix = '', nullable = false): void {
  const v = o[key];
  if (v === undefined || (nullable && v === null)) return;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    fail(what, prefix + key, 'an array of strings');
  }
}

function optStringMap(o: Obj, key: string, what: string, prefix = ''): void {
  const v = o[key];
  if (v === undefined || v === null) return;
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    fail(what, prefix + key, 'an object of strings');
  }
}

function optSet(o: Obj, key: string, what: string, prefix = ''): void {
  const v = o[key];
  if (v === undefined || v === null) return;
  if (!isObject(v) || !Object.values(v).every((x) => isObject(x))) {
    fail(what, prefix + key, 'an object of empty objects');
  }
}

function optNumber(o: Obj, key: string, what: string, prefix = ''): void {
  const v = o[key];
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) fail(what, prefix + key, 'a number');
}

function parseJsonInput(json: unknown, what: string): unknown {
  if (typeof json === 'string' || json instanceof Uint8Array) {
    const text = typeof json === 'string' ? json : Buffer.from(json).toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new InvalidArgumentError(`invalid ${what}: ${(err as Error).message}`, { cause: err });
    }
  }
  return json;
}

/**
 * validateRuntimeConfig checks the `config` object of an image config (or the Config of a
 * container) and returns it typed; nulls Docker writes for empty lists are accepted.
 */
export function validateRuntimeConfig(
  v: unknown,
  what = 'image config',
  prefix = 'config.',
): ImageRuntimeConfig {
  if (!isObject(v)) fail(what, prefix.replace(/\.$/, ''), 'an object');
  optString(v, 'User', what, prefix);
  optSet(v, 'ExposedPorts', what, prefix);
  optStringArray(v, 'Env', what, prefix, true);
  optStringArray(v, 'Entrypoint', what, prefix, true);
  optStringArray(v, 'Cmd', what, prefix, true);
  optSet(v, 'Volumes', what, prefix);
  optString(v, 'WorkingDir', what, prefix);
  optStringMap(v, 'Labels', what, prefix);
  optString(v, 'StopSignal', what, prefix);
  if (v.ArgsEscaped !== undefined && typeof v.ArgsEscaped !== 'boolean')
    fail(what, `${prefix}ArgsEscaped`, 'a boolean');
  if (v.Healthcheck !== undefined && v.Healthcheck !== null) {
    const h = v.Healthcheck;
    if (!isObject(h)) fail(what, `${prefix}Healthcheck`, 'an object');
    optStringArray(h, 'Test', what, `${prefix}Healthcheck.`, true);
    for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries']) {
      optNumber(h, k, what, `${prefix}Healthcheck.`);
    }
  }
  optStringArray(v, 'OnBuild', what, prefix, true);
  optStringArray(v, 'Shell', what, prefix, true);
  return v as ImageRuntimeConfig;
}

/**
 * parseImageConfig validates an image config given as parsed JSON, a JSON string or its bytes,
 * and returns it typed. `rootfs` (type `layers`, sha256 diff IDs) is required; `architecture`
 * and `os` must be strings when present and default to `''` when absent (old tools omitted them,
 * and Docker still loads such images). Anything malformed is InvalidArgumentError naming the field.
 */
export function parseImageConfig(json: unknown): ImageConfig {
  const what = 'image config';
  const v = parseJsonInput(json, what);
  if (!isObject(v)) throw new InvalidArgumentError(`invalid ${what}: not a JSON object`);
  optString(v, 'created', what);
  optString(v, 'author', what);
  optString(v, 'architecture', what);
  optString(v, 'os', what);
  optString(v, 'variant', what);
  optString(v, 'os.version', what);
  optStringArray(v, 'os.features', what);
  if (v.config !== undefined && v.config !== null) validateRuntimeConfig(v.config, what);
  const rootfs = v.rootfs;
  if (!isObject(rootfs)) fail(what, 'rootfs', 'an object');
  if (rootfs.type !== 'layers') fail(what, 'rootfs.type', '"layers"');
  const diffIds = rootfs.diff_ids ?? [];
  if (!Array.isArray(diffIds) || !diffIds.every((d) => isDigest(d))) {
    fail(what, 'rootfs.diff_ids', 'an array of sha256 digests');
  }
  if (v.history !== undefined && v.history !== null) {
    if (!Array.isArray(v.history)) fail(what, 'history', 'an array');
    v.history.forEach((h: unknown, i: number) => {
      const p = `history[${i}].`;
      if (!isObject(h)) fail(what, `history[${i}]`, 'an object');
      optString(h, 'created', what, p);
      optString(h, 'created_by', what, p);
      optString(h, 'author', what, p);
      optString(h, 'comment', what, p);
      if (h.empty_layer !== undefined && typeof h.empty_layer !== 'boolean') {
        fail(what, `${p}empty_layer`, 'a boolean');
      }
    });
  }
  const out: ImageConfig = {
    ...v,
    architecture: (v.architecture as string | undefined) ?? '',
    os: (v.os as string | undefined) ?? '',
    rootfs: { ...rootfs, type: 'layers', diff_ids: diffIds as Digest[] },
  };
  if (v.config === null) delete out.config;
  if (v.history === null) delete out.history;
  return out;
}

function validateDescriptor(d: unknown, what: string, field: string): Descriptor {
  if (!isObject(d)) fail(what, field, 'a descriptor object');
  if (typeof d.mediaType !== 'string' || d.mediaType === '')
    fail(what, `${field}.mediaType`, 'a non-empty string');
  if (!isDigest(d.digest)) fail(what, `${field}.digest`, 'a sha256 digest');
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    fail(what, `${field}.size`, 'a non-negative integer');
  }
  optStringArray(d, 'urls', what, `${field}.`);
  optStringMap(d, 'annotations', what, `${field}.`);
  if (d.platform !== undefined) {
    const p = d.platform;
    if (!isObject(p) || typeof p.architecture !== 'string' || typeof p.os !== 'string') {
      fail(what, `${field}.platform`, 'an object with architecture and os');
    }
  }
  return d as unknown as Descriptor;
}

/**
 * parseManifest validates an OCI image manifest or Docker schema 2 manifest (parsed JSON, string
 * or bytes): schemaVersion 2, a config descriptor and a layers array of descriptors.
 */
export function parseManifest(json: unknown): ImageManifest {
  const what = 'image manifest';
  const v = parseJsonInput(json, what);
  if (!isObject(v)) throw new InvalidArgumentError(`invalid ${what}: not a JSON object`);
  if (v.schemaVersion !== 2) fail(what, 'schemaVersion', '2');
  optString(v, 'mediaType', what);
  validateDescriptor(v.config, what, 'config');
  if (!Array.isArray(v.layers)) fail(what, 'layers', 'an array');
  v.layers.forEach((l: unknown, i: number) => validateDescriptor(l, what, `layers[${i}]`));
  if (v.subject !== undefined) validateDescriptor(v.subject, what, 'subject');
  optStringMap(v, 'annotations', what);
  return v as unknown as ImageManifest;
}

/**
 * parseIndex validates an OCI image index or Docker manifest list (parsed JSON, string or bytes):
 * schemaVersion 2 and a manifests array of descriptors.
 */
export function parseIndex(json: unknown): ImageIndex {
  const what = 'image index';
  const v = parseJsonInput(json, what);
  if (!isObject(v)) throw new InvalidArgumentError(`invalid ${what}: not a JSON object`);
  if (v.schemaVersion !== 2) fail(what, 'schemaVersion', '2');
  optString(v, 'mediaType', what);
  if (!Array.isArray(v.manifests)) fail(what, 'manifests', 'an array');
  v.manifests.forEach((m: unknown, i: number) => validateDescriptor(m, what, `manifests[${i}]`));
  if (v.subject !== undefined) validateDescriptor(v.subject, what, 'subject');
  optStringMap(v, 'annotations', what);
  return v as unknown as ImageIndex;
}
