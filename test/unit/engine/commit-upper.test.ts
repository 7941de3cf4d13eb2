import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile, link } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import tar from 'tar-stream';
import {
  isEmptyPlan,
  planUpperLayer,
  upperLayerLayout,
  upperLayerStream,
  whiteoutHeaders,
} from '../../../src/engine/commit-upper.js';

async function entries(
  stream: Readable,
): Promise<{ name: string; type: string; size: number; pax: Record<string, string> }[]> {
  const out: { name: string; type: string; size: number; pax: Record<string, string> }[] = [];
  const extract = tar.extract();
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, s, next) => {
      out.push({
        name: h.name,
        type: h.type ?? 'file',
        size: h.size ?? 0,
        pax: (h as { pax?: Record<string, string> }).pax ?? {},
      });
      s.on('end', next);
      s.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    stream.on('error', reject);
    stream.pipe(extract);
  });
  return out;
}

test('upperLayerLayout takes one overlay mount with an upperdir, nothing else', () => {
  const ov = (...o: string[]) => [{ type: 'overlay', source: 'overlay', options: o }];
  assert.deepEqual(upperLayerLayout(ov('workdir=/w', 'upperdir=/u', 'lowerdir=/l1:/l2')), {
    upper: '/u',
    lowers: ['/l1', '/l2'],
  });
  // the native snapshotter's bind mounts are full copies of the parent, not changes
  assert.equal(upperLayerLayout([{ type: 'bind', source: '/s', options: ['rbind', 'rw'] }]), undefined);
  assert.equal(upperLayerLayout(ov('lowerdir=/l1')), undefined, 'a view has no upper dir');
  assert.equal(upperLayerLayout(ov('upperdir=/u', 'lowerdir=/l', 'redirect_dir=on')), undefined);
  assert.equal(upperLayerLayout(ov('upperdir=/u', 'lowerdir=/l', 'metacopy=on')), undefined);
  assert.ok(upperLayerLayout(ov('upperdir=/u', 'lowerdir=/l', 'redirect_dir=off')));
  assert.equal(upperLayerLayout([...ov('upperdir=/u'), ...ov('upperdir=/v')]), undefined);
  assert.equal(upperLayerLayout([{ type: 'ext4', source: '/dev/x', options: [] }]), undefined);
});

test('whiteoutHeaders writes empty 0:0 files and leaves the archive open (no end blocks)', async () => {
  const long = `${'d'.repeat(120)}/.wh.${'f'.repeat(120)}`;
  const head = await whiteoutHeaders([
    { name: '.wh.gone', mtime: new Date(0), mode: 0o600 },
    { name: long, mtime: new Date(0), mode: 0o600 },
  ]);
  assert.equal(head.length % 512, 0);
  assert.ok(!head.subarray(-1024).equals(Buffer.alloc(1024)), 'no end blocks');
  const got = await entries(Readable.from([Buffer.concat([head, Buffer.alloc(1024)])]));
  assert.deepEqual(
    got.map((e) => [e.name, e.type, e.size]),
    [
      ['.wh.gone', 'file', 0],
      [long, 'file', 0],
    ],
  );
  assert.equal((await whiteoutHeaders([])).length, 0);
});

describe('an upper dir with every kind of change', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ckptd-upper-'));
    await mkdir(join(dir, 'etc'));
    await writeFile(join(dir, 'etc/new'), 'n');
    execFileSync('mknod', [join(dir, 'etc/gone'), 'c', '0', '0']);
    await mkdir(join(dir, 'opq'));
    await writeFile(join(dir, 'opq/c'), 'c');
    const setxattr = (path: string, name: string, value: string) =>
      execFileSync('python3', [
        '-c',
        `import os, sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())`,
        path,
        name,
        value,
      ]);
    setxattr(join(dir, 'opq'), 'trusted.overlay.opaque', 'y');
    setxattr(join(dir, 'etc/new'), 'user.note', 'hello');
    await symlink('/nowhere', join(dir, 'dangling'));
    await writeFile(join(dir, 'hl1'), 'h');
    await link(join(dir, 'hl1'), join(dir, 'hl2'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    execFileSync('python3', [
      '-c',
      `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(join(dir, 'sock'))})`,
    ]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('the plan: whiteouts and opaque markers for OCI, sockets left out, the rest for tar', async () => {
    const plan = await planUpperLayer(dir);
    assert.deepEqual(plan.entries, ['dangling', 'etc', 'etc/new', 'fifo', 'hl1', 'hl2', 'opq', 'opq/c']);
    assert.deepEqual(
      plan.whiteouts.map((w) => w.name),
      ['etc/.wh.gone', 'opq/.wh..wh..opq'],
    );
    assert.equal(isEmptyPlan(plan), false);
  });

  test('the stream: whiteouts first, then tar with user xattrs and no overlay xattrs', async () => {
    const got = await entries(await upperLayerStream(await planUpperLayer(dir)));
    const names = got.map((e) => e.name);
    assert.deepEqual(names.slice(0, 2), ['etc/.wh.gone', 'opq/.wh..wh..opq']);
    for (const n of ['dangling', 'etc/', 'etc/new', 'fifo', 'hl1', 'hl2', 'opq/', 'opq/c'])
      assert.ok(names.includes(n), `${n} in ${names.join(' ')}`);
    assert.ok(!names.some((n) => n.includes('sock')));
    const byName = new Map(got.map((e) => [e.name, e]));
    assert.equal(byName.get('etc/new')!.pax['SCHILY.xattr.user.note'], 'hello');
    assert.equal(byName.get('hl2')!.type, 'link');
    assert.equal(byName.get('fifo')!.type, 'fifo');
    assert.ok(!got.some((e) => Object.keys(e.pax).some((k) => k.includes('overlay'))));
  });

  test('an empty upper dir is an empty plan; its stream is the two end blocks', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'ckptd-upper-empty-'));
    try {
      const plan = await planUpperLayer(empty);
      assert.equal(isEmptyPlan(plan), true);
      const chunks: Buffer[] = [];
      for await (const c of await upperLayerStream(plan)) chunks.push(c as Buffer);
      assert.ok(Buffer.concat(chunks).equals(Buffer.alloc(1024)));
    } finally {
      await rm(empty, { recursive: true });
    }
  });
});
