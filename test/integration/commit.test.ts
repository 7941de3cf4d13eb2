// Commit, changes and export through the real daemon, a real containerd and runc, driven by the
// docker CLI and raw HTTP: fidelity after commit -> run, docker diff, docker export, pause
// states, concurrency, and failures that must leave no image, no lease and the container as
// it was.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { ckptdFixture, IMG } from '../helpers/fixture.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-commit';

interface TarEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname: string | null;
  size: number;
  pax: Record<string, string>;
  data: Buffer;
}

async function readTar(stream: NodeJS.ReadableStream): Promise<Map<string, TarEntry>> {
  const out = new Map<string, TarEntry>();
  const extract = tar.extract();
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, s, next) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      s.on('end', () => {
        out.set(h.name.replace(/\/$/, ''), {
          name: h.name,
          type: h.type ?? 'file',
          mode: h.mode ?? 0,
          uid: h.uid ?? 0,
          gid: h.gid ?? 0,
          linkname: h.linkname ?? null,
          size: h.size ?? 0,
          pax: (h as { pax?: Record<string, string> }).pax ?? {},
          data: Buffer.concat(chunks),
        });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    stream.on('error', reject);
    stream.pipe(extract);
  });
  return out;
}

describe('commit, changes and export through ckptd', () => {
  const f = ckptdFixture({
    ns: NS,
    images: [
      {
        name: IMG,
        extraLayers: [
          [
            { path: 'gone.txt', content: 'delete me' },
            { path: 'olddir', type: 'directory' },
            { path: 'olddir/a', content: 'a' },
            { path: 'olddir/b', content: 'b' },
            { path: 'keep', type: 'directory' },
            { path: 'keep/x', content: 'x' },
          ],
        ],
      },
    ],
  });
  const { docker, api } = f;
  const status = async (name: string): Promise<string> =>
    (await docker('inspect', '--format', '{{.State.Status}}', name)).trim();
  const containerId = async (name: string): Promise<string> =>
    (await docker('inspect', '--format', '{{.Id}}', name)).trim();
  const ourLeases = async () => (await f.client.leases.list()).filter((l) => l.id.startsWith('ckptd-'));
  const upperdir = async (name: string): Promise<string> => {
    const mounts = await f.client.snapshots('overlayfs').mounts(await containerId(name));
    const opt = mounts[0]!.options.find((o) => o.startsWith('upperdir='));
    return opt!.slice('upperdir='.length);
  };
  const exportOf = (id: string): Promise<Map<string, TarEntry>> =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath: f.socket, path: `/v1.47/containers/${id}/export` }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`export: ${res.statusCode}`));
        // tar writes the body into the connection itself: close-delimited, not chunked by Node
        else if (res.headers['transfer-encoding'] !== undefined || res.headers.connection !== 'close')
          reject(new Error(`export not sent directly: ${JSON.stringify(res.headers)}`));
        else readTar(res).then(resolve, reject);
      });
      req.on('error', reject);
      req.end();
    });

  test('commit -> run keeps content, mode, owner, links, empty dirs, fifos, xattrs, whiteouts and opaque dirs', async () => {
    await docker('run', '-d', '--name', 'fid', IMG, 'sleep', '1000');
    const script = [
      'echo koye > /foo',
      'chmod 0751 /foo',
      'mkdir -p /home/user1/d && echo owned > /home/user1/d/f && chown -R 1000:1000 /home/user1/d',
      'ln -s /foo /link',
      'ln -s /nowhere /dangling',
      'echo hl > /hl1 && ln /hl1 /hl2',
      'mkdir /emptydir',
      'mkfifo /fifo',
      'rm /gone.txt',
      'rm -rf /olddir && mkdir /olddir && echo new > /olddir/c',
      'echo cap > /capfile',
    ].join(' && ');
    await docker('exec', 'fid', 'sh', '-c', script);
    const upper = await upperdir('fid');
    await execFileP('setcap', ['cap_net_raw+ep', join(upper, 'capfile')]);
    await execFileP('python3', [
      '-c',
      `import os; os.setxattr(${JSON.stringify(join(upper, 'foo'))}, 'user.note', b'hello')`,
    ]);

    const out = await docker('commit', '-c', 'ENV A=b', '-m', 'msg', '-a', 'me', 'fid', 'img:1');
    assert.match(out.trim(), /^sha256:[a-f0-9]{64}$/);
    assert.equal(await status('fid'), 'running');

    const check = await docker(
      'run',
      '--rm',
      'img:1',
      'sh',
      '-c',
      [
        'cat /foo',
        'stat -c "%a %u %g" /foo',
        'stat -c "%u %g %n" /home/user1/d/f',
        'readlink /link',
        'readlink /dangling',
        'stat -c "%i" /hl1 /hl2',
        'stat -c "%F" /emptydir /fifo',
        'ls -A /emptydir | wc -l',
        'test -e /gone.txt && echo gone-present || echo gone-absent',
        'ls /olddir',
        'echo "$(cat /keep/x)"',
        'echo "A=$A"',
      ].join('; '),
    );
    const lines = check.trim().split('\n');
    assert.equal(lines[0], 'koye');
    assert.equal(lines[1], '751 0 0');
    assert.equal(lines[2], '1000 1000 /home/user1/d/f');
    assert.equal(lines[3], '/foo');
    assert.equal(lines[4], '/nowhere');
    assert.equal(lines[5], lines[6], 'hardlinks share an inode after commit');
    assert.equal(lines[7], 'directory');
    assert.equal(lines[8], 'fifo');
    assert.equal(lines[9], '0');
    assert.equal(lines[10], 'gone-absent');
    assert.equal(lines[11], 'c', 'the replaced directory holds only its new content');
    assert.equal(lines[12], 'x');
    assert.equal(lines[13], 'A=b');

    // xattrs survive commit: export a container of the new image and read the PAX headers.
    const cid = (await docker('create', 'img:1')).trim();
    const entries = await exportOf(cid);
    const cap = entries.get('capfile')!;
    assert.ok(cap.pax['SCHILY.xattr.security.capability'], 'security.capability kept');
    // the layer is read from the upper dir by GNU tar: user.* xattrs survive (containerd's and
    // moby's layer tar writers keep security.capability only)
    assert.equal(entries.get('foo')!.pax['SCHILY.xattr.user.note'], 'hello');
    assert.equal(entries.get('fifo')!.type, 'fifo');
    assert.equal(entries.get('dangling')!.linkname, '/nowhere');
    const hl = [entries.get('hl1')!, entries.get('hl2')!];
    assert.ok(
      hl.some((e) => e.type === 'link'),
      'one of the hardlinks is a link entry',
    );
    assert.equal(entries.get('home/user1/d/f')!.uid, 1000);
    assert.ok(!entries.has('gone.txt'));
    await docker('rm', cid);
  });

  test("the upper-dir layer means what containerd's differ layer means (same tree), with OCI whiteouts", async () => {
    // pause=0 on a running container takes containerd's differ; the default (frozen) reads the
    // overlay upper dir: both images must give the same root filesystem
    const differ = await api('POST', '/commit?container=fid&repo=img&tag=differ&pause=0');
    assert.equal(differ.status, 201, differ.body);
    await docker('commit', 'fid', 'img:upper');
    const treeOf = async (ref: string) => {
      const cid = (await docker('create', ref)).trim();
      try {
        return await exportOf(cid);
      } finally {
        await docker('rm', cid);
      }
    };
    const [a, b] = [await treeOf('img:differ'), await treeOf('img:upper')];
    const names = [...new Set([...a.keys(), ...b.keys()])].sort();
    for (const n of names) {
      const x = a.get(n);
      const y = b.get(n);
      assert.ok(x && y, `${n}: in ${x ? 'the differ image only' : 'the upper-dir image only'}`);
      const shape = (e: TarEntry) => ({
        type: e.type === 'link' ? 'file' : e.type,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        linkname: e.type === 'symlink' ? e.linkname : null,
        cap: e.pax['SCHILY.xattr.security.capability'] ?? null,
      });
      assert.deepEqual(shape(y), shape(x), n);
      if (x.type === 'file' && y.type === 'file') assert.ok(x.data.equals(y.data), `${n}: content`);
    }
    assert.equal(b.get('foo')!.pax['SCHILY.xattr.user.note'], 'hello', 'user.* kept by the upper-dir layer');

    // the layer itself: OCI whiteouts for the deleted file and the replaced directory, no
    // overlayfs xattrs, no character device 0/0
    const saved = await readTar(
      Readable.from([await f.dockerBuffer('save', 'img:upper')]) as NodeJS.ReadableStream,
    );
    const manifest = JSON.parse(saved.get('manifest.json')!.data.toString()) as { Layers: string[] }[];
    const top = manifest[0]!.Layers.at(-1)!;
    const layer = await readTar(Readable.from([saved.get(top)!.data]) as NodeJS.ReadableStream);
    assert.ok(layer.has('.wh.gone.txt'), [...layer.keys()].join(' '));
    assert.ok(layer.has('olddir/.wh..wh..opq'), [...layer.keys()].join(' '));
    assert.equal(layer.get('olddir/c')!.data.toString(), 'new\n');
    for (const e of layer.values()) {
      assert.notEqual(e.type, 'character-device', `${e.name}: an overlay whiteout device in the layer`);
      assert.ok(!Object.keys(e.pax).some((k) => k.includes('overlay')), `${e.name}: overlay xattrs`);
    }
  });

  test('docker image inspect shows the config, author, comment and history of the commit', async () => {
    const img = JSON.parse(await docker('image', 'inspect', 'img:1'))[0] as {
      Config: { Env: string[]; Cmd: string[] };
      Author: string;
      Comment: string;
      RootFS: { Layers: string[] };
    };
    assert.ok(img.Config.Env.includes('A=b'));
    assert.deepEqual(img.Config.Cmd, ['sleep', '1000']);
    assert.equal(img.Author, 'me');
    assert.equal(img.RootFS.Layers.length, 3);
    const history = await docker('history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}', 'img:1');
    assert.equal(history.trim().split('\n')[0], 'sleep 1000|msg');
  });

  test('docker diff lists A, C and D as dockerd does (parents as C, runc mountpoints hidden)', async () => {
    const diff = (await docker('diff', 'fid')).trim().split('\n');
    for (const line of [
      'A /foo',
      'A /link',
      'A /dangling',
      'A /emptydir',
      'A /fifo',
      'D /gone.txt',
      'D /olddir',
      'A /olddir/c',
      'C /home/user1',
      'A /home/user1/d',
      'A /home/user1/d/f',
    ]) {
      assert.ok(diff.includes(line), `missing ${line} in\n${diff.join('\n')}`);
    }
    assert.ok(!diff.some((l) => l.includes('/etc/hosts') || l.includes('/etc/hostname')), diff.join('\n'));
    assert.ok(!diff.includes('C /etc'), diff.join('\n'));
    assert.ok(!diff.some((l) => l.startsWith('C /keep')), diff.join('\n'));
  });

  test('docker export | tar t lists the whole root filesystem', async () => {
    const { stdout } = await execFileP('sh', ['-c', `docker export fid | tar t`], {
      env: { ...process.env, DOCKER_HOST: `unix://${f.socket}`, DOCKER_CONFIG: f.dockerConfig },
      maxBuffer: 64 << 20,
    });
    const names = new Set(stdout.trim().split('\n'));
    for (const n of ['bin/busybox', 'bin/sh', 'foo', 'olddir/c', 'keep/x', 'fifo', 'emptydir/']) {
      assert.ok(names.has(n), `missing ${n}`);
    }
    assert.ok(!names.has('gone.txt') && !names.has('olddir/a'));
  });

  test('a commit without changes adds no layer and an empty_layer history entry', async () => {
    await docker('create', '--name', 'nochange', IMG, 'true');
    const res = await api('POST', '/commit?container=nochange&repo=empty&tag=1');
    assert.equal(res.status, 201, res.body);
    const img = JSON.parse(await docker('image', 'inspect', 'empty:1'))[0] as {
      RootFS: { Layers: string[] };
    };
    assert.equal(img.RootFS.Layers.length, 2);
    const h = await docker('history', '--format', '{{.Size}}', 'empty:1');
    assert.equal(h.trim().split('\n')[0], '0B');
  });

  test('a paused container stays paused; a running one runs again; pause=0 never pauses', async () => {
    await docker('pause', 'fid');
    await docker('commit', 'fid', 'img:paused');
    assert.equal(await status('fid'), 'paused');
    await docker('unpause', 'fid');
    await docker('commit', '--pause=false', 'fid', 'img:nopause');
    assert.equal(await status('fid'), 'running');
  });

  test('POST /containers/{id}/commit with gzip, zstd and squash produce runnable images', async () => {
    const z = await api('POST', '/containers/fid/commit?repo=img&tag=gzip&compression=gzip');
    assert.equal(z.status, 201, z.body);
    assert.equal((await docker('run', '--rm', 'img:gzip', 'cat', '/foo')).trim(), 'koye');
    const zstd = await api('POST', '/containers/fid/commit?repo=img&tag=zstd&compression=zstd');
    assert.equal(zstd.status, 201, zstd.body);
    assert.deepEqual(await ourLeases(), []);
    // The top layer is a zstd blob labelled with its diffID, which the config lists.
    const zimg = JSON.parse(await docker('image', 'inspect', 'img:zstd'))[0] as {
      Id: string;
      RootFS: { Layers: string[] };
    };
    assert.equal(zimg.Id, (JSON.parse(zstd.body) as { Id: string }).Id);
    const target = (await f.client.images.get('docker.io/library/img:zstd')).target!;
    const manifest = JSON.parse((await f.client.content.readBlob(target.digest)).toString('utf8')) as {
      layers: { mediaType: string; digest: string }[];
    };
    const top = manifest.layers[manifest.layers.length - 1]!;
    assert.equal(top.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    const head = await f.client.content.readBlob(top.digest, 64 << 20);
    assert.deepEqual([...head.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
    const info = await f.client.content.info(top.digest);
    assert.equal(
      info.labels['containerd.io/uncompressed'],
      zimg.RootFS.Layers[zimg.RootFS.Layers.length - 1],
    );
    assert.equal(
      (await docker('run', '--rm', 'img:zstd', 'sh', '-c', 'cat /foo; ls /olddir')).trim(),
      'koye\nc',
    );
    const s = await api('POST', '/containers/fid/commit?repo=img&tag=squash&squash=1');
    assert.equal(s.status, 201, s.body);
    const img = JSON.parse(await docker('image', 'inspect', 'img:squash'))[0] as {
      RootFS: { Layers: string[] };
    };
    assert.equal(img.RootFS.Layers.length, 1);
    assert.equal(
      (await docker('run', '--rm', 'img:squash', 'sh', '-c', 'cat /foo; ls /olddir')).trim(),
      'koye\nc',
    );
  });

  test('parallel commits of one container and of several all succeed and leave no lease', async () => {
    await docker('run', '-d', '--name', 'par2', IMG, 'sh', '-c', 'echo two > /two; sleep 1000');
    await docker('run', '-d', '--name', 'par3', IMG, 'sh', '-c', 'echo three > /three; sleep 1000');
    const jobs = [
      ...[1, 2, 3, 4].map((i) => api('POST', `/commit?container=fid&repo=par&tag=fid${i}`)),
      api('POST', '/commit?container=par2&repo=par&tag=two'),
      api('POST', '/commit?container=par3&repo=par&tag=three'),
    ];
    const results = await Promise.all(jobs);
    for (const r of results) assert.equal(r.status, 201, r.body);
    for (const c of ['fid', 'par2', 'par3']) assert.equal(await status(c), 'running');
    assert.equal((await docker('run', '--rm', 'par:three', 'cat', '/three')).trim(), 'three');
    assert.deepEqual(await ourLeases(), []);
  });

  test('a commit whose client leaves mid-way leaves no image, no lease, the container running', async () => {
    await docker('exec', 'par2', 'sh', '-c', 'dd if=/dev/urandom of=/big bs=1M count=128 2>/dev/null');
    const before = (await docker('images', '-q', '--no-trunc')).trim().split('\n').sort();
    await new Promise<void>((resolve) => {
      const req = request({
        socketPath: f.socket,
        method: 'POST',
        path: '/v1.47/commit?container=par2&repo=aborted',
      });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 150);
    });
    // The daemon notices, cancels, resumes and releases.
    const deadline = Date.now() + 20_000;
    while ((await ourLeases()).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await ourLeases(), []);
    assert.equal(await status('par2'), 'running');
    const afterImgs = (await docker('images', '-q', '--no-trunc')).trim().split('\n').sort();
    assert.deepEqual(afterImgs, before);
    assert.equal((await docker('images', '-q', 'aborted')).trim(), '');
  });

  test('an invalid change is 400 before any work; an unknown container is 404', async () => {
    const bad = await api('POST', '/commit?container=fid&changes=RUN%20true');
    assert.equal(bad.status, 400);
    assert.match(bad.body, /RUN is not a valid change command/);
    const missing = await api('POST', '/commit?container=nope');
    assert.equal(missing.status, 404);
    assert.equal(await status('fid'), 'running');
    assert.deepEqual(await ourLeases(), []);
  });

  test('an export whose client leaves mid-stream releases its mount and lease', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request({ socketPath: f.socket, path: '/v1.47/containers/par2/export' }, (res) => {
        assert.equal(res.statusCode, 200);
        res.once('data', () => {
          res.pause();
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 100);
        });
      });
      req.on('error', () => resolve());
      req.on('timeout', () => reject(new Error('timeout')));
      req.end();
    });
    const deadline = Date.now() + 10_000;
    // this daemon's temp mounts only (other daemons on the host may be exporting too)
    const mounted = async () =>
      (await readFile('/proc/self/mountinfo', 'utf8'))
        .split('\n')
        .some((l) => l.includes(f.dataRoot) && l.includes('ckptd-rootfs-'));
    while (((await mounted()) || (await ourLeases()).length > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await mounted(), false, 'the rootfs mount is gone');
    assert.deepEqual(await ourLeases(), []);
  });

  test('commit and export events reach /events', async () => {
    const since = Math.floor(Date.now() / 1000) - 600;
    const until = Math.floor(Date.now() / 1000);
    const out = await docker(
      'events',
      '--since',
      String(since),
      '--until',
      String(until),
      '--filter',
      'type=container',
      '--format',
      '{{.Action}}',
    );
    const actions = out.trim().split('\n');
    assert.ok(actions.includes('commit'));
    assert.ok(actions.includes('export'));
  });
});
