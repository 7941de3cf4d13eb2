import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import tar from 'tar-stream';
import { encodeHeader, END_OF_ARCHIVE, padding } from '../../../src/archive/tar-header.js';

/** entries of `archive` as tar-stream reads them */
async function read(archive: Buffer): Promise<tar.Header[]> {
  const extract = tar.extract();
  const out: tar.Header[] = [];
  const reading = (async () => {
    for await (const e of extract) {
      out.push(e.header);
      e.resume();
    }
  })();
  extract.end(archive);
  await reading;
  return out;
}

test('encodeHeader: ustar fields GNU tar and tar-stream read back', async () => {
  const body = Buffer.from('hello');
  const archive = Buffer.concat([
    encodeHeader({ name: 'checkpoint', type: 'directory', mode: 0o40755, size: 0, mtime: 1_700_000_000 }),
    encodeHeader({
      name: 'checkpoint/core-1.img',
      type: 'file',
      mode: 0o100600,
      size: 5,
      mtime: 1_700_000_001.9,
    }),
    body,
    padding(body.length),
    END_OF_ARCHIVE,
  ]);
  const h = await read(archive);
  assert.deepEqual(
    h.map((x) => [x.name, x.type, x.mode, x.size, x.uid, x.gid, x.mtime?.getTime()]),
    [
      ['checkpoint/', 'directory', 0o755, 0, 0, 0, 1_700_000_000_000],
      ['checkpoint/core-1.img', 'file', 0o600, 5, 0, 0, 1_700_000_001_000],
    ],
  );
  const listing = execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: archive, encoding: 'utf8' });
  assert.match(
    listing,
    /^drwxr-xr-x 0\/0 +0 2023-11-14 \d\d:13 checkpoint\/\n-rw------- 0\/0 +5 .* checkpoint\/core-1\.img\n$/,
  );
});

test('encodeHeader: long names use the ustar prefix, or a pax path record when they cannot', async () => {
  const split = `${'a'.repeat(150)}/${'b'.repeat(99)}`;
  const unsplittable = `${'c'.repeat(300)}é`;
  const archive = Buffer.concat([
    encodeHeader({ name: split, type: 'file', mode: 0o644, size: 0, mtime: 0 }),
    encodeHeader({ name: unsplittable, type: 'file', mode: 0o644, size: 0, mtime: 0 }),
    END_OF_ARCHIVE,
  ]);
  assert.equal(encodeHeader({ name: split, type: 'file', mode: 0o644, size: 0, mtime: 0 }).length, 512);
  assert.deepEqual(
    (await read(archive)).map((x) => x.name),
    [split, unsplittable],
  );
  const listing = execFileSync('tar', ['-tf', '-'], { input: archive, encoding: 'utf8' });
  assert.deepEqual(listing.split('\n').slice(0, 2), [split, unsplittable]);
});

test('encodeHeader: sizes from 8 GiB go into a pax size record', () => {
  const big = 9 * 1024 ** 3 + 3;
  const h = encodeHeader({ name: 'checkpoint/pages-1.img', type: 'file', mode: 0o644, size: big, mtime: 0 });
  // GNU tar reads the header and then wants the 9 GiB of data: its complaint names the size
  let err = '';
  try {
    execFileSync('tar', ['-tvf', '-'], { input: h, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    err = String((e as { stdout?: string }).stdout);
  }
  assert.match(err, new RegExp(` ${big} .*checkpoint/pages-1\\.img`));
  assert.equal(h.length, 3 * 512);
});
