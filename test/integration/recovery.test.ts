// Crash recovery: ckptd killed with SIGKILL in the middle of an operation, then started again on
// the same data root. What the killed run left — leases, temp mounts, a container it froze,
// unpacking processes, torn record writes — is cleaned at the next start, and the interrupted
// operation's result is complete or absent, never half made.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ckptdFixture, IMG } from '../helpers/fixture.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-recovery';

describe('crash recovery', () => {
  const f = ckptdFixture({ ns: NS });
  const { api, ctr, start, kill9 } = f;
  const docker = async (...args: string[]) => (await f.docker(...args)).trim();
  const mountsUnder = async (dir: string) =>
    (await execFileP('cat', ['/proc/self/mountinfo'])).stdout
      .split('\n')
      .filter((l) => l.includes(` ${dir}/`));
  const nobodyProcs = async () =>
    (await execFileP('ps', ['-u', '65534', '-o', 'pid=,stat=,comm=']).catch(() => ({ stdout: '' }))).stdout
      .split('\n')
      // a killed child whose new parent has not reaped it yet is a zombie: dead, holding nothing
      .filter((l) => /\b(tar|zstd|gzip)\b/.test(l) && !/^\s*\d+\s+Z/.test(l));
  const taskStatus = async (id: string) =>
    ((await ctr('tasks', 'ls')).split('\n').find((l) => l.startsWith(id)) ?? '').split(/\s+/)[2];

  test('leftovers of a killed run (its leases, temp mounts, a frozen container, torn record writes) are cleaned at start; others are not touched', async () => {
    const id = await docker('run', '-d', '--network', 'none', '--name', 'frozen', IMG, 'sleep', '100000');
    await kill9();
    // what a run killed mid-commit leaves: its lease, its temp rootfs mount, the container frozen with its mark
    await ctr('leases', 'create', '--id', 'ckptd-killed', `io.ckptd.data-root=${f.dataRoot}`);
    await ctr('leases', 'create', '--id', 'ckptd-other-root', 'io.ckptd.data-root=/somewhere/else');
    const tmpMount = join(f.dataRoot, 'tmp', 'ckptd-rootfs-left');
    await mkdir(tmpMount, { recursive: true });
    await execFileP('mount', ['-t', 'tmpfs', 'tmpfs', tmpMount]);
    await ctr('tasks', 'pause', id);
    await writeFile(join(f.dataRoot, 'containers', id, 'paused-by-ckptd'), '');
    await writeFile(join(f.dataRoot, 'containers', id, '.tmp-state.json-dead'), '{"torn');
    try {
      await start();
      const leases = (await ctr('leases', 'ls', '-q')).split('\n');
      assert.ok(!leases.includes('ckptd-killed'), 'the killed run’s lease is gone');
      assert.ok(leases.includes('ckptd-other-root'), 'a lease of another data root is kept');
      assert.deepEqual(await mountsUnder(join(f.dataRoot, 'tmp')), [], 'temp mounts left');
      assert.deepEqual(await readdir(join(f.dataRoot, 'tmp')), []);
      assert.equal(await taskStatus(id), 'RUNNING', 'the container ckptd froze runs again');
      const files = await readdir(join(f.dataRoot, 'containers', id));
      assert.ok(
        !files.includes('paused-by-ckptd') && !files.some((f) => f.startsWith('.tmp-')),
        files.join(),
      );
      assert.match(f.d.logs(), /recovery: deleted leases a previous run left/);
      assert.match(f.d.logs(), /recovery: resumed containers a previous run left frozen/);
      // a user's own pause is not a ckptd freeze: it survives a restart
      await docker('pause', 'frozen');
      await kill9();
      await start();
      assert.equal(await taskStatus(id), 'PAUSED');
      await docker('unpause', 'frozen');
    } finally {
      await ctr('leases', 'rm', 'ckptd-other-root').catch(() => undefined);
      await docker('rm', '-f', 'frozen').catch(() => undefined);
    }
  });

  test('killed in the middle of a commit: after the restart, the container runs, nothing is leased or mounted, the image is absent or whole', async () => {
    await docker(
      'run',
      '-d',
      '--network',
      'none',
      '--name',
      'big',
      IMG,
      'sh',
      '-c',
      'dd if=/dev/urandom of=/big bs=1M count=96 2>/dev/null; sleep 100000',
    );
    const id = (await docker('inspect', '-f', '{{.Id}}', 'big')).trim();
    for (let i = 0; i < 100; i++) {
      const out = await docker('exec', 'big', 'sh', '-c', 'ls -l /big | awk "{print \\$5}"').catch(() => '0');
      if (Number(out) >= 96 * 1024 * 1024) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const commit = api('POST', '/commit?container=big&repo=crash&tag=mid').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 700)); // the diff of 96 MiB is under way
    await kill9();
    await commit;
    await start();
    assert.equal(await taskStatus(id), 'RUNNING', 'not left paused or frozen');
    assert.equal(await ctr('leases', 'ls', '-q'), '', 'a lease was left');
    assert.deepEqual(await mountsUnder(f.dataRoot), []);
    const images = await docker('images', '--format', '{{.Repository}}:{{.Tag}}');
    if (images.includes('crash:mid')) {
      // it finished before the kill: then it is whole
      assert.equal(
        await docker('run', '--rm', '--network', 'none', 'crash:mid', 'sh', '-c', 'test -s /big && echo ok'),
        'ok',
      );
      await docker('rmi', 'crash:mid');
    }
    await docker('rm', '-f', 'big');
  });

  test('killed while an import is unpacking: no unpacker outlives it, the next start leaves no staging, lease or container', async () => {
    await docker(
      'run',
      '-d',
      '--network',
      'none',
      '--name',
      'exp',
      IMG,
      'sh',
      '-c',
      'dd if=/dev/urandom of=/tmp/f bs=1M count=48 2>/dev/null; while true; do sleep 1; done',
    );
    await new Promise((r) => setTimeout(r, 3000));
    const archive = join(f.work, 'exp.tar.zst');
    const res = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          socketPath: f.socket,
          method: 'POST',
          path: '/v1.47/containers/exp/checkpoint?export=1&leaveRunning=1',
        },
        (r) => {
          const out = spawn('sh', ['-c', `cat > ${archive}`], { stdio: ['pipe', 'ignore', 'ignore'] });
          r.pipe(out.stdin);
          out.on('close', () => resolve(r.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(res, 200);
    const before = (await docker('ps', '-aq')).split('\n').filter(Boolean).length;
    // send the archive slowly: ckptd is killed while tar and zstd unpack it
    const upload = spawn('sh', ['-c', `pv -q -L 4m ${archive} 2>/dev/null || cat ${archive}`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const req = request({
      socketPath: f.socket,
      method: 'POST',
      path: '/v1.47/containers/x/restore?import=1&name=imported',
      headers: { 'content-type': 'application/x-tar', 'transfer-encoding': 'chunked' },
    });
    req.on('error', () => undefined);
    upload.stdout.pipe(req);
    for (let i = 0; i < 50 && (await nobodyProcs()).length === 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    await kill9();
    upload.kill();
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await nobodyProcs(), [], 'an unpacker outlived the daemon');
    await start();
    assert.deepEqual(await readdir(join(f.dataRoot, 'checkpoint-staging')).catch(() => []), []);
    assert.equal(await ctr('leases', 'ls', '-q'), '');
    assert.equal(
      (await docker('ps', '-aq')).split('\n').filter(Boolean).length,
      before,
      'a half-imported container',
    );
    await docker('rm', '-f', 'exp');
  });
});
