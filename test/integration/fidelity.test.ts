// Everyday Docker fidelity (issue 12), each as a user meets it through the docker CLI or
// docker-py against ckptd on a real containerd, runc and CRIU: docker cp into `/`, cp -a
// ownership, exec output across many docker-py runs, a failed exec, restore of a stored
// checkpoint under a new name, docker load of a layer that breaks out of its root.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { decodePathStat, GoFileMode } from '../../src/archive/container-archive.js';
import { ckptdFixture } from '../helpers/fixture.js';
import { buildTestImage } from '../helpers/images.js';

const NS = 'ckptd-fidelity';
const IMG = 'ckptd-test/fidelity:latest';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('everyday fidelity with dockerd (docker CLI, docker-py)', () => {
  const fx = ckptdFixture({
    ns: NS,
    images: [{ name: IMG, extraLayers: [[{ path: 'dest', type: 'directory' }]] }],
    dockerTimeout: 60_000,
  });
  const { ok, api } = fx;
  const docker = (...args: string[]): Promise<Run> => fx.run(args);
  const python = (code: string) => fx.python(code, 300_000);

  test('restore of a stored checkpoint under a new name on a data root where no import ran', async () => {
    await ok(
      'run',
      '-d',
      '--network',
      'none',
      '--name',
      'ck1',
      IMG,
      'sh',
      '-c',
      'echo kept > /f; sleep 100000',
    );
    assert.equal((await ok('exec', 'ck1', 'cat', '/f')).trim(), 'kept');
    assert.equal(existsSync(join(fx.dataRoot, 'checkpoint-staging')), false, 'no staging dir yet');
    assert.match(await ok('checkpoint', 'create', '--leave-running', 'ck1', 'cp1'), /cp1/);
    const r = await api('POST', '/containers/ck1/restore?checkpoint=cp1&name=ck1b');
    assert.equal(r.status, 201, r.body);
    assert.equal((await ok('exec', 'ck1b', 'cat', '/f')).trim(), 'kept');
    assert.equal((await ok('inspect', '-f', '{{.State.Status}}', 'ck1b')).trim(), 'running');
    await ok('rm', '-f', 'ck1', 'ck1b');
  });

  test('HEAD archive of / is a directory (ModeDir|0755, no link target), as dockerd answers', async () => {
    await ok('run', '-d', '--network', 'none', '--name', 'st', IMG, 'sleep', '100000');
    const r = await fx.api('HEAD', '/containers/st/archive?path=/');
    assert.equal(r.status, 200);
    const s = decodePathStat(String(r.headers['x-docker-container-path-stat']));
    assert.equal(s.name, '/');
    assert.equal(s.mode, GoFileMode.dir + 0o755); // 2147484141, as dockerd
    assert.equal(s.linkTarget, '');
    await ok('rm', '-f', 'st');
  });

  test('docker cp FILE and DIR into / of a running and a stopped container', async () => {
    const src = join(fx.work, 'cp-src');
    await mkdir(join(src, 'tree/sub'), { recursive: true });
    await writeFile(join(src, 'f.txt'), 'file at root\n');
    await writeFile(join(src, 'tree/sub/x'), 'x in tree\n');
    await ok('run', '-d', '--network', 'none', '--name', 'cpr', IMG, 'sleep', '100000');
    await ok('create', '--network', 'none', '--name', 'cps', IMG, 'sleep', '100000');
    for (const name of ['cpr', 'cps']) {
      const file = await docker('cp', join(src, 'f.txt'), `${name}:/`);
      assert.equal(file.code, 0, `cp FILE ${name}:/ -> ${file.code}: ${file.stderr.slice(0, 400)}`);
      const dir = await docker('cp', join(src, 'tree'), `${name}:/`);
      assert.equal(dir.code, 0, `cp DIR ${name}:/ -> ${dir.code}: ${dir.stderr.slice(0, 400)}`);
    }
    await ok('start', 'cps');
    for (const name of ['cpr', 'cps']) {
      const out = await ok('exec', name, 'sh', '-c', 'cat /f.txt /tree/sub/x; stat -c %F /tree');
      assert.equal(out, 'file at root\nx in tree\ndirectory\n', name);
    }
    await ok('rm', '-f', 'cpr', 'cps');
  });

  test('docker cp -a keeps the host owner, onto a new name and into a directory', async () => {
    const f = join(fx.work, 'owned.txt');
    await writeFile(f, 'owned\n');
    await chown(f, 1234, 1234);
    await ok('run', '-d', '--network', 'none', '--name', 'own', IMG, 'sleep', '100000');
    await ok('cp', '-a', f, 'own:/dest/renamed.txt');
    await ok('cp', '-a', f, 'own:/dest/');
    const out = await ok('exec', 'own', 'stat', '-c', '%n %u:%g', '/dest/renamed.txt', '/dest/owned.txt');
    assert.equal(out, '/dest/renamed.txt 1234:1234\n/dest/owned.txt 1234:1234\n');
    // a container with a User: -a gives the files that user (dockerd's tarCopyOptions)
    await ok(
      'run',
      '-d',
      '--network',
      'none',
      '--user',
      '1000:1001',
      '--name',
      'ownu',
      IMG,
      'sleep',
      '100000',
    );
    await ok('cp', '-a', f, 'ownu:/tmp/u.txt');
    assert.equal(await ok('exec', 'ownu', 'stat', '-c', '%u:%g', '/tmp/u.txt'), '1000:1001\n');
    await ok('rm', '-f', 'own', 'ownu');
  });

  test('docker-py exec_run("echo o") 100 times: the output is never lost', async () => {
    await ok('run', '-d', '--network', 'none', '--name', 'ex', IMG, 'sleep', '100000');
    const out = await python(`
import docker, os
c = docker.DockerClient(base_url=os.environ["CKPTD_SOCK"], version="1.47")
ctr = c.containers.get("ex")
bad = []
for i in range(100):
    r = ctr.exec_run("echo o")
    if r.exit_code != 0 or r.output != b"o\\n":
        bad.append((i, r.exit_code, r.output))
print(len(bad), bad[:5])
`);
    assert.equal(out, '0 []');
  });

  test('docker exec of a missing command: the stream carries runc message, exit code 126 (CLI and docker-py)', async () => {
    const r = await docker('exec', 'ex', 'nosuchcmd');
    assert.equal(r.code, 126, r.stderr + r.stdout);
    assert.match(r.stdout + r.stderr, /exec: "nosuchcmd": executable file not found in \$PATH/);
    assert.doesNotMatch(r.stdout + r.stderr, /unable to upgrade|containerd Tasks/);
    const out = await python(`
import docker, os
c = docker.DockerClient(base_url=os.environ["CKPTD_SOCK"], version="1.47")
r = c.containers.get("ex").exec_run("nosuchcmd")
print(r.exit_code, r.output.decode().strip())
`);
    assert.match(
      out,
      /^126 OCI runtime exec failed: .*exec: "nosuchcmd": executable file not found in \$PATH/,
    );
    // detached, the failure is the API error, in the runtime's words (dockerd: 400)
    const det = await api('POST', '/containers/ex/exec', { Cmd: ['nosuchcmd'] });
    const detStart = await api('POST', `/exec/${(JSON.parse(det.body) as { Id: string }).Id}/start`, {
      Detach: true,
    });
    assert.equal(detStart.status, 400, detStart.body);
    assert.match(
      (JSON.parse(detStart.body) as { message: string }).message,
      /^OCI runtime exec failed: .*"nosuchcmd": executable file not found/,
    );
    // the container and later execs are unharmed
    assert.equal(await ok('exec', 'ex', 'echo', 'still'), 'still\n');
    await ok('rm', '-f', 'ex');
  });

  test('exec events carry the command; refusals are worded as dockerd 20.10 words them', async () => {
    const id = (await ok('run', '-d', '--network', 'none', '--name', 'ev', IMG, 'sleep', '100000')).trim();
    const since = String(Math.floor(Date.now() / 1000) - 1);
    await ok('exec', 'ev', 'echo', 'hi');
    // exec_die comes from containerd's event stream: give it time to arrive on a loaded host
    await new Promise((r) => setTimeout(r, 2000));
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const actions = (
      await ok(
        'events',
        '--since',
        since,
        '--until',
        until,
        '--filter',
        'container=ev',
        '--format',
        '{{.Action}}',
      )
    )
      .trim()
      .split('\n')
      .filter((a) => a.startsWith('exec'));
    assert.deepEqual(actions, ['exec_create: echo hi', 'exec_start: echo hi', 'exec_die']);
    const started = await ok(
      'events',
      ...['--since', since, '--until', until, '--filter', 'container=ev', '--filter', 'event=exec_start'],
      ...['--format', '{{.Action}}'],
    );
    assert.equal(started, 'exec_start: echo hi\n');

    const err = async (...args: string[]): Promise<string> => {
      const r = await docker(...args);
      assert.notEqual(r.code, 0, `docker ${args.join(' ')} succeeded`);
      return r.stderr.trim();
    };
    assert.equal(
      await err('rm', 'ev'),
      `Error response from daemon: You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`,
    );
    assert.equal(
      await err('kill', '-s', '99', 'ev'),
      'Error response from daemon: Cannot kill container: ev: The linux daemon does not support signal 99',
    );
    assert.equal(await err('kill', '-s', 'FOO', 'ev'), 'Error response from daemon: Invalid signal: FOO');
    assert.equal(
      await err('kill', 'nosuch'),
      'Error response from daemon: Cannot kill container: nosuch: No such container: nosuch',
    );
    await ok('pause', 'ev');
    assert.equal(
      await err('exec', 'ev', 'true'),
      'Error response from daemon: Container ev is paused, unpause the container before exec',
    );
    assert.equal(
      await err('rm', 'ev'),
      `Error response from daemon: You cannot remove a paused container ${id}. Unpause and then stop the container before attempting removal or force remove`,
    );
    await ok('unpause', 'ev');
    await ok('kill', 'ev');
    assert.equal(
      await err('kill', 'ev'),
      `Error response from daemon: Cannot kill container: ev: Container ${id} is not running`,
    );
    const commit = await api('POST', '/commit');
    assert.equal(commit.status, 400);
    assert.deepEqual(JSON.parse(commit.body), { message: 'invalid name or ID supplied: ""' });
    await ok('rm', 'ev');
  });

  test('docker load of a layer that breaks out of its root (../x, 40 × ..) is refused and leaves nothing', async () => {
    const snapshotsBefore: string[] = [];
    for await (const s of fx.client.snapshots('overlayfs').list()) snapshotsBefore.push(s.name);
    const imagesBefore = (await fx.client.images.list()).map((i) => i.name).sort();
    const blobs = async (): Promise<string[]> => {
      const out: string[] = [];
      for await (const b of fx.client.content.list()) out.push(b.digest);
      return out.sort();
    };
    const blobsBefore = await blobs();
    for (const [tag, path] of [
      ['dotdot', '../x'],
      ['deep', `${'../'.repeat(40)}x`],
      ['abs-up', '/../x'],
    ] as const) {
      const archive = join(fx.work, `breakout-${tag}.tar`);
      await buildTestImage(archive, {
        name: `ckptd-test/breakout:${tag}`,
        extraLayers: [[{ path, content: 'escaped' }]],
      });
      const r = await docker('load', '-i', archive);
      assert.notEqual(r.code, 0, `${tag}: load succeeded`);
      assert.match(r.stdout + r.stderr, /is outside of the layer root: breakout/, tag);
    }
    assert.equal((await ok('images', '-q', 'ckptd-test/breakout')).trim(), '');
    assert.deepEqual((await fx.client.images.list()).map((i) => i.name).sort(), imagesBefore);
    assert.deepEqual(await fx.client.leases.list(), []);
    const snapshotsAfter: string[] = [];
    for await (const s of fx.client.snapshots('overlayfs').list()) snapshotsAfter.push(s.name);
    assert.deepEqual(snapshotsAfter.sort(), snapshotsBefore.sort());
    // once the load's lease is gone, containerd's GC (run by a sync lease delete) keeps no
    // blob of it
    await fx.client.leases.create('it-gc-trigger', {});
    await fx.client.leases.delete('it-gc-trigger', { sync: true });
    assert.deepEqual(await fx.client.content.listStatuses(), []);
    assert.deepEqual(await blobs(), blobsBefore);
  });
});
