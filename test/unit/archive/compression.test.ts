import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';

import { InvalidArgumentError } from '../../../src/errors/index.js';
import {
  ByteLimit,
  autoDecompress,
  decompressStream,
  detectCompression,
  spawnPipeline,
  type CompressionKind,
} from '../../../src/archive/compression.js';
import { collect, compress } from './helpers.js';

const devNull = () =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });

describe('compression', () => {
  it('detects every kind by its magic bytes', () => {
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0])), 'gzip');
    assert.equal(detectCompression(Buffer.from('BZh91AY')), 'bzip2');
    assert.equal(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), 'xz');
    assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0])), 'zstd');
    assert.equal(detectCompression(Buffer.from('ustar\0')), 'none');
    assert.equal(detectCompression(Buffer.from([0x1f])), 'none');
  });

  for (const kind of ['none', 'gzip', 'zstd', 'xz', 'bzip2'] as CompressionKind[]) {
    it(`round-trips ${kind} through autoDecompress, fed one byte at a time at first`, async () => {
      const data = Buffer.alloc(3 * 1024 * 1024, 'ckptd');
      const packed = await compress(data, kind);
      const chunks: Buffer[] = [...packed.subarray(0, 8)].map((b) => Buffer.from([b]));
      chunks.push(packed.subarray(8));
      const ad = autoDecompress();
      const out = collect(ad);
      await pipeline(Readable.from(chunks), ad);
      assert.ok((await out).equals(data));
      assert.equal(ad.kind, kind);
    });
  }

  it('reports a corrupt zstd stream with the program stderr, as InvalidArgumentError', async () => {
    const bad = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64, 0xff)]);
    await assert.rejects(
      pipeline(Readable.from([bad]), decompressStream('zstd'), devNull()),
      (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.match(err.message, /zstd decompression failed \(exit \d+\): .+/);
        return true;
      },
    );
  });

  it('reports a corrupt gzip stream as InvalidArgumentError', async () => {
    const bad = Buffer.from([0x1f, 0x8b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    await assert.rejects(
      pipeline(Readable.from([bad]), decompressStream('gzip'), devNull()),
      InvalidArgumentError,
    );
  });

  it('kills the helper process when the stream is destroyed', async () => {
    const z = decompressStream('zstd');
    const pid = (z as unknown as { pid: number }).pid;
    assert.ok(pid > 0);
    process.kill(pid, 0); // alive
    const closed = new Promise<void>((resolve) => z.once('close', () => resolve()));
    z.write(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
    z.destroy();
    await closed;
    const gone = async (): Promise<boolean> => {
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          return true;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      return false;
    };
    assert.ok(await gone(), `zstd (pid ${pid}) was killed`);
  });

  it('ByteLimit fails once more than the limit has passed', async () => {
    const limit = new ByteLimit(1000, 'upload');
    await assert.rejects(
      pipeline(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), limit, devNull()),
      (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.equal(err.message, 'upload exceeds the limit of 1000 bytes');
        return true;
      },
    );
    const ok = new ByteLimit(1000);
    await pipeline(Readable.from([Buffer.alloc(1000)]), ok, devNull());
    assert.equal(ok.bytes, 1000);
  });
});

describe('spawnPipeline (host programs wired stdout -> stdin)', () => {
  const alive = (pid: number | undefined): boolean => {
    try {
      process.kill(pid!, 0);
      return true;
    } catch {
      return false;
    }
  };

  it("streams the last program's output and ends when all exit 0", async () => {
    const out = spawnPipeline([
      { program: 'head', args: ['-c', '3000000', '/dev/zero'], what: 'zeros' },
      { program: 'zstd', args: ['-cq', '-1'], what: 'zstd compression' },
      { program: 'zstd', args: ['-dcq'], what: 'zstd decompression' },
    ]);
    const data = await collect(out);
    assert.equal(data.length, 3_000_000);
    assert.ok(data.every((b) => b === 0));
  });

  it("fails with the failing program's name and stderr, not with the SIGPIPE it caused upstream", async () => {
    const out = spawnPipeline([
      { program: 'head', args: ['-c', '50000000', '/dev/zero'], what: 'zeros' },
      { program: 'zstd', args: ['-dcq'], what: 'zstd decompression' },
    ]);
    await assert.rejects(collect(out), /zstd decompression failed \(exit 1\): .+/);
  });

  it('a first stage that fails is reported', async () => {
    const out = spawnPipeline([
      { program: 'tar', args: ['-cf', '-', '/nonexistent-ckptd-path'], what: 'tar of x' },
      { program: 'zstd', args: ['-cq'], what: 'zstd compression' },
    ]);
    await assert.rejects(collect(out), /tar of x failed \(exit 2\): [\s\S]*nonexistent-ckptd-path/);
  });

  it('destroy kills every program', async () => {
    const out = spawnPipeline([
      { program: 'tail', args: ['-f', '/dev/null'], what: 'forever' },
      { program: 'cat', args: [], what: 'cat' },
    ]);
    const pids = out.pids;
    assert.ok(pids.every(alive));
    out.destroy();
    for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!pids.some(alive), 'programs still running after destroy');
  });
});
