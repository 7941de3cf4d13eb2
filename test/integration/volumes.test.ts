// Volumes through ckptd (issue 12), driven by the docker CLI as a user would: the local driver
// (create, ls, inspect, rm, prune), volumes shared by containers, copy-up of the image's content,
// anonymous volumes of an image VOLUME removed by `rm -v`, --mount options read back from
// /proc/self/mountinfo inside the container, and checkpoint archives carrying volumes.
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { ckptdFixture, IMG } from '../helpers/fixture.js';

const NS = 'ckptd-vol';
const VIMG = 'ckptd-test/withvol:latest';

/** mountLine is the /proc/self/mountinfo line of `point` (fields split). */
function mountLine(mountinfo: string, point: string): string[] | undefined {
  return mountinfo
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[4] === point);
}

describe('volumes through ckptd', () => {
  // /seed: a directory owned by 1234 with mode 0750 and a file, for copy-up
  const f = ckptdFixture({
    ns: NS,
    images: [
      {
        name: IMG,
        extraLayers: [
          [
            { path: 'seed', type: 'directory', mode: 0o750, uid: 1234, gid: 1234 },
            { path: 'seed/hello', content: 'from the image\n', mode: 0o640, uid: 1234, gid: 1235 },
          ],
        ],
      },
    ],
  });
  const { docker, fails: dockerFails, api } = f;
  const volumeNames = async (...filters: string[]): Promise<string[]> =>
    (await docker('volume', 'ls', '-q', ...filters.flatMap((f) => ['-f', f])))
      .split('\n')
      .filter((l) => l !== '')
      .sort();

  before(async () => {
    // an image with `VOLUME /seed`
    await docker('create', '--name', 'base', IMG, 'true');
    await docker('commit', '-c', 'VOLUME /seed', 'base', VIMG);
    await docker('rm', 'base');
  });

  test('docker volume create, ls, inspect, rm and prune answer as dockerd', async () => {
    assert.equal((await docker('volume', 'create', '--label', 'team=a', 'vol-a')).trim(), 'vol-a');
    await docker('volume', 'create', 'vol-b');
    const [v] = JSON.parse(await docker('volume', 'inspect', 'vol-a')) as Record<string, unknown>[];
    assert.equal(v?.Name, 'vol-a');
    assert.equal(v?.Driver, 'local');
    assert.equal(v?.Scope, 'local');
    assert.deepEqual(v?.Labels, { team: 'a' });
    assert.equal(v?.Mountpoint, join(f.dataRoot, 'volumes', 'vol-a', '_data'));
    assert.match(String(v?.CreatedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok((await stat(String(v?.Mountpoint))).isDirectory());
    assert.deepEqual(await volumeNames('label=team=a'), ['vol-a']);
    assert.deepEqual(await volumeNames('name=vol-'), ['vol-a', 'vol-b']);
    const list = await api('GET', '/volumes');
    assert.equal(list.status, 200);
    assert.equal((JSON.parse(list.body) as { Warnings: unknown }).Warnings, null);

    // bad names and options: dockerd's words
    assert.match(
      await dockerFails('volume', 'create', 'a@b'),
      /"a@b" includes invalid characters for a local volume name/,
    );
    assert.match(await dockerFails('volume', 'create', '--opt', 'foo=bar', 'vol-c'), /invalid option: "foo"/);
    assert.match(
      await dockerFails('volume', 'create', '--opt', 'type=tmpfs', 'vol-c'),
      /missing required option: "device"/,
    );
    assert.match(await dockerFails('volume', 'inspect', 'nosuch'), /no such volume/);

    // prune: only anonymous volumes unless --all (API 1.47)
    await docker('volume', 'prune', '-f');
    assert.deepEqual(await volumeNames('name=vol-'), ['vol-a', 'vol-b']);
    const pruned = await api(
      'POST',
      `/volumes/prune?filters=${encodeURIComponent('{"all":["true"],"label":["team=a"]}')}`,
    );
    assert.equal(pruned.status, 200, pruned.body);
    assert.deepEqual((JSON.parse(pruned.body) as { VolumesDeleted: string[] }).VolumesDeleted, ['vol-a']);
    await docker('volume', 'rm', 'vol-b');
    assert.deepEqual(await volumeNames('name=vol-'), []);
  });

  test('a named volume is shared by two containers, and removing it while used is 409', async () => {
    await docker('run', '--rm', '-v', 'shared:/data', IMG, 'sh', '-c', 'echo one > /data/f');
    assert.equal((await docker('volume', 'ls', '-q', '-f', 'name=shared')).trim(), 'shared'); // created on demand
    await docker(
      'run',
      '-d',
      '--name',
      'sh2',
      '--mount',
      'type=volume,src=shared,dst=/mnt',
      IMG,
      'sleep',
      '300',
    );
    assert.equal((await docker('exec', 'sh2', 'cat', '/mnt/f')).trim(), 'one');
    await docker('exec', 'sh2', 'sh', '-c', 'echo two >> /mnt/f');
    assert.equal((await docker('run', '--rm', '-v', 'shared:/x:ro', IMG, 'cat', '/x/f')).trim(), 'one\ntwo');
    const id = (await docker('inspect', '-f', '{{.Id}}', 'sh2')).trim();
    const r = await api('DELETE', '/volumes/shared');
    assert.equal(r.status, 409, r.body);
    assert.equal(JSON.parse(r.body).message, `remove shared: volume is in use - [${id}]`);
    assert.deepEqual(await volumeNames('dangling=false', 'name=shared'), ['shared']);
    const [m] = JSON.parse(await docker('inspect', '-f', '{{json .Mounts}}', 'sh2')) as Record<
      string,
      unknown
    >[];
    assert.deepEqual(m, {
      Type: 'volume',
      Name: 'shared',
      Source: join(f.dataRoot, 'volumes', 'shared', '_data'),
      Destination: '/mnt',
      Driver: 'local',
      Mode: '',
      RW: true,
      Propagation: '',
    });
    await docker('rm', '-f', '-v', 'sh2'); // -v keeps named volumes
    assert.deepEqual(await volumeNames('dangling=true', 'name=shared'), ['shared']);
    await docker('volume', 'rm', 'shared');
  });

  test('an empty volume gets the image content at its path (owners, modes); nocopy and a full volume do not', async () => {
    const out = await docker(
      'run',
      '--rm',
      '-v',
      'cu:/seed',
      IMG,
      'sh',
      '-c',
      'stat -c "%u:%g %a" /seed /seed/hello; cat /seed/hello',
    );
    assert.equal(out, '1234:1234 750\n1234:1235 640\nfrom the image\n');
    await docker('run', '--rm', '-v', 'cu:/seed', IMG, 'sh', '-c', 'echo mine > /seed/hello');
    assert.equal((await docker('run', '--rm', '-v', 'cu:/seed', IMG, 'cat', '/seed/hello')).trim(), 'mine');
    assert.equal((await docker('run', '--rm', '-v', 'nc:/seed:nocopy', IMG, 'ls', '-A', '/seed')).trim(), '');
    assert.equal(
      (
        await docker(
          'run',
          '--rm',
          '--mount',
          'type=volume,src=nc2,dst=/seed,volume-nocopy',
          IMG,
          'ls',
          '-A',
          '/seed',
        )
      ).trim(),
      '',
    );
    await docker('volume', 'rm', 'cu', 'nc', 'nc2');
  });

  test('an image VOLUME is an anonymous volume, copied up, removed by rm -v and by --rm', async () => {
    const before = await volumeNames();
    await docker('run', '--name', 'anon', VIMG, 'sh', '-c', 'cat /seed/hello; echo x > /seed/new');
    const mounts = JSON.parse(await docker('inspect', '-f', '{{json .Mounts}}', 'anon')) as {
      Name: string;
      Destination: string;
      Type: string;
    }[];
    assert.equal(mounts.length, 1);
    assert.equal(mounts[0]?.Type, 'volume');
    assert.equal(mounts[0]?.Destination, '/seed');
    assert.match(mounts[0]?.Name ?? '', /^[0-9a-f]{64}$/);
    const [v] = JSON.parse(await docker('volume', 'inspect', mounts[0]!.Name)) as {
      Labels: Record<string, string>;
    }[];
    assert.deepEqual(v?.Labels, { 'com.docker.volume.anonymous': '' });
    assert.equal((await docker('logs', 'anon')).trim(), 'from the image');
    await docker('rm', '-v', 'anon');
    assert.deepEqual(await volumeNames(), before);
    await docker('run', '--rm', '-v', '/other', VIMG, 'true');
    assert.deepEqual(await volumeNames(), before);
    // a bind at the VOLUME's path replaces the anonymous volume
    const host = join(f.work, 'bindsrc');
    await mkdir(host, { recursive: true });
    await docker('run', '--rm', '-v', `${host}:/seed`, VIMG, 'touch', '/seed/bound');
    assert.ok((await stat(join(host, 'bound'))).isFile());
    assert.deepEqual(await volumeNames(), before);
  });

  test('--mount options are in force inside: readonly binds and volumes, tmpfs size and mode, volume-subpath refused', async () => {
    const host = join(f.work, 'ro');
    await mkdir(host, { recursive: true });
    const script =
      'cat /proc/self/mountinfo; echo ===; touch /b/x 2>&1 || true; touch /v/x 2>&1 || true; stat -c %a /t';
    const out = await docker(
      'run',
      '--rm',
      '--mount',
      `type=bind,src=${host},dst=/b,readonly,bind-propagation=rslave`,
      '--mount',
      'type=volume,src=rov,dst=/v,readonly',
      '--mount',
      'type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770',
      IMG,
      'sh',
      '-c',
      script,
    );
    const [mountinfo = '', rest = ''] = out.split('===\n');
    const b = mountLine(mountinfo, '/b');
    assert.ok(b, mountinfo);
    assert.match(b[5] ?? '', /^ro\b/);
    assert.match(mountLine(mountinfo, '/v')?.[5] ?? '', /^ro\b/);
    const t = mountLine(mountinfo, '/t');
    assert.ok(t, mountinfo);
    assert.match(t.join(' '), /size=1024k/);
    assert.match(t.join(' '), /mode=1770/);
    assert.match(rest, /\/b\/x: Read-only file system/);
    assert.match(rest, /\/v\/x: Read-only file system/);
    assert.match(rest, /1770/);
    assert.match(
      await dockerFails(
        'run',
        '--rm',
        '--mount',
        'type=volume,src=rov,dst=/v,volume-subpath=sub',
        IMG,
        'true',
      ),
      /volume-subpath\) is not supported by ckptd/,
    );
    assert.match(
      await dockerFails('run', '--rm', '-v', 'rov:/v:rshared', IMG, 'true'),
      /invalid mount config for type "volume": field BindOptions must not be specified/,
    );
    // a local volume of type tmpfs is a tmpfs inside
    await docker(
      'volume',
      'create',
      '--opt',
      'type=tmpfs',
      '--opt',
      'device=tmpfs',
      '--opt',
      'o=size=2m',
      'tv',
    );
    const tv = await docker(
      'run',
      '--rm',
      '-v',
      'tv:/tv',
      '-v',
      'rov:/v:Z',
      IMG,
      'cat',
      '/proc/self/mountinfo',
    );
    assert.match(mountLine(tv, '/tv')?.join(' ') ?? '', / - tmpfs tmpfs rw,.*size=2048k/);
    await docker('volume', 'rm', 'tv', 'rov');
  });

  test('a checkpoint export carries its volumes; an import restores them into new volumes; ignoreVolumes leaves them out', async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'ck',
      '-v',
      'ckdata:/data',
      VIMG,
      'sh',
      '-c',
      'echo named > /data/f; echo anon > /seed/g; while true; do sleep 1; done',
    );
    const ids = async () => (await docker('exec', 'ck', 'cat', '/data/f', '/seed/g')).trim();
    for (let i = 0; i < 100 && (await ids().catch(() => '')) !== 'named\nanon'; i++)
      await new Promise((r) => setTimeout(r, 100));
    const lean = await f.apiBuffer(
      'POST',
      '/containers/ck/checkpoint?export=1&compress=none&leaveRunning=1&ignoreVolumes=1',
    );
    assert.equal(lean.status, 200, lean.body.toString().slice(0, 300));
    assert.ok(!lean.body.includes('volumes/ckdata.tar'), 'ignoreVolumes left the volumes out');
    const exp = await f.apiBuffer('POST', '/containers/ck/checkpoint?export=1&compress=none');
    assert.equal(exp.status, 200, exp.body.toString().slice(0, 300));
    assert.ok(exp.body.includes('volumes/ckdata.tar'));

    const importAs = (name: string, body: Buffer, extra = '') =>
      f.apiBuffer('POST', `/containers/x/restore?import=1&name=${name}${extra}`, body, {
        'content-type': 'application/x-tar',
      });
    // podman's rule: the archive's named volume exists here: refused, nothing created
    const volumesBefore = await volumeNames();
    const refused = await importAs('ck-copy', exp.body);
    assert.equal(refused.status, 409, refused.body.toString());
    assert.match(refused.body.toString(), /volume with name ckdata already exists/);
    assert.deepEqual(await volumeNames(), volumesBefore);

    await docker('rm', '-f', '-v', 'ck');
    await docker('volume', 'rm', 'ckdata');
    const r = await importAs('ck-copy', exp.body);
    assert.equal(r.status, 201, r.body.toString());
    assert.equal(
      (await docker('exec', 'ck-copy', 'cat', '/data/f', '/seed/g', '/seed/hello')).trim(),
      'named\nanon\nfrom the image',
    );
    assert.equal(
      (await docker('exec', 'ck-copy', 'stat', '-c', '%u:%g %a', '/seed')).trim(),
      '1234:1234 750',
    );
    const mounts = JSON.parse(await docker('inspect', '-f', '{{json .Mounts}}', 'ck-copy')) as {
      Name: string;
      Destination: string;
    }[];
    assert.deepEqual(mounts.map((m) => m.Destination).sort(), ['/data', '/seed']);
    assert.equal(mounts.find((m) => m.Destination === '/data')?.Name, 'ckdata');

    // the lean archive has no volume content: importing it with ignoreVolumes gives empty new volumes
    await docker('rm', '-f', '-v', 'ck-copy');
    await docker('volume', 'rm', 'ckdata');
    const missing = await importAs('ck-lean', lean.body);
    assert.equal(missing.status, 400, missing.body.toString());
    assert.match(missing.body.toString(), /volumes\/ckdata\.tar is missing/);
    const l = await importAs('ck-lean', lean.body, '&ignoreVolumes=1');
    assert.equal(l.status, 201, l.body.toString());
    assert.equal((await docker('exec', 'ck-lean', 'ls', '-A', '/data')).trim(), '');
    await docker('rm', '-f', '-v', 'ck-lean');
    await docker('volume', 'rm', 'ckdata');
  });
});
