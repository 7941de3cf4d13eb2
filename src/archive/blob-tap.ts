/**
 * BlobTap: a pass-through that watches an archive entry on its way to the BlobSink, so the
 * reader learns everything it needs in the same single pass:
 *
 * - compression, from the magic bytes (no media type is known yet: manifest.json may come last);
 * - the uncompressed sha256 (the layer's diffID) of compressed entries, by feeding the same
 *   chunks into an in-process decompressor whose output is only hashed, never stored;
 * - a copy of small JSON-looking entries (configs, manifests, indexes), within a byte budget;
 * - the first entry name that would break out of the layer root if the entry is a layer tar
 *   (LayerPathCheck, fed the uncompressed bytes).
 *
 * The decompressor is fed with backpressure: a chunk's callback waits for it, so memory stays
 * bounded. A decompression failure does not fail the entry (it may be no layer at all); it is
 * recorded and turned into an error only if a manifest uses the blob as a layer.
 */
import { createHash } from 'node:crypto';
import { Transform, type Duplex, type TransformCallback } from 'node:stream';

import { MAGIC_BYTES, decompressStream, detectCompression, type CompressionKind } from './compression.js';
import { LayerPathCheck } from './layer-paths.js';

/** JsonBudget is the byte budget shared by every in-memory copy of one archive read. */
export interface JsonBudget {
  remaining: number;
}

/** BlobTapOptions configures a BlobTap. */
export interface BlobTapOptions {
  /** captureJson keeps a copy when the entry looks like JSON (first non-blank byte `{`). */
  captureJson: boolean;
  budget: JsonBudget;
  /** computeDiffId decompresses compressed entries to hash them. */
  computeDiffId: boolean;
  /** maxUncompressedBytes bounds the decompressed size (bomb guard for the diffID hash). */
  maxUncompressedBytes: number;
}

type JsonState = 'undecided' | 'yes' | 'no';

/** BlobTap passes bytes through unchanged while it sniffs, hashes and captures them. */
export class BlobTap extends Transform {
  /** compression is known once the first MAGIC_BYTES bytes (or the end) went through. */
  compression: CompressionKind = 'none';
  /** diffId is sha256 of the decompressed bytes, for compressed entries. */
  diffId: string | undefined;
  /** diffIdError says why diffId could not be computed. */
  diffIdError: string | undefined;
  /** json is the captured copy, set at the end for JSON-looking entries within budget. */
  json: Buffer | undefined;
  /** layerPaths checks the entry's names as a layer tar's (uncompressed or decompressed bytes). */
  readonly layerPaths = new LayerPathCheck();

  readonly #opts: BlobTapOptions;
  #head: Buffer[] = [];
  #headLen = 0;
  #decided = false;
  #jsonState: JsonState;
  #jsonChunks: Buffer[] = [];
  #jsonLen = 0;
  #decomp: Duplex | undefined;
  #uncompressed = 0;
  #decompDone: Promise<void> = Promise.resolve();
  #finishDecomp: () => void = () => {};

  constructor(opts: BlobTapOptions) {
    super();
    this.#opts = opts;
    this.#jsonState = opts.captureJson ? 'undecided' : 'no';
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#sniffJson(chunk);
    this.push(chunk);
    if (this.#decided) {
      if (this.compression === 'none') this.layerPaths.write(chunk);
      this.#feed(chunk, cb);
      return;
    }
    this.#head.push(chunk);
    this.#headLen += chunk.length;
    if (this.#headLen < MAGIC_BYTES) {
      cb();
      return;
    }
    this.#decide();
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (!this.#decided) this.#decide();
    if (this.#jsonState === 'yes') this.json = Buffer.concat(this.#jsonChunks);
    else this.#dropJson();
    this.#jsonChunks = [];
    const decomp = this.#decomp;
    if (!decomp) {
      cb();
      return;
    }
    if (!decomp.destroyed) decomp.end();
    this.#decompDone.then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#decomp?.destroy();
    this.#finishDecomp();
    cb(err);
  }

  #decide(): void {
    this.#decided = true;
    const head = Buffer.concat(this.#head);
    this.#head = [];
    this.compression = detectCompression(head);
    if (this.compression === 'none') this.layerPaths.write(head);
    if (this.compression === 'none' || !this.#opts.computeDiffId) return;
    this.#startDecompressor();
    // The head chunks already went downstream; their decompression must not block on drain
    // (a Duplex accepts writes past its highWaterMark).
    this.#decomp!.write(head);
  }

  #startDecompressor(): void {
    const decomp = decompressStream(this.compression);
    const hash = createHash('sha256');
    this.#decomp = decomp;
    this.#decompDone = new Promise<void>((resolve) => {
      this.#finishDecomp = resolve;
    });
    decomp.on('data', (chunk: Buffer) => {
      this.#uncompressed += chunk.length;
      if (this.#uncompressed > this.#opts.maxUncompressedBytes) {
        this.#fail(`uncompressed size exceeds the limit of ${this.#opts.maxUncompressedBytes} bytes`);
        return;
      }
      hash.update(chunk);
      this.layerPaths.write(chunk);
    });
    decomp.on('end', () => {
      if (this.diffIdError === undefined) this.diffId = `sha256:${hash.digest('hex')}`;
      this.#finishDecomp();
    });
    decomp.on('error', (err) => this.#fail(`${this.compression} decompression failed: ${err.message}`));
    decomp.on('close', () => this.#finishDecomp());
  }

  #fail(reason: string): void {
    if (this.diffIdError !== undefined) return;
    this.diffIdError = reason;
    this.#decomp?.destroy();
    this.#finishDecomp();
  }

  #feed(chunk: Buffer, cb: TransformCallback): void {
    const decomp = this.#decomp;
    if (!decomp || this.diffIdError !== undefined || decomp.destroyed) {
      cb();
      return;
    }
    if (decomp.write(chunk)) {
      cb();
      return;
    }
    const release = (): void => {
      decomp.off('drain', release);
      decomp.off('close', release);
      cb();
    };
    decomp.on('drain', release);
    decomp.on('close', release);
  }

  #sniffJson(chunk: Buffer): void {
    if (this.#jsonState === 'no') return;
    if (this.#jsonState === 'undecided') {
      const first = chunk.findIndex((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d);
      if (first >= 0) this.#jsonState = chunk[first] === 0x7b /* { */ ? 'yes' : 'no';
      if (this.#jsonState === 'no') {
        this.#dropJson();
        return;
      }
    }
    if (this.#opts.budget.remaining < chunk.length) {
      // Over budget: keep no copy. A manifest needing this blob's JSON fails with a clear error.
      this.#jsonState = 'no';
      this.#dropJson();
      return;
    }
    this.#opts.budget.remaining -= chunk.length;
    this.#jsonLen += chunk.length;
    this.#jsonChunks.push(chunk);
  }

  #dropJson(): void {
    this.#opts.budget.remaining += this.#jsonLen;
    this.#jsonLen = 0;
    this.#jsonChunks = [];
  }
}
