import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import {
  applyRootfsDiff,
  extractCheckpointArchive,
  overlayDirs,
  packCheckpointDir,
  parseDeletedFiles,
  writeRootfsDiff,
} from '../../../src/archive/checkpoint-archive.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const temp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'ckptd-cka-'));
  dirs.push(d);
  return d;
};

type E = { name: string; type?: tar.Header['type']; body?: string; linkname?: string };
async function tarOf(entries: E[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    const b = Buffer.from(e.body ?? '');
    if (type === 'file') pack.entry({ name: e.name, type, size: b.length, mode: 0o644 }, b);
    else
      pack.entry({
        name: e.name,
        type,
        mode: 0o755,
        linkname: e.linkname ?? null,
        devmajor: 1,
        devminor: 3,
      } as tar.Header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const never = new AbortController().signal;

test('extractCheckpointArchive accepts the Podman layout, gzip detected', async () => {
  const dest = await temp();
  const body = gzipSync(
    await tarOf([
      { name: 'config.dump', body: '{}' },
      { name: 'checkpoint/', type: 'directory' },
      { name: 'checkpoint/inventory.img', body: 'inv' },
    ]),
  );
  await extractCheckpointArchive(Readable.from([body]), dest, never);
  assert.equal(await readFile(join(dest, 'checkpoint', 'inventory.img'), 'utf8'), 'inv');
});

test('extractCheckpointArchive accepts an archive made with `tar -C dir .` (a ./ root entry)', async () => {
  const dest = await temp();
  const body = await tarOf([
    { name: './', type: 'directory' },
    { name: './config.dump', body: '{}' },
    { name: './checkpoint/', type: 'directory' },
    { name: './checkpoint/inventory.img', body: 'inv' },
  ]);
  await extractCheckpointArchive(Readable.from([body]), dest, never);
  assert.equal(await readFile(join(dest, 'checkpoint', 'inventory.img'), 'utf8'), 'inv');
  assert.equal(await readFile(join(dest, 'config.dump'), 'utf8'), '{}');
});

test('extractCheckpointArchive accepts bytes after the end marker, which tar leaves unread (no EPIPE)', async () => {
  const dest = await temp();
  const archive = await tarOf([
    { name: 'config.dump', body: '{}' },
    { name: 'checkpoint/', type: 'directory' },
    { name: 'checkpoint/inventory.img', body: 'inv' },
  ]);
  // far more than a pipe holds: GNU tar exits at the end marker while these are still written
  const tail = Buffer.alloc(4 << 20);
  const chunks = [archive, ...Array.from({ length: 64 }, (_, i) => tail.subarray(i << 16, (i + 1) << 16))];
  await extractCheckpointArchive(Readable.from(chunks), dest, never);
  assert.equal(await readFile(join(dest, 'checkpoint', 'inventory.img'), 'utf8'), 'inv');
  // compressed, the decompressor is the writer that loses its reader
  const zdest = await temp();
  await extractCheckpointArchive(Readable.from([gzipSync(Buffer.concat(chunks))]), zdest, never);
  assert.equal(await readFile(join(zdest, 'checkpoint', 'inventory.img'), 'utf8'), 'inv');
});

const valid: E[] = [
  { name: 'config.dump', body: '{}' },
  { name: 'checkpoint/', type: 'directory' },
  { name: 'checkpoint/inventory.img', body: 'inv' },
];
for (const [what, entries, reason] of [
  ['a ../ entry', [...valid, { name: '../x', body: 'x' }], /contains '\.\.'/],
  ['a ../ entry deeper down', [...valid, { name: 'checkpoint/../../x', body: 'x' }], /contains '\.\.'/],
  [
    'a device node',
    [...valid, { name: 'checkpoint/null', type: 'character-device' }],
    /only files and directories/,
  ],
  [
    'a symlink',
    [{ name: 'checkpoint', type: 'symlink', linkname: '/etc' }, ...valid],
    /only files and directories/,
  ],
  [
    'a symlink, then a file through it',
    [...valid, { name: 'out', type: 'symlink', linkname: '/tmp' }, { name: 'out/escaped', body: 'x' }],
    /only files and directories/,
  ],
  [
    'a hardlink',
    [...valid, { name: 'checkpoint/pw', type: 'link', linkname: '/etc/passwd' }],
    /only files and directories/,
  ],
  ['a duplicate file', [...valid, { name: 'config.dump', body: '{"x":1}' }], /exists|only files/],
  ['no CRIU images', [{ name: 'config.dump', body: '{}' }], /CRIU images\) is missing/],
  ['no config.dump', [{ name: 'checkpoint/inventory.img', body: 'inv' }], /config\.dump is missing/],
] as [string, E[], RegExp][]) {
  test(`extractCheckpointArchive refuses ${what} with an InvalidArgumentError`, async () => {
    const parent = await temp();
    const dest = join(parent, 'staging');
    await mkdir(dest, { mode: 0o700 });
    await assert.rejects(
      extractCheckpointArchive(Readable.from([await tarOf(entries)]), dest, never),
      (err) => {
        assert.equal((err as { code?: string }).code, 'CKPTD_INVALID_ARGUMENT');
        assert.match((err as Error).message, reason);
        return true;
      },
    );
    // nothing was written next to the staging directory, nor where the links pointed
    assert.deepEqual(await readdir(parent), ['staging']);
    await assert.rejects(lstat('/tmp/escaped'));
  });
}

test('extractCheckpointArchive stops at the entry limit and at the size limit', async () => {
  const many: E[] = [
    ...valid,
    ...Array.from({ length: 20 }, (_, i) => ({ name: `checkpoint/f${i}`, body: 'x' })),
  ];
  const limits = { maxBytes: 1 << 20, maxEntries: 10, maxMetadataBytes: 1024 };
  await assert.rejects(
    extractCheckpointArchive(Readable.from([await tarOf(many)]), await temp(), never, limits),
    /more than 10 entries/,
  );
  const big: E[] = [...valid, { name: 'checkpoint/pages-1.img', body: 'p'.repeat(2 << 20) }];
  await assert.rejects(
    extractCheckpointArchive(Readable.from([await tarOf(big)]), await temp(), never, limits),
    /exceeds the limit of 1048576 bytes/,
  );
  const meta: E[] = [{ name: 'config.dump', body: `"${'m'.repeat(2000)}"` }, ...valid.slice(1)];
  await assert.rejects(
    extractCheckpointArchive(Readable.from([await tarOf(meta)]), await temp(), never, limits),
    /config\.dump is larger than 1024 bytes/,
  );
});

test('extractCheckpointArchive hands the unpacked files to root', async () => {
  const dest = await temp();
  await extractCheckpointArchive(Readable.from([await tarOf(valid)]), dest, never);
  for (const p of [dest, join(dest, 'checkpoint'), join(dest, 'checkpoint', 'inventory.img')]) {
    const st = await lstat(p);
    assert.deepEqual([st.uid, st.gid], [0, 0], p);
  }
});

test('extractCheckpointArchive writes big files exactly, whatever the upload pieces (batched writes)', async () => {
  const dest = await temp();
  // a pattern that shows any misplaced, lost or repeated byte; sizes around the 1 MiB batch
  const pattern = (n: number, seed: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 12)) & 0xff;
    return b;
  };
  const big = pattern(3 * (1 << 20) + 12_345, 7);
  const exact = pattern(1 << 20, 3);
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  pack.entry({ name: 'config.dump', size: 2, mode: 0o644 }, Buffer.from('{}'));
  pack.entry({ name: 'checkpoint/pages-1.img', size: big.length, mode: 0o644 }, big);
  pack.entry({ name: 'checkpoint/pages-2.img', size: exact.length, mode: 0o644 }, exact);
  pack.entry({ name: 'checkpoint/empty.img', size: 0, mode: 0o644 }, Buffer.alloc(0));
  pack.finalize();
  await done;
  const archive = Buffer.concat(chunks);
  // odd-sized pieces, many of them tiny, as a network upload may arrive
  const pieces: Buffer[] = [];
  for (let off = 0, i = 0; off < archive.length; i++) {
    const n = i % 5 === 0 ? 1 + (i % 97) : 1000 + ((i * 7919) % 70_000);
    pieces.push(archive.subarray(off, off + n));
    off += n;
  }
  await extractCheckpointArchive(Readable.from(pieces), dest, never);
  assert.ok((await readFile(join(dest, 'checkpoint', 'pages-1.img'))).equals(big));
  assert.ok((await readFile(join(dest, 'checkpoint', 'pages-2.img'))).equals(exact));
  assert.equal((await readFile(join(dest, 'checkpoint', 'empty.img'))).length, 0);
});

test('extractCheckpointArchive refuses a truncated archive', async () => {
  const full = await tarOf([
    { name: 'config.dump', body: '{}' },
    { name: 'checkpoint/pages-1.img', body: 'p'.repeat(10_000) },
  ]);
  await assert.rejects(
    extractCheckpointArchive(Readable.from([full.subarray(0, 3000)]), await temp(), never),
    /truncated|unexpected end/,
  );
});

test('parseDeletedFiles cleans paths and refuses escapes', () => {
  assert.deepEqual(parseDeletedFiles('["/etc/motd", "var/x"]'), ['etc/motd', 'var/x']);
  assert.deepEqual(parseDeletedFiles('null'), []);
  assert.throws(() => parseDeletedFiles('["/../../etc/shadow"]'), /escapes/);
  assert.throws(() => parseDeletedFiles('{"a":1}'), /array/);
});

test('applyRootfsDiff writes files, links and deletions, and never follows a symlink out of the root', async () => {
  const root = await temp();
  const outside = await temp();
  await mkdir(join(root, 'etc'));
  await writeFile(join(root, 'etc', 'motd'), 'old');
  await symlink(outside, join(root, 'escape'));
  const diff = await tarOf([
    { name: 'etc/new', body: 'new' },
    { name: 'etc/hard', type: 'link', linkname: 'etc/new' },
    { name: 'etc/sym', type: 'symlink', linkname: '/etc/new' },
  ]);
  await applyRootfsDiff(root, Readable.from([diff]), ['etc/motd'], never);
  assert.equal(await readFile(join(root, 'etc', 'new'), 'utf8'), 'new');
  assert.equal((await lstat(join(root, 'etc', 'hard'))).nlink, 2);
  assert.ok((await lstat(join(root, 'etc', 'sym'))).isSymbolicLink());
  await assert.rejects(lstat(join(root, 'etc', 'motd')));
  for (const bad of [
    [{ name: 'escape/pwned', body: 'x' }],
    [{ name: '../pwned', body: 'x' }],
    [{ name: 'dev/null', type: 'character-device' }],
    [{ name: 'etc/h2', type: 'link', linkname: '../outside' }],
  ] as E[][]) {
    await assert.rejects(applyRootfsDiff(root, Readable.from([await tarOf(bad)]), [], never), {
      code: 'CKPTD_INVALID_ARGUMENT',
    });
  }
  assert.deepEqual(await readdir(outside), []);
  // a deletion through a symlinked parent is skipped, not followed
  await writeFile(join(outside, 'keep'), 'k');
  await assert.rejects(applyRootfsDiff(root, undefined, ['escape/keep'], never));
  assert.equal(await readFile(join(outside, 'keep'), 'utf8'), 'k');
});

test('writeRootfsDiff turns overlay whiteouts into deleted.files and packs the rest; packCheckpointDir round-trips', async () => {
  const upper = await temp();
  await mkdir(join(upper, 'tmp'));
  await writeFile(join(upper, 'tmp', 'c'), '42');
  const out = await temp();
  const s = await writeRootfsDiff(
    { upper, lowers: [] },
    join(out, 'rootfs-diff.tar'),
    join(out, 'deleted.files'),
  );
  assert.equal(s.bytes, 2);
  assert.deepEqual(JSON.parse(await readFile(join(out, 'deleted.files'), 'utf8')), []);
  const root = await temp();
  await applyRootfsDiff(root, Readable.from([await readFile(join(out, 'rootfs-diff.tar'))]), [], never);
  assert.equal(await readFile(join(root, 'tmp', 'c'), 'utf8'), '42');
  assert.deepEqual(
    overlayDirs({ type: 'overlay', options: ['upperdir=/u', 'lowerdir=/a:/b', 'workdir=/w'] }),
    {
      upper: '/u',
      lowers: ['/a', '/b'],
    },
  );

  await mkdir(join(out, 'checkpoint'));
  await writeFile(join(out, 'checkpoint', 'inventory.img'), 'inv');
  await writeFile(join(out, 'config.dump'), '{}');
  for (const compress of ['none', 'zstd', 'gzip'] as const) {
    const chunks: Buffer[] = [];
    for await (const c of (await packCheckpointDir(out, { compress, skip: ['deleted.files'] })).open())
      chunks.push(c as Buffer);
    const again = await temp();
    await extractCheckpointArchive(Readable.from([Buffer.concat(chunks)]), again, never);
    assert.deepEqual(
      (await readdir(again)).sort(),
      ['checkpoint', 'config.dump', 'rootfs-diff.tar'],
      compress,
    );
    assert.equal(await readFile(join(again, 'checkpoint', 'inventory.img'), 'utf8'), 'inv');
  }
});

test('packCheckpointDir: tar names are relative and owned by 0:0', async () => {
  const dir = await temp();
  await mkdir(join(dir, 'checkpoint'));
  await writeFile(join(dir, 'checkpoint', 'pages-1.img'), Buffer.alloc(70_000, 1));
  const names: string[] = [];
  const extract = tar.extract();
  const reading = (async () => {
    for await (const e of extract) {
      names.push(`${e.header.name} ${e.header.uid}:${e.header.gid} ${e.header.size ?? 0}`);
      e.resume();
    }
  })();
  await pipeline((await packCheckpointDir(dir)).open(), extract);
  await reading;
  assert.deepEqual(names, ['checkpoint/ 0:0 0', 'checkpoint/pages-1.img 0:0 70000']);
});

test('packCheckpointDir with zstd and a scratch dir: zstd reads the large files itself, GNU tar reads the result', async () => {
  const dir = await temp();
  const scratch = await temp();
  await mkdir(join(dir, 'checkpoint'));
  // large files (zstd inputs) with sizes that need padding, small ones copied into glue files
  const big = Buffer.alloc(3 * 1024 * 1024 + 5);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  await writeFile(join(dir, 'checkpoint', 'pages-1.img'), big);
  await writeFile(join(dir, 'checkpoint', 'pages-2.img'), big.subarray(0, (1 << 20) + 511));
  await writeFile(join(dir, 'checkpoint', 'core-1.img'), 'core');
  await writeFile(join(dir, 'config.dump'), '{"a":1}');
  await writeFile(join(dir, 'rootfs-diff.tar'), '');
  await mkdir(join(dir, 'checkpoint', `${'d'.repeat(120)}`));
  await writeFile(join(dir, 'checkpoint', `${'d'.repeat(120)}`, `${'f'.repeat(90)}`), 'long');
  const chunks: Buffer[] = [];
  for await (const c of (await packCheckpointDir(dir, { compress: 'zstd', level: 1, scratch })).open())
    chunks.push(c as Buffer);
  const archive = Buffer.concat(chunks);
  // more than one zstd frame: the glue and the large files were compressed separately
  let frames = 0;
  for (let i = archive.indexOf(ZSTD_MAGIC); i >= 0; i = archive.indexOf(ZSTD_MAGIC, i + 4)) frames++;
  assert.ok(frames >= 4, `${frames} frames`);
  const out = await temp();
  const { execFileSync } = await import('node:child_process');
  const tarFile = join(out, 'a.tar');
  execFileSync('sh', ['-c', `zstd -dcq > "${tarFile}"`], { input: archive });
  const listing = execFileSync('tar', ['-tvf', tarFile, '--numeric-owner'], { encoding: 'utf8' });
  assert.match(listing, / 0\/0 +3145733 .* checkpoint\/pages-1\.img\n/);
  execFileSync('tar', ['-xf', tarFile, '-C', out]);
  assert.deepEqual(await readFile(join(out, 'checkpoint', 'pages-1.img')), big);
  assert.deepEqual(await readFile(join(out, 'checkpoint', 'pages-2.img')), big.subarray(0, (1 << 20) + 511));
  assert.equal(await readFile(join(out, 'checkpoint', 'core-1.img'), 'utf8'), 'core');
  assert.equal(await readFile(join(out, 'checkpoint', 'd'.repeat(120), 'f'.repeat(90)), 'utf8'), 'long');
  assert.equal(await readFile(join(out, 'config.dump'), 'utf8'), '{"a":1}');
  // ckptd's own reader takes it as well
  const again = await temp();
  await extractCheckpointArchive(Readable.from([archive]), again, never);
  assert.deepEqual(await readFile(join(again, 'checkpoint', 'pages-1.img')), big);
  // the scratch dir holds only glue files (the caller removes it)
  assert.ok((await readdir(scratch)).every((n) => n.startsWith('glue-')));
});

test('packCheckpointDir with zstd refuses what a checkpoint directory never holds', async () => {
  const dir = await temp();
  await symlink('/etc/passwd', join(dir, 'config.dump'));
  await assert.rejects(
    packCheckpointDir(dir, { compress: 'zstd', scratch: await temp() }),
    /not a regular file/,
  );
});

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
