// The init layer (issue 12): each container's rootfs has a ckptd-owned `<id>-init` snapshot
// between the image and its writable snapshot, holding what dockerd's `-init` layer holds
// (.dockerenv, /etc/hosts..., /dev/pts...) and the mount points of its own mounts, so commit,
// docker diff and a checkpoint's rootfs diff see only what the container's processes changed,
// while export shows the merged tree as dockerd's does. Containers created before init layers
// keep working; a read-only container stays read-only across a checkpoint restore. Real
// containerd, runc and CRIU, driven by the docker CLI and the API.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import tar from 'tar-stream';
import { ckptdFixture, IMG } from '../helpers/fixture.js';

const NS = 'ckptd-initlayer';

interface Entry {
  type: string;
  mode: number;
  size: number;
  linkname: string | null;
}

/** tarEntries lists a tar's entries by name (no trailing slash, no `./`). */
async function tarEntries(
  data: Buffer | NodeJS.ReadableStream,
): Promise<Map<string, Entry & { data: Buffer }>> {
  const out = new Map<string, Entry & { data: Buffer }>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, s, next) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      s.on('end', () => {
        out.set(h.name.replace(/^\.\//, '').replace(/\/$/, ''), {
          type: h.type ?? 'file',
          mode: h.mode ?? 0,
          size: h.size ?? 0,
          linkname: h.linkname ?? null,
          data: Buffer.concat(chunks),
        });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  if (Buffer.isBuffer(data)) extract.end(data);
  else data.pipe(extract);
  await done;
  return out;
}

/** What dockerd's init layer adds to the test image (which has /dev, /proc and /sys). */
const DOCKERD_INIT = [
  '.dockerenv',
  'dev/pts',
  'dev/shm',
  'dev/console',
  'etc/hosts',
  'etc/hostname',
  'etc/resolv.conf',
  'etc/mtab',
];

describe('init layer', () => {
  const f = ckptdFixture({ ns: NS });
  const { docker, api } = f;
  let hostDir: string;
  let imageNames: Set<string>;
  let imageLayers: number;

  const layersOf = async (image: string) =>
    (JSON.parse(await docker('image', 'inspect', image)) as { RootFS: { Layers: string[] } }[])[0]!.RootFS
      .Layers;
  const diffOf = async (name: string) =>
    (await docker('diff', name))
      .split('\n')
      .filter((l) => l !== '')
      .sort();
  const exportOf = async (name: string) => tarEntries(await f.dockerBuffer('export', name));
  const snapshotNames = async (): Promise<string[]> => {
    const out: string[] = [];
    for await (const s of f.client.snapshots('overlayfs').list()) out.push(s.name);
    return out.sort();
  };
  const ourSnapshots = async () => (await snapshotNames()).filter((n) => !n.startsWith('sha256:'));
  /** runLoop runs a container that stays up, with a bind into a new dir and a tmpfs. */
  const runLoop = async (name: string, ...extra: string[]) =>
    (
      await docker(
        'run',
        '-d',
        '--network',
        'none',
        '--name',
        name,
        '-v',
        `${hostDir}:/data/in`,
        '--tmpfs',
        '/run/t',
        ...extra,
        IMG,
        'sh',
        '-c',
        'while true; do sleep 0.2; done',
      )
    ).trim();

  before(async () => {
    hostDir = join(f.work, 'host');
    await mkdir(hostDir);
    // the image's own entries, from its layer tars
    imageNames = new Set();
    imageLayers = 0;
    for (const [name, e] of await tarEntries(await readFile(f.images[0]!.path))) {
      if (!name.endsWith('layer.tar') && !name.startsWith('blobs/')) continue;
      const inner = await tarEntries(e.data).catch(() => undefined);
      if (inner === undefined || inner.size === 0) continue;
      imageLayers++;
      for (const n of inner.keys()) imageNames.add(n);
    }
  });

  test("a container's snapshot sits on its <id>-init snapshot, on the image's chain", async () => {
    const id = (await docker('create', '--name', 'shape', IMG, 'true')).trim();
    const sn = f.client.snapshots('overlayfs');
    // containerd's GC (run by a sync lease delete) keeps it: the parent of a live snapshot
    await f.client.leases.create('it-gc-trigger', {});
    await f.client.leases.delete('it-gc-trigger', { sync: true });
    const info = await sn.stat(id);
    assert.equal(info.parent, `${id}-init`);
    const init = await sn.stat(`${id}-init`);
    assert.match(init.parent, /^sha256:/);
    assert.equal(init.kind, 'COMMITTED');
    await docker('rm', 'shape');
    assert.deepEqual(await ourSnapshots(), []);
  });

  test('an unchanged running container: docker diff is empty and its commit adds no layer', async () => {
    await runLoop('same');
    assert.deepEqual(await diffOf('same'), []);
    await docker('commit', 'same', 'same:1');
    const layers = await layersOf('same:1');
    assert.deepEqual(layers, await layersOf(IMG));
    assert.equal(layers.length, imageLayers);
    const top = (await docker('history', '--format', '{{.Size}}', 'same:1')).trim().split('\n')[0];
    assert.equal(top, '0B');
    // and the committed image holds no init file: a container of it sees the image's /etc only
    await docker('rm', '-f', 'same');
  });

  test("export is the merged tree: the image, dockerd's init files and the mount points, nothing else", async () => {
    await runLoop('exp');
    const entries = await exportOf('exp');
    const extra = [...entries.keys()].filter((n) => !imageNames.has(n)).sort();
    assert.deepEqual(extra, [...DOCKERD_INIT, 'data', 'data/in', 'run', 'run/t'].sort());
    const env = entries.get('.dockerenv')!;
    assert.equal(env.type, 'file');
    assert.equal(env.size, 0);
    assert.equal(env.mode & 0o7777, 0o755);
    assert.equal(entries.get('etc/mtab')?.type, 'symlink');
    assert.equal(entries.get('etc/mtab')?.linkname, '/proc/mounts');
    assert.equal(
      entries.get('etc/hosts')?.size,
      0,
      "the init layer's empty /etc/hosts, not the bind mount's",
    );
    assert.equal(entries.get('dev/pts')?.type, 'directory');
    await docker('rm', '-f', 'exp');
  });

  test('what the user writes shows in docker diff, in the committed layer (alone) and in export', async () => {
    await runLoop('wr');
    await docker('exec', 'wr', 'sh', '-c', 'echo hi > /new.txt && mkdir /newdir && echo x > /etc/added');
    assert.deepEqual(await diffOf('wr'), ['A /etc/added', 'A /new.txt', 'A /newdir', 'C /etc']);
    const id = (await docker('commit', 'wr', 'wr:1')).trim();
    const layers = await layersOf('wr:1');
    assert.equal(layers.length, imageLayers + 1, id);
    // the new layer holds the user's files and nothing of the init layer
    const blob = await f.client.content.readBlob(layers.at(-1)!, 64 << 20);
    const names = [...(await tarEntries(blob)).keys()].sort();
    assert.deepEqual(names, ['etc', 'etc/added', 'new.txt', 'newdir']);
    assert.equal((await docker('run', '--rm', 'wr:1', 'cat', '/new.txt')).trim(), 'hi');
    // squashed: the image and the user's files in one layer, nothing of the init layer
    const sq = await api('POST', '/containers/wr/commit?repo=wr&tag=squash&squash=1');
    assert.equal(sq.status, 201, sq.body);
    const sqLayers = await layersOf('wr:squash');
    assert.equal(sqLayers.length, 1);
    const sqNames = new Set(
      (await tarEntries(await f.client.content.readBlob(sqLayers[0]!, 64 << 20))).keys(),
    );
    assert.ok(sqNames.has('new.txt') && sqNames.has('bin/busybox'), [...sqNames].join(' '));
    assert.deepEqual([...sqNames].filter((n) => !imageNames.has(n)).sort(), [
      'etc/added',
      'new.txt',
      'newdir',
    ]);
    const entries = await exportOf('wr');
    assert.equal(entries.get('new.txt')?.data.toString(), 'hi\n');
    assert.ok(entries.has('.dockerenv'));
    await docker('rm', '-f', 'wr');
  });

  test('a checkpoint of an unchanged container carries an empty rootfs diff; restored copies get init layers', async () => {
    const id = await runLoop('ck');
    const r = await api('POST', '/containers/ck/checkpoint?name=c1&leaveRunning=1');
    assert.equal(r.status, 201, r.body);
    const dir = join(f.dataRoot, 'containers', id, 'checkpoints', 'c1');
    const diff = await tarEntries(await readFile(join(dir, 'rootfs-diff.tar')));
    assert.deepEqual([...diff.keys()], []);
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'deleted.files'), 'utf8').catch(() => '[]')), []);

    // restored under a new name: a fresh container with its own init layer
    const n = await api('POST', '/containers/ck/restore?checkpoint=c1&name=ck2');
    assert.equal(n.status, 201, n.body);
    const id2 = (JSON.parse(n.body) as { Id: string }).Id;
    assert.equal((await f.client.snapshots('overlayfs').stat(id2)).parent, `${id2}-init`);
    assert.deepEqual(await diffOf('ck2'), []);
    assert.ok((await exportOf('ck2')).has('.dockerenv'));

    // exported and imported (an import gets no binds or tmpfs: a container without them)
    await docker(
      'run',
      '-d',
      '--network',
      'none',
      '--name',
      'ckp',
      IMG,
      'sh',
      '-c',
      'while true; do sleep 0.2; done',
    );
    const exp = await f.apiBuffer('POST', '/containers/ckp/checkpoint?export=1&leaveRunning=1');
    assert.equal(exp.status, 200, exp.body.toString().slice(0, 300));
    const imp = await f.apiBuffer('POST', '/containers/import/restore?import=1&name=ck3', exp.body, {
      'content-type': 'application/x-tar',
    });
    assert.equal(imp.status, 201, imp.body.toString());
    const id3 = (JSON.parse(imp.body.toString()) as { Id: string }).Id;
    assert.equal((await f.client.snapshots('overlayfs').stat(id3)).parent, `${id3}-init`);
    assert.deepEqual(await diffOf('ck3'), []);
    await docker('rm', '-f', 'ck', 'ck2', 'ckp', 'ck3');
    assert.deepEqual(await ourSnapshots(), []);
  });

  test('a container created before init layers starts, diffs, commits, exports, checkpoints and is removed', async () => {
    const id = (
      await docker(
        'create',
        '--network',
        'none',
        '--name',
        'old',
        IMG,
        'sh',
        '-c',
        'while true; do sleep 0.2; done',
      )
    ).trim();
    // remake its snapshot the old way: directly on the image's chain
    const sn = f.client.snapshots('overlayfs');
    const chain = (await sn.stat(`${id}-init`)).parent;
    await sn.remove(id);
    await sn.remove(`${id}-init`);
    await sn.prepare(id, chain);
    assert.equal((await sn.stat(id)).parent, chain);

    await docker('start', 'old');
    await docker('exec', 'old', 'sh', '-c', 'echo old > /old.txt');
    assert.ok((await diffOf('old')).includes('A /old.txt'));
    await docker('commit', 'old', 'old:1');
    assert.equal((await layersOf('old:1')).length, imageLayers + 1);
    assert.equal((await docker('run', '--rm', 'old:1', 'cat', '/old.txt')).trim(), 'old');
    const entries = await exportOf('old');
    assert.equal(entries.get('old.txt')?.data.toString(), 'old\n');
    assert.ok(!entries.has('.dockerenv'), 'no init layer, no .dockerenv');
    const ck = await api('POST', '/containers/old/checkpoint?name=o1');
    assert.equal(ck.status, 201, ck.body);
    const rs = await api('POST', '/containers/old/restore?checkpoint=o1');
    assert.equal(rs.status, 201, rs.body);
    assert.equal((await docker('exec', 'old', 'cat', '/old.txt')).trim(), 'old');
    await docker('rm', '-f', 'old');
    assert.deepEqual(
      (await ourSnapshots()).filter((n) => n.startsWith(id)),
      [],
    );
  });

  test('a read-only container restored from a checkpoint (in place and under a new name) is still read-only', async () => {
    await runLoop('ro', '--read-only');
    const touch = async (name: string) =>
      docker('exec', name, 'touch', '/written').then(
        () => 'written',
        (e: { stderr: string }) => e.stderr.trim(),
      );
    assert.match(await touch('ro'), /Read-only file system/);
    const ck = await api('POST', '/containers/ro/checkpoint?name=r1');
    assert.equal(ck.status, 201, ck.body);
    const rs = await api('POST', '/containers/ro/restore?checkpoint=r1');
    assert.equal(rs.status, 201, rs.body);
    assert.equal((await docker('inspect', '-f', '{{.HostConfig.ReadonlyRootfs}}', 'ro')).trim(), 'true');
    assert.match(await touch('ro'), /Read-only file system/);
    const root = (await docker('exec', 'ro', 'sh', '-c', 'grep " / / " /proc/self/mountinfo')).split(' ');
    assert.match(root[5]!, /^ro\b/, root.join(' '));
    // the tmpfs and the bind stay writable
    await docker('exec', 'ro', 'sh', '-c', 'touch /run/t/ok /data/in/ok');

    const nw = await api('POST', '/containers/ro/restore?checkpoint=r1&name=ro2');
    assert.equal(nw.status, 201, nw.body);
    assert.match(await touch('ro2'), /Read-only file system/);
    await docker('rm', '-f', 'ro', 'ro2');
  });

  test('a create that fails after its init layer was prepared leaves no snapshot', async () => {
    const before = await snapshotNames();
    const r = await api('POST', '/containers/create?name=bad', {
      Image: IMG,
      Cmd: ['true'],
      WorkingDir: '/bin/sh',
    });
    assert.notEqual(r.status, 201, r.body);
    assert.deepEqual(await snapshotNames(), before);
    assert.deepEqual(await f.client.leases.list(), []);
  });

  test('every container removed: no snapshot of ckptd is left', async () => {
    assert.equal((await docker('ps', '-aq')).trim(), '');
    assert.deepEqual(await ourSnapshots(), []);
    await writeFile(join(f.work, 'done'), '');
  });
});
