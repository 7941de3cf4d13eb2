/**
 * Content digests: parsing, validation, hashing and a streaming hasher. ckptd only produces and
 * accepts sha256, the algorithm containerd and Docker use for every image object.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback, type TransformOptions } from 'node:stream';
import { InvalidArgumentError } from '../errors/index.js';

/** Digest is a validated `sha256:<64 lowercase hex>` string. */
export type Digest = `sha256:${string}`;

const SHA256_HEX = /^[a-f0-9]{64}$/;
// go-digest's DigestRegexp: an algorithm (with optional +-._ separated components) and an encoded part.
const DIGEST_SHAPE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const KNOWN_ALGORITHMS = new Set(['sha256', 'sha384', 'sha512']);

/**
 * parseDigest validates s as a sha256 digest and returns it typed. It throws InvalidArgumentError
 * with go-digest's wording: `invalid checksum digest format`, `invalid checksum digest length`,
 * or `unsupported digest algorithm` (sha384/sha512 are valid elsewhere but not in ckptd).
 */
export function parseDigest(s: string): Digest {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 >= s.length || !DIGEST_SHAPE.test(s)) {
    throw new InvalidArgumentError('invalid checksum digest format');
  }
  const algorithm = s.slice(0, i);
  const encoded = s.slice(i + 1);
  if (algorithm !== 'sha256') {
    throw new InvalidArgumentError(
      KNOWN_ALGORITHMS.has(algorithm)
        ? `unsupported digest algorithm: ${algorithm}`
        : 'unsupported digest algorithm',
    );
  }
  if (encoded.length !== 64) throw new InvalidArgumentError('invalid checksum digest length');
  if (!SHA256_HEX.test(encoded)) throw new InvalidArgumentError('invalid checksum digest format');
  return s as Digest;
}

/** isDigest reports whether s is exactly `sha256:` followed by 64 lowercase hex digits. */
export function isDigest(s: unknown): s is Digest {
  return typeof s === 'string' && s.length === 71 && s.startsWith('sha256:') && SHA256_HEX.test(s.slice(7));
}

/** isSha256Hex reports whether s is 64 lowercase hex digits (a full ID without its algorithm). */
export function isSha256Hex(s: string): boolean {
  return SHA256_HEX.test(s);
}

/** digestHex returns the 64-hex part of a digest. */
export function digestHex(d: Digest): string {
  return d.slice(7);
}

/** sha256Hex returns the lowercase hex sha256 of buf (strings are hashed as UTF-8). */
export function sha256Hex(buf: Uint8Array | string): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** sha256Digest returns the sha256 Digest of buf (strings are hashed as UTF-8). */
export function sha256Digest(buf: Uint8Array | string): Digest {
  return `sha256:${sha256Hex(buf)}`;
}

/**
 * shortId returns the first 12 hex digits of a digest or a bare hex ID, as `docker ps` and
 * `docker images` show them (moby's `stringid.TruncateID`).
 */
export function shortId(id: string): string {
  const hex = id.startsWith('sha256:') ? id.slice(7) : id;
  return hex.slice(0, 12);
}

/** DigestingTransformOptions optionally names the digest and size the stream must have. */
export interface DigestingTransformOptions extends Omit<TransformOptions, 'transform' | 'flush'> {
  /** expectedDigest, when set, fails the stream at its end if the content hashes differently. */
  expectedDigest?: Digest;
  /** expectedSize, when set, fails the stream as soon as it is exceeded, or at its end if short. */
  expectedSize?: number;
}

/**
 * DigestingTransform passes bytes through unchanged while computing their sha256 and count, so a
 * blob is hashed once, on the way to where it is written (containerd's `content.Writer`, a tar).
 * `digest` is available after the stream has ended ('finish' on the writable side or 'end' on the
 * readable side); `size` is live. With `expectedDigest`/`expectedSize` a mismatch fails the
 * pipeline with InvalidArgumentError instead of storing content under the wrong name.
 */
export class DigestingTransform extends Transform {
  readonly #hash: Hash = createHash('sha256');
  readonly #expectedDigest: Digest | undefined;
  readonly #expectedSize: number | undefined;
  #size = 0;
  #digest: Digest | undefined;

  constructor(opts: DigestingTransformOptions = {}) {
    const { expectedDigest, expectedSize, ...rest } = opts;
    super(rest);
    this.#expectedDigest = expectedDigest;
    this.#expectedSize = expectedSize;
  }

  /** size is the number of bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** digest is the sha256 of all bytes; it throws if read before the stream ended. */
  get digest(): Digest {
    if (this.#digest === undefined) {
      throw new Error('DigestingTransform: digest read before the stream ended');
    }
    return this.#digest;
  }

  override _transform(chunk: unknown, encoding: BufferEncoding, callback: TransformCallback): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : (chunk as Uint8Array);
    this.#size += buf.byteLength;
    if (this.#expectedSize !== undefined && this.#size > this.#expectedSize) {
      callback(
        new InvalidArgumentError(
          `size mismatch: expected ${this.#expectedSize} bytes, got at least ${this.#size}`,
        ),
      );
      return;
    }
    this.#hash.update(buf);
    callback(null, buf);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = `sha256:${this.#hash.digest('hex')}`;
    if (this.#expectedSize !== undefined && this.#size !== this.#expectedSize) {
      callback(
        new InvalidArgumentError(`size mismatch: expected ${this.#expectedSize} bytes, got ${this.#size}`),
      );
      return;
    }
    if (this.#expectedDigest !== undefined && this.#digest !== this.#expectedDigest) {
      callback(
        new InvalidArgumentError(`digest mismatch: expected ${this.#expectedDigest}, got ${this.#digest}`),
      );
      return;
    }
    callback();
  }
}
