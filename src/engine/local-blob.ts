/**
 * writeLocalBlob writes a whole blob produced on this host (a commit's layer) into containerd's
 * content store. When the store is local (`contentRoot`), the bytes go to the ingest's data file
 * with plain file writes (local-ingest.ts) — through Content.Write they cost a gRPC message per
 * MiB and ~8x the CPU — and containerd, which re-reads and hashes the data file when the ingest
 * is opened again, checks size and digest at COMMIT: containerd stays the authority on the blob.
 * Otherwise the bytes cross Content.Write. Either way the blob is committed with `labels` inside
 * the caller's lease (ctx), and a failure aborts the ingest.
 */
import { createHash } from 'node:crypto';
import { Transform, type Duplex, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallContext, ContainerdClient, ContentWriter } from '../containerd/index.js';
import { EngineError, InternalError } from '../errors/index.js';
import { openLocalIngest } from './local-ingest.js';

/** LocalBlob is a committed blob. */
export interface LocalBlob {
  digest: string;
  size: number;
}

/**
 * writeLocalBlob streams `source` (a readable and the transforms it goes through, e.g. a
 * compressor) into a new blob under ingest `ref`; `labels(digest)` gives the blob's labels (e.g. the uncompressed digest of a layer, which is its own digest when stored
 * uncompressed).
 */
export async function writeLocalBlob(
  client: ContainerdClient,
  contentRoot: string | undefined,
  ref: string,
  source: readonly [Readable, ...Duplex[]],
  labels: (digest: string) => Record<string, string>,
  ctx: CallContext,
): Promise<LocalBlob> {
  const signal = ctx.signal ? { signal: ctx.signal } : {};
  const w = client.content.writer(ref, {}, ctx);
  w.on('error', () => undefined);
  try {
    await w.ready();
    await w.settled();
    const ingest =
      contentRoot === undefined
        ? undefined
        : await openLocalIngest(contentRoot, ctx.namespace ?? client.namespace, ref, w.written);
    if (ingest === undefined) {
      await pipeline([...source, w], signal);
      const digest = w.digest();
      await w.commit(undefined, digest, labels(digest));
      return { digest, size: w.written };
    }
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    await pipeline(
      [...source, tap, ingest.fh.createWriteStream({ start: 0, highWaterMark: 1 << 20 })],
      signal,
    );
    const digest = `sha256:${hash.digest('hex')}`;
    // containerd hashes the data file when the ingest is opened again; the commit checks it
    await w.release();
    const again = await reopenIngest(client, ref, size, ctx);
    try {
      if (again.ingestDigest !== undefined && again.ingestDigest !== digest) {
        throw new InternalError(
          `content ingest ${ref}: containerd read ${again.ingestDigest}, ckptd wrote ${digest}`,
        );
      }
      await again.commit(size, digest, labels(digest));
    } catch (err) {
      again.destroy();
      throw err;
    }
    return { digest, size };
  } catch (err) {
    w.destroy();
    await abortIngest(client, ref, ctx);
    throw err;
  }
}

/**
 * reopenIngest opens a released ingest again (containerd re-reads and hashes its data file),
 * waiting out its last holder; the ingest must hold `size` bytes. With `digest`, a blob that
 * already exists turns the writer into a no-op.
 */
export async function reopenIngest(
  client: ContainerdClient,
  ref: string,
  size: number,
  ctx: CallContext,
  digest?: string,
): Promise<ContentWriter> {
  for (let tries = 0; ; tries++) {
    const w = client.content.writer(
      ref,
      { total: size, resume: true, ...(digest !== undefined ? { expected: digest } : {}) },
      ctx,
    );
    w.on('error', () => undefined);
    try {
      await w.ready();
    } catch (err) {
      w.destroy();
      // the released Write stream may still hold the ref for a moment: Unavailable ("locked")
      if (err instanceof EngineError && err.kind === 'Unavailable' && tries < 400) {
        await sleep(25, undefined, ctx.signal ? { signal: ctx.signal } : {});
        continue;
      }
      throw err;
    }
    if (!w.exists && w.written !== size) {
      w.destroy();
      throw new InternalError(`content ingest ${ref}: ${w.written} of ${size} bytes in the ingest`);
    }
    return w;
  }
}

/** abortIngest drops an ingest best-effort (the caller's lease frees whatever is left). */
export async function abortIngest(
  client: ContainerdClient,
  ref: string,
  ctx: CallContext,
  deadlineMs = 5000,
): Promise<void> {
  try {
    await client.content.abort(ref, {
      ...(ctx.namespace ? { namespace: ctx.namespace } : {}),
      ...(ctx.lease ? { lease: ctx.lease } : {}),
      deadlineMs,
    });
  } catch {
    // NotFound: nothing left; anything else: the lease's deletion frees it
  }
}
