import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../../src/errors/index.js';
import {
  DigestingTransform,
  digestHex,
  isDigest,
  isSha256Hex,
  parseDigest,
  sha256Digest,
  sha256Hex,
  shortId,
} from '../../../src/oci/digest.js';

const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const HELLO = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';

function sink(): Writable {
  return new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });
}

describe('digest', () => {
  it('sha256Hex hashes bytes and UTF-8 strings', () => {
    assert.equal(sha256Hex(''), EMPTY);
    assert.equal(sha256Hex('hello'), HELLO);
    assert.equal(sha256Hex(Buffer.from('hello')), HELLO);
    assert.equal(sha256Digest('hello'), `sha256:${HELLO}`);
  });

  it('parseDigest accepts a lowercase sha256 digest', () => {
    assert.equal(parseDigest(`sha256:${HELLO}`), `sha256:${HELLO}`);
  });

  it('parseDigest rejects malformed digests with go-digest wording', () => {
    assert.throws(() => parseDigest(HELLO), { message: 'invalid checksum digest format' });
    assert.throws(() => parseDigest('sha256:'), { message: 'invalid checksum digest format' });
    assert.throws(() => parseDigest(`sha256:${HELLO.toUpperCase()}`), {
      message: 'invalid checksum digest format',
    });
    assert.throws(() => parseDigest('sha256:abc'), { message: 'invalid checksum digest length' });
    assert.throws(() => parseDigest(`md5:${HELLO}`), { message: 'unsupported digest algorithm' });
    assert.throws(() => parseDigest(`sha512:${HELLO}`), /unsupported digest algorithm/);
    assert.throws(() => parseDigest('x'), InvalidArgumentError);
  });

  it('isDigest is true only for sha256 + 64 lowercase hex', () => {
    assert.ok(isDigest(`sha256:${HELLO}`));
    assert.ok(!isDigest(HELLO));
    assert.ok(!isDigest(`sha256:${HELLO}0`));
    assert.ok(!isDigest(`sha256:${HELLO.toUpperCase()}`));
    assert.ok(!isDigest(42));
    assert.ok(isSha256Hex(HELLO));
    assert.equal(digestHex(`sha256:${HELLO}`), HELLO);
  });

  it('shortId gives the first 12 hex of a digest or a bare ID', () => {
    assert.equal(shortId(`sha256:${HELLO}`), '2cf24dba5fb0');
    assert.equal(shortId(HELLO), '2cf24dba5fb0');
  });

  it('DigestingTransform passes data through and reports digest and size', async () => {
    const t = new DigestingTransform();
    const out: Buffer[] = [];
    await pipeline(
      Readable.from([Buffer.from('hel'), Buffer.from('lo')]),
      t,
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          out.push(chunk);
          cb();
        },
      }),
    );
    assert.equal(Buffer.concat(out).toString(), 'hello');
    assert.equal(t.digest, `sha256:${HELLO}`);
    assert.equal(t.size, 5);
  });

  it('DigestingTransform refuses to give a digest before the end', () => {
    const t = new DigestingTransform();
    assert.throws(() => t.digest, /before the stream ended/);
  });

  it('DigestingTransform hashes an empty stream', async () => {
    const t = new DigestingTransform();
    await pipeline(Readable.from([]), t, sink());
    assert.equal(t.digest, `sha256:${EMPTY}`);
    assert.equal(t.size, 0);
  });

  it('DigestingTransform accepts content matching the expected digest and size', async () => {
    const t = new DigestingTransform({ expectedDigest: `sha256:${HELLO}`, expectedSize: 5 });
    await pipeline(Readable.from([Buffer.from('hello')]), t, sink());
    assert.equal(t.digest, `sha256:${HELLO}`);
  });

  it('DigestingTransform fails the pipeline on a digest mismatch', async () => {
    const t = new DigestingTransform({ expectedDigest: `sha256:${EMPTY}` });
    await assert.rejects(pipeline(Readable.from([Buffer.from('hello')]), t, sink()), {
      name: 'InvalidArgumentError',
      message: /digest mismatch/,
    });
  });

  it('DigestingTransform fails as soon as the expected size is exceeded', async () => {
    const t = new DigestingTransform({ expectedSize: 3 });
    await assert.rejects(pipeline(Readable.from([Buffer.from('hello')]), t, sink()), /size mismatch/);
  });

  it('DigestingTransform fails on short content', async () => {
    const t = new DigestingTransform({ expectedSize: 10 });
    await assert.rejects(
      pipeline(Readable.from([Buffer.from('hello')]), t, sink()),
      /expected 10 bytes, got 5/,
    );
  });
});
