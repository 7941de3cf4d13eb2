import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ContainerdClient } from '../../../src/containerd/client.js';
import { WRITE_CHUNK_BYTES } from '../../../src/containerd/content.js';
import type { ReadContentRequest__Output } from '../../../src/gen/containerd/services/content/v1/ReadContentRequest.js';
import type { WriteContentRequest__Output } from '../../../src/gen/containerd/services/content/v1/WriteContentRequest.js';
import { NotFoundError } from '../../../src/errors/index.js';
import { startFake, type FakeContainerd } from './fake-containerd.js';

const MiB = 1 << 20;
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A content store fake with containerd's Write/Read semantics, recording what it saw. */
class FakeStore {
  blobs = new Map<string, Buffer>();
  maxMessageData = 0;
  writeMessages = 0;
  aborted: string[] = [];
  readSent = 0;
  readCancelled = false;
  /** readBlobSize: Read of `sha256:big` streams this many pattern bytes. */
  readBlobSize = 256 * MiB;

  write(call: grpc.ServerDuplexStream<WriteContentRequest__Output, unknown>): void {
    let buf = Buffer.alloc(0);
    call.on('data', (req: WriteContentRequest__Output) => {
      this.writeMessages++;
      this.maxMessageData = Math.max(this.maxMessageData, req.data.length);
      if (req.action === 'STAT') {
        if (req.expected && this.blobs.has(req.expected)) {
          call.emit('error', {
            code: grpc.status.ALREADY_EXISTS,
            details: `content ${req.expected}: already exists`,
          });
          return;
        }
        call.write({ action: 'STAT', offset: 0, total: req.total });
      } else if (req.action === 'WRITE') {
        if (Number(req.offset) !== buf.length) {
          call.emit('error', { code: grpc.status.OUT_OF_RANGE, details: 'bad offset' });
          return;
        }
        buf = Buffer.concat([buf, req.data]);
        call.write({ action: 'WRITE', offset: buf.length });
      } else {
        const digest = sha256(buf);
        if (req.expected && req.expected !== digest) {
          call.emit('error', {
            code: grpc.status.FAILED_PRECONDITION,
            details: `unexpected digest ${digest}`,
          });
          return;
        }
        if (this.blobs.has(digest)) {
          call.emit('error', {
            code: grpc.status.ALREADY_EXISTS,
            details: `content ${digest}: already exists`,
          });
          return;
        }
        this.blobs.set(digest, buf);
        call.write({ action: 'COMMIT', offset: buf.length, digest });
      }
    });
    call.on('end', () => call.end());
  }

  read(call: grpc.ServerWritableStream<ReadContentRequest__Output, unknown>): void {
    const req = call.request;
    call.on('cancelled', () => (this.readCancelled = true));
    const blob = this.blobs.get(req.digest);
    if (blob) {
      call.write({ offset: 0, data: blob });
      call.end();
      return;
    }
    if (req.digest !== 'sha256:big') {
      call.emit('error', { code: grpc.status.NOT_FOUND, details: `content digest ${req.digest}: not found` });
      return;
    }
    // Honour backpressure like containerd's server does (gRPC-Go blocks in Send).
    const chunk = Buffer.alloc(MiB, 7);
    let offset = 0;
    const pump = (): void => {
      while (offset < this.readBlobSize && !this.readCancelled) {
        const ok = call.write({ offset, data: chunk });
        offset += chunk.length;
        this.readSent = offset;
        if (!ok) {
          call.once('drain', pump);
          return;
        }
      }
      if (!this.readCancelled) call.end();
    };
    pump();
  }
}

describe('containerd content store', () => {
  let fake: FakeContainerd;
  let client: ContainerdClient;
  let store: FakeStore;

  before(async () => {
    store = new FakeStore();
    fake = await startFake({
      'containerd.services.content.v1.Content': {
        Write: ((call) => store.write(call)) as grpc.handleBidiStreamingCall<
          WriteContentRequest__Output,
          unknown
        >,
        Read: ((call) => store.read(call)) as grpc.handleServerStreamingCall<
          ReadContentRequest__Output,
          unknown
        >,
        Abort: ((call: grpc.ServerUnaryCall<{ ref: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
          store.aborted.push(call.request.ref);
          cb(null, {});
        }) as grpc.handleUnaryCall<{ ref: string }, unknown>,
      },
    });
    client = new ContainerdClient({ address: fake.address, namespace: 'ckptd-test' });
  });
  beforeEach(() => {
    store.maxMessageData = 0;
    store.writeMessages = 0;
    store.aborted = [];
    store.readSent = 0;
    store.readCancelled = false;
  });
  after(async () => {
    client.close();
    await fake.stop();
  });

  test('writer sends data in chunks of at most 1 MiB and commit returns the digest', async () => {
    const data = randomBytes(5 * MiB + 123);
    const w = client.content.writer('ref-1', { total: data.length });
    await pipeline(Readable.from([data]), w);
    const digest = await w.commit();
    assert.equal(digest, sha256(data));
    assert.equal(w.digest(), digest);
    assert.ok(store.maxMessageData <= WRITE_CHUNK_BYTES, `largest message ${store.maxMessageData}`);
    assert.ok(store.maxMessageData < 16 * MiB);
    assert.ok(store.writeMessages >= 6);
    assert.deepEqual(store.blobs.get(digest), data);
  });

  test('commit with the expected digest of an existing blob succeeds without rewriting it', async () => {
    const data = randomBytes(1000);
    const first = client.content.writer('ref-2');
    first.end(data);
    const digest = await first.commit();
    const again = client.content.writer('ref-3', { expected: digest, total: data.length });
    await pipeline(Readable.from([data]), again);
    assert.equal(again.exists, true);
    assert.equal(await again.commit(data.length, digest), digest);
  });

  test('AlreadyExists at commit counts as success', async () => {
    const data = randomBytes(2000);
    const a = client.content.writer('ref-4');
    a.end(data);
    const digest = await a.commit();
    const b = client.content.writer('ref-5'); // no expected digest: only commit finds the duplicate
    b.end(data);
    assert.equal(await b.commit(), digest);
  });

  test('destroying an uncommitted writer aborts the ingest', async () => {
    const w = client.content.writer('ref-abort');
    await new Promise<void>((resolve, reject) =>
      w.write(randomBytes(100), (e) => (e ? reject(e) : resolve())),
    );
    w.destroy();
    await new Promise((r) => w.once('close', r));
    assert.deepEqual(store.aborted, ['ref-abort']);
  });

  test('readStream round-trips a blob', async () => {
    const data = randomBytes(3 * MiB);
    const w = client.content.writer('ref-read');
    w.end(data);
    const digest = await w.commit();
    const got = await client.content.readBlob(digest, 8 * MiB);
    assert.deepEqual(got, data);
  });

  test('readStream of an unknown digest fails with NotFoundError', async () => {
    await assert.rejects(client.content.readBlob('sha256:' + '0'.repeat(64)), NotFoundError);
  });

  test('readStream honours backpressure: a stalled consumer does not make it pull the blob', async (t) => {
    const r = client.content.readStream('sha256:big');
    let received = 0;
    const slow = new Writable({
      highWaterMark: MiB,
      write(chunk: Buffer, _e, cb) {
        received += chunk.length;
        if (received >= 2 * MiB) return; // stall forever after 2 MiB
        cb();
      },
    });
    const done = pipeline(r, slow).catch(() => {});
    await new Promise((res) => setTimeout(res, 1500));
    const rssBefore = process.memoryUsage().rss;
    await new Promise((res) => setTimeout(res, 500));
    t.diagnostic(`server sent ${store.readSent / MiB} MiB of 256 MiB while the consumer stalled at 2 MiB`);
    // Bounded by the pipeline buffers (ours + grpc-js' 16 messages + HTTP/2 windows), not 256 MiB.
    assert.ok(store.readSent < 64 * MiB, `server sent ${store.readSent / MiB} MiB while consumer stalled`);
    assert.ok(r.readableLength <= 2 * MiB, `readable buffered ${r.readableLength}`);
    assert.ok(process.memoryUsage().rss - rssBefore < 16 * MiB, 'memory stays flat while stalled');
    r.destroy();
    await done;
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(store.readCancelled, true, 'destroying the Readable cancels the gRPC stream');
  });
});
