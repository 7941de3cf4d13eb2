// docker cp in and out and docker save/load through ckptd, a real containerd and runc, driven
// by the docker CLI and raw HTTP; escape attempts (traversal names, links out of the
// destination, symlinks to `/`, a container swapping a directory for a symlink in a loop)
// must leave a host sentinel untouched and never return host content.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { before, describe, test } from 'node:test';
import tar from 'tar-stream';
import { decodePathStat, GoFileMode } from '../../src/archive/container-archive.js';
import { dockerdMissing, startDockerd } from '../helpers/dockerd.js';
import { ckptdFixture, dockerCli } from '../helpers/fixture.js';

const NS = 'ckptd-archive';
const IMG = 'ckptd-test/cp:latest';

interface Entry {
  name: string;
  type: string;
  uid: number;
  gid: number;
  linkname: string | null;
  data: Buffer;
}

async function readTar(stream: NodeJS.ReadableStream): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  for await (const e of stream.pipe(tar.extract())) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    const h = e.header;
    out.set(h.name.replace(/\/$/, ''), {
      name: h.name,
      type: h.type ?? 'file',
      uid: h.uid ?? 0,
      gid: h.gid ?? 0,
      linkname: h.linkname ?? null,
      data: Buffer.concat(chunks),
    });
  }
  return out;
}

type TarItem = {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: string;
  linkname?: string;
  uid?: number;
  gid?: number;
};

async function makeTar(items: TarItem[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const it of items) {
    const content = it.content ?? '';
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        {
          name: it.name,
          type: it.type ?? 'file',
          mode: it.type === 'directory' ? 0o755 : 0o644,
          uid: it.uid ?? 0,
          gid: it.gid ?? 0,
          ...(it.linkname !== undefined ? { linkname: it.linkname } : {}),
          ...(it.type === undefined || it.type === 'file' ? { size: Buffer.byteLength(content) } : {}),
        },
        (it.type === undefined || it.type === 'file' ? content : undefined) as string,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** xzCompress runs the host's xz over `data` (stdin written and ended: xz reads until EOF). */
async function xzCompress(data: Buffer): Promise<Buffer> {
  const child = spawn('xz', ['-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  child.stdin.end(data);
  const code = await exited;
  if (code !== 0) throw new Error(`xz exited with ${code}`);
  return Buffer.concat(chunks);
}

describe('docker cp and docker save through ckptd', () => {
  const f = ckptdFixture({
    ns: NS,
    images: [
      {
        name: IMG,
        extraLayers: [
          [
            { path: 'data', type: 'directory' },
            { path: 'data/a.txt', content: 'alpha' },
            { path: 'data/sub', type: 'directory' },
            { path: 'data/sub/b.txt', content: 'beta', uid: 7, gid: 8 },
            { path: 'lnk', type: 'symlink', linkname: 'data' },
            { path: 'rootlink', type: 'symlink', linkname: '/' },
            { path: 'hop1', type: 'symlink', linkname: 'hop2/..' },
            { path: 'hop2', type: 'symlink', linkname: '../../..' },
            { path: 'dest', type: 'directory' },
          ],
        ],
      },
    ],
  });
  const { docker } = f;
  let sentinel: string;
  let sentinelBefore: string;

  const put = (id: string, path: string, body: Buffer, q = '') =>
    f.api('PUT', `/containers/${id}/archive?path=${encodeURIComponent(path)}${q}`, body, {
      'content-type': 'application/x-tar',
    });
  const getTar = async (
    id: string,
    path: string,
  ): Promise<{ status: number; entries?: Map<string, Entry>; body?: string }> => {
    const r = await f.apiBuffer('GET', `/containers/${id}/archive?path=${encodeURIComponent(path)}`);
    if (r.status !== 200) return { status: r.status, body: r.body.toString() };
    return { status: 200, entries: await readTar(Readable.from([r.body])) };
  };
  const sentinelState = async (): Promise<string> => {
    const names = (await readdir(sentinel)).sort();
    const parts = [];
    for (const n of names) {
      const st = await stat(join(sentinel, n));
      parts.push(`${n}:${st.size}:${st.mtimeMs}:${(await readFile(join(sentinel, n))).toString('hex')}`);
    }
    return parts.join('|');
  };

  before(async () => {
    sentinel = await f.tempDir('ckptd-sentinel-');
    await writeFile(join(sentinel, 'secret.txt'), 'HOST-SECRET');
    sentinelBefore = await sentinelState();
  });
  f.teardown(() => docker('rm', '-f', 'swap1', 'stat1').catch(() => undefined));

  test('HEAD stat header carries name, size, Go FileMode bits and the in-root link target', async () => {
    await docker('run', '-d', '--name', 'stat1', IMG, 'sleep', '100000');
    const r = await f.api('HEAD', '/containers/stat1/archive?path=/lnk');
    assert.equal(r.status, 200);
    const s = decodePathStat(String(r.headers['x-docker-container-path-stat']));
    assert.equal(s.name, 'lnk');
    assert.equal(s.linkTarget, '/data');
    assert.ok(s.mode & GoFileMode.symlink);
    const dir = decodePathStat(
      String(
        (await f.api('HEAD', '/containers/stat1/archive?path=/lnk/')).headers['x-docker-container-path-stat'],
      ),
    );
    assert.ok(dir.mode >= GoFileMode.dir);
    const missing = await f.api('HEAD', '/containers/stat1/archive?path=/nope');
    assert.equal(missing.status, 404);
    const notDir = await getTar('stat1', '/data/a.txt/');
    assert.equal(notDir.status, 400);
    assert.match(notDir.body ?? '', /not a directory/);
    const gone = await getTar('stat1', '/dne');
    assert.equal(gone.status, 404);
    assert.match(gone.body ?? '', /Could not find the file \/dne in container stat1/);
  });

  test('docker cp out: a file, a directory, through a symlink, dir/. and a symlink kept as a link', async () => {
    const out = join(f.work, 'out1');
    await mkdir(out);
    await docker('cp', 'stat1:/data/a.txt', join(out, 'a.txt'));
    assert.equal(await readFile(join(out, 'a.txt'), 'utf8'), 'alpha');
    await docker('cp', 'stat1:/data', join(out, 'data'));
    assert.equal(await readFile(join(out, 'data/sub/b.txt'), 'utf8'), 'beta');
    await docker('cp', 'stat1:/lnk/sub/b.txt', join(out, 'b.txt'));
    assert.equal(await readFile(join(out, 'b.txt'), 'utf8'), 'beta');
    await mkdir(join(out, 'contents'));
    await docker('cp', 'stat1:/data/.', join(out, 'contents'));
    assert.equal(await readFile(join(out, 'contents/a.txt'), 'utf8'), 'alpha');
    const t = await getTar('stat1', '/lnk');
    assert.equal(t.entries?.get('lnk')?.type, 'symlink');
    const t2 = await getTar('stat1', '/data');
    assert.equal(t2.entries?.get('data/sub/b.txt')?.uid, 7);
  });

  test('docker cp in: a file and a directory, ownership from the tar kept', async () => {
    const src = join(f.work, 'in1');
    await mkdir(join(src, 'tree'), { recursive: true });
    await writeFile(join(src, 'f.txt'), 'from host');
    await writeFile(join(src, 'tree/x'), 'x!');
    await docker('cp', join(src, 'f.txt'), 'stat1:/dest/');
    await docker('cp', join(src, 'tree'), 'stat1:/dest/tree');
    // into the root under a new name (the CLI extracts into / with the entry renamed)
    await docker('cp', join(src, 'f.txt'), 'stat1:/at-root');
    assert.equal((await getTar('stat1', '/at-root')).entries?.get('at-root')?.data.toString(), 'from host');
    const r = await getTar('stat1', '/dest');
    assert.equal(r.entries?.get('dest/f.txt')?.data.toString(), 'from host');
    assert.equal(r.entries?.get('dest/tree/x')?.data.toString(), 'x!');
    const owned = await put(
      'stat1',
      '/dest',
      await makeTar([{ name: 'owned.txt', content: 'o', uid: 1042, gid: 1043 }]),
    );
    assert.equal(owned.status, 200, owned.body);
    const o = (await getTar('stat1', '/dest/owned.txt')).entries?.get('owned.txt');
    assert.deepEqual([o?.uid, o?.gid], [1042, 1043]);
    const notDir = await put('stat1', '/data/a.txt', await makeTar([{ name: 'z', content: 'z' }]));
    assert.equal(notDir.status, 400);
    assert.match(notDir.body, /not a directory/);
    assert.equal((await put('stat1', '/nope', await makeTar([{ name: 'z', content: 'z' }]))).status, 404);
  });

  test('docker cp into a stopped container, copyUIDGID gives the container user, gzip/xz bodies', async () => {
    await docker('create', '--name', 'stopped1', '--user', '1000:1001', IMG, 'true');

    const src = join(f.work, 'in2.txt');
    await writeFile(src, 'cold');
    await docker('cp', src, 'stopped1:/dest/cold.txt');
    const r = await getTar('stopped1', '/dest/cold.txt');
    assert.equal(r.entries?.get('cold.txt')?.data.toString(), 'cold');
    const body = await makeTar([{ name: 'u.txt', content: 'u', uid: 5, gid: 6 }]);
    assert.equal((await put('stopped1', '/dest', body, '&copyUIDGID=1')).status, 200);
    const u = (await getTar('stopped1', '/dest/u.txt')).entries?.get('u.txt');
    assert.deepEqual([u?.uid, u?.gid], [1000, 1001]);
    const xz = await xzCompress(await makeTar([{ name: 'xz.txt', content: 'xzed' }]));
    assert.equal((await put('stopped1', '/dest', xz)).status, 200);
    assert.equal((await getTar('stopped1', '/dest/xz.txt')).entries?.get('xz.txt')?.data.toString(), 'xzed');
    const gz = (await import('node:zlib')).gzipSync(await makeTar([{ name: 'gz.txt', content: 'gzipped' }]));
    assert.equal((await put('stopped1', '/dest', gz)).status, 200);
    assert.equal(
      (await getTar('stopped1', '/dest/gz.txt')).entries?.get('gz.txt')?.data.toString(),
      'gzipped',
    );
  });

  test('read-only rootfs: 403 container rootfs is marked read-only', async () => {
    await docker('create', '--name', 'ro1', '--read-only', IMG, 'true');
    const r = await put('ro1', '/dest', await makeTar([{ name: 'z', content: 'z' }]));
    assert.equal(r.status, 403);
    assert.match(r.body, /container rootfs is marked read-only/);
  });

  test('escapes by archive: ../x, /abs, symlink out then through it, hardlink out, two hops: 400 or contained', async () => {
    const cases: [string, TarItem[]][] = [
      ['dotdot', [{ name: '../escaped.txt', content: 'x' }]],
      [
        'symlink-out',
        [
          { name: 'l', type: 'symlink', linkname: '../../..' },
          { name: 'l/escaped.txt', content: 'x' },
        ],
      ],
      ['hardlink-out', [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]],
      [
        'two-hop',
        [
          { name: 'go_up', type: 'symlink', linkname: '..' },
          { name: 'go_up/escape', type: 'symlink', linkname: '../victim' },
        ],
      ],
      ['whiteout', [{ name: '.wh.data', content: '' }]],
    ];
    for (const [what, items] of cases) {
      const r = await put('stat1', '/dest', await makeTar(items));
      assert.equal(r.status, 400, `${what}: ${r.body}`);
      assert.ok(JSON.parse(r.body).message, what);
    }
    // An absolute name lands inside the destination, as Docker does.
    const abs = await put('stat1', '/dest', await makeTar([{ name: `${sentinel}/abs.txt`, content: 'abs' }]));
    assert.equal(abs.status, 200, abs.body);
    assert.equal(
      (await getTar('stat1', `/dest${sentinel}/abs.txt`)).entries?.get('abs.txt')?.data.toString(),
      'abs',
    );
    // Through a container symlink to `/` and two-hop links: resolved inside the root.
    assert.equal((await getTar('stat1', `/rootlink${sentinel}/secret.txt`)).status, 404);
    assert.equal((await getTar('stat1', `/hop1${sentinel}/secret.txt`)).status, 404);
    assert.equal((await getTar('stat1', `/../../../..${sentinel}/secret.txt`)).status, 404);
    const via = await put('stat1', `/rootlink/dest`, await makeTar([{ name: 'via.txt', content: 'v' }]));
    assert.equal(via.status, 200);
    assert.equal((await getTar('stat1', '/dest/via.txt')).entries?.get('via.txt')?.data.toString(), 'v');
    assert.equal(existsSync('/escaped.txt'), false);
    assert.equal(await sentinelState(), sentinelBefore);
  });

  test('a container swapping a directory for a symlink to the host sentinel in a loop cannot redirect cp', async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'swap1',
      IMG,
      'sh',
      '-c',
      `mkdir -p /w/d; echo inside > /w/d/secret.txt; while true; do mv /w/d /w/d2; ln -s ${sentinel} /w/d; rm /w/d; mv /w/d2 /w/d; done`,
    );
    const body = await makeTar([{ name: 'd/pwned.txt', content: 'pwned' }]);
    for (let i = 0; i < 30; i++) {
      const r = await put('swap1', '/w', body);
      assert.ok([200, 400, 404].includes(r.status), r.body);
      const out = await getTar('swap1', '/w/d/secret.txt');
      if (out.status === 200) assert.equal(out.entries?.get('secret.txt')?.data.toString(), 'inside\n');
      const dir = await getTar('swap1', '/w/d/');
      for (const e of dir.entries?.values() ?? []) assert.notEqual(e.data.toString(), 'HOST-SECRET');
    }
    assert.equal(await sentinelState(), sentinelBefore);
    assert.equal(existsSync(join(sentinel, 'pwned.txt')), false);
    assert.equal((await docker('inspect', '--format', '{{.State.Status}}', 'swap1')).trim(), 'running');
  });

  test('docker save | docker load round trip, and the save loads into dockerd', async (t) => {
    const file = join(f.work, 'save.tar');
    await docker('save', '-o', file, IMG);
    const entries = await readTar((await import('node:fs')).createReadStream(file));
    assert.ok(entries.has('manifest.json') && entries.has('index.json'));
    const manifest = JSON.parse(entries.get('manifest.json')!.data.toString()) as { RepoTags: string[] }[];
    assert.deepEqual(manifest[0]!.RepoTags, [IMG]);
    const missing = await f.api('GET', '/images/nope:1/get');
    assert.equal(missing.status, 404);
    assert.match(missing.body, /No such image: nope:1/);
    const loaded = await docker('load', '-i', file);
    assert.match(loaded, /Loaded image: ckptd-test\/cp:latest/);

    const why = await dockerdMissing();
    if (why) {
      t.diagnostic(`dockerd cannot run (${why}): skipping the load into dockerd`);
      return;
    }
    const ref = await startDockerd();
    try {
      const other = dockerCli({ socket: ref.socket, config: f.dockerConfig, timeout: 60_000 });
      const out = await other.docker('load', '-i', file);
      assert.match(out, /Loaded image: ckptd-test\/cp:latest/);
    } finally {
      await ref.stop();
    }
  });
});
