// A full disk (issue 16): ckptd's data root, and the managed containerd's root and state under it,
// on a small loop-mounted ext4. With the disk filled (a fallocated filler leaving ~2 MiB), commit,
// checkpoint, checkpoint import, docker load and cp in of more than that fail with a 507 whose
// message says "no space left on device"; each takes back what it wrote (no lease, snapshot,
// ingest, staging directory, mount or container left; the free space returns), ps and inspect
// keep answering, and a container writing logs into the full disk is not blocked by them. Once the
// filler is deleted, every operation works again and logging resumes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { httpRequest, startCkptd, type CkptdProcess } from '../helpers/ckptd.js';
import { buildTestImage } from '../helpers/images.js';

const execFileP = promisify(execFile);
const IMG = 'ckptd-test/busybox:latest';
const BIG = 'ckptd-test/big:latest';
const MiB = 1 << 20;
/** what each operation writes: far more than the filler leaves */
const PAYLOAD_MIB = 12;
/** what the filler leaves free */
const LEAVE = 2 * MiB;
/** how much less free space than before an operation is "taken back" (ext4 metadata, logs) */
const SLACK = 1.5 * MiB;
const NO_SPACE = /no space left on device/i;

function fetchBuffer(
  socket: string,
  method: string,
  path: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    // a request that fails fast may answer before taking the whole body
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? undefined : reject(err)));
    req.setTimeout(180_000, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.end(body);
  });
}

async function tarOf(name: string, data: Buffer): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  pack.entry({ name, size: data.length, mode: 0o644 }, data);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function until(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const isRoot = process.getuid?.() === 0;

describe('a full data root (loop-mounted ext4)', { skip: !isRoot && 'needs root (losetup, mount)' }, () => {
  let work: string;
  let mnt: string;
  let loop = '';
  let d: CkptdProcess;
  let dockerConfig: string;
  let dataRoot: string;
  let ctrAddr: string;
  let bigTar: string;
  let cpTar: Buffer;
  let exported: Buffer;
  const filler = () => join(mnt, 'filler');

  const docker = (...args: string[]) =>
    execFileP('docker', args, {
      env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, DOCKER_CONFIG: dockerConfig },
      timeout: 180_000,
      maxBuffer: 64 << 20,
    });
  const api = (method: string, path: string, body?: unknown) =>
    httpRequest(
      d.socket,
      method,
      `/v1.47${path}`,
      body === undefined ? undefined : JSON.stringify(body),
      body === undefined ? {} : { 'content-type': 'application/json' },
    );
  const ctr = async (...args: string[]) =>
    (await execFileP('ctr', ['-a', ctrAddr, '-n', 'default', ...args])).stdout.trim();
  const free = async () => {
    const s = await statfs(mnt);
    return s.bavail * s.bsize;
  };
  const fill = async () => {
    await rm(filler(), { force: true });
    const n = (await free()) - LEAVE;
    if (n > 0) await execFileP('fallocate', ['-l', String(n), filler()]);
  };
  const unfill = () => rm(filler(), { force: true });
  const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');
  const listDir = async (p: string) => (await readdir(p).catch(() => [] as string[])).sort();

  /** audit is what an operation may not leave behind (compared before and after). */
  const audit = async () => ({
    leases: lines(await ctr('leases', 'ls', '-q')),
    snapshots: lines(await ctr('snapshots', 'ls')).length - 1,
    ingests: lines(await ctr('content', 'active')).slice(1),
    containers: lines(await ctr('containers', 'ls', '-q')).sort(),
    images: lines(await ctr('images', 'ls', '-q')).sort(),
    staging: await listDir(join(dataRoot, 'checkpoint-staging')),
    tmp: await listDir(join(dataRoot, 'tmp')),
    mounts: (await readFile('/proc/self/mountinfo', 'utf8'))
      .split('\n')
      .filter((l) => l.split(' ')[4]?.startsWith(`${dataRoot}/`))
      .map((l) => l.split(' ')[4])
      .sort(),
    // this daemon's helpers: shims, tar, zstd, criu... name a path under the mount
    processes: (await execFileP('ps', ['-eo', 'args='])).stdout
      .split('\n')
      .filter((a) => a.includes(`${mnt}/`) && !a.startsWith('ps '))
      .map((a) => a.split(' ')[0])
      .sort(),
  });

  /** failsFull runs op against the full disk and checks what it must leave. */
  const failsFull = async (what: string, op: () => Promise<void>) => {
    await fill();
    const before0 = await audit();
    const free0 = await free();
    await op();
    // still serving
    assert.equal((await api('GET', '/containers/json?all=1')).status, 200, `${what}: ps after the failure`);
    assert.equal(
      (await api('GET', '/containers/src/json')).status,
      200,
      `${what}: inspect after the failure`,
    );
    // containerd's garbage collector frees an aborted ingest a moment after the lease goes
    for (let i = 0; i < 40 && (await free()) < free0 - SLACK; i++)
      await new Promise((r) => setTimeout(r, 500));
    assert.ok(
      (await free()) >= free0 - SLACK,
      `${what}: did not give the space back (${free0} bytes free before, ${await free()} after)`,
    );
    // what containerd could not delete on the full disk itself (its metadata db needs a write)
    // goes with the operation's lease: gone once its garbage collector can write again
    await unfill();
    let after0 = await audit();
    for (let i = 0; i < 40 && JSON.stringify(after0) !== JSON.stringify(before0); i++) {
      await new Promise((r) => setTimeout(r, 500));
      after0 = await audit();
    }
    assert.deepEqual(after0, before0, `${what}: left something behind`);
  };

  const expect507 = (what: string, r: { status: number; body: Buffer | string }) => {
    const body = r.body.toString();
    assert.equal(r.status, 507, `${what}: ${body.slice(0, 400)}`);
    assert.match((JSON.parse(body) as { message: string }).message, NO_SPACE, what);
  };

  before(async () => {
    work = await mkdtemp('/tmp/ckptd-diskfull-');
    dockerConfig = join(work, 'docker-config');
    mnt = join(work, 'mnt');
    await mkdir(mnt);
    const image = join(work, 'fs.img');
    await execFileP('truncate', ['-s', '384M', image]);
    await execFileP('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
    loop = (await execFileP('losetup', ['-f', '--show', image])).stdout.trim();
    assert.match(loop, /^\/dev\/loop\d+$/);
    await execFileP('mount', [loop, mnt]);
    dataRoot = join(mnt, 'data');
    ctrAddr = join(dataRoot, 'containerd', 'containerd.sock');
    d = await startCkptd([], { dataRoot });

    const img = join(work, 'img.tar');
    await buildTestImage(img, { name: IMG });
    await docker('load', '-i', img);
    bigTar = join(work, 'big.tar');
    await buildTestImage(bigTar, {
      name: BIG,
      extraLayers: [[{ path: '/big', content: randomBytes(PAYLOAD_MIB * MiB) }]],
    });
    cpTar = await tarOf('big', randomBytes(PAYLOAD_MIB * MiB));
    const dd = `dd if=/dev/urandom of=/data bs=1M count=${PAYLOAD_MIB} 2>/dev/null`;
    for (const name of ['src', 'ck']) {
      await docker('run', '-d', '--network', 'none', '--name', name, IMG, 'sh', '-c', `${dd}; sleep 100000`);
    }
    await until('the payloads to be written', async () => {
      const a = await docker('exec', 'src', 'sh', '-c', 'wc -c < /data');
      const b = await docker('exec', 'ck', 'sh', '-c', 'wc -c < /data');
      return Number(a.stdout) === PAYLOAD_MIB * MiB && Number(b.stdout) === PAYLOAD_MIB * MiB;
    });
    // an exported checkpoint to import (made while there is space), holding the 12 MiB rootfs diff
    const exp = await fetchBuffer(
      d.socket,
      'POST',
      '/v1.47/containers/ck/checkpoint?export=1&leaveRunning=1',
    );
    assert.equal(exp.status, 200, exp.body.toString().slice(0, 300));
    exported = exp.body;
    assert.ok(exported.length > PAYLOAD_MIB * MiB, `export is ${exported.length} bytes`);
  });

  after(async () => {
    if (process.env.CKPTD_TEST_LOGS) console.log(d?.logs());
    await rm(join(mnt ?? '/nonexistent', 'filler'), { force: true }).catch(() => undefined);
    if (d) {
      await docker('rm', '-f', 'src', 'ck', 'chatty', 'imp').catch(() => undefined);
      await d.cleanup();
    }
    // a managed containerd that outlived its ckptd (a crashed daemon), then the shims (and their
    // processes) it left: theirs address lies under dataRoot
    if (dataRoot) {
      const pid = Number(
        await readFile(join(dataRoot, 'containerd', 'containerd.pid'), 'utf8').catch(() => ''),
      );
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone with its ckptd
        }
      }
      const { stdout } = await execFileP('pgrep', [
        '-f',
        `containerd-shim-runc-v2 .*-address ${dataRoot}/`,
      ]).catch(() => ({ stdout: '' }));
      for (const pid of lines(stdout)) {
        await execFileP('pkill', ['-KILL', '-P', pid]).catch(() => undefined);
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    if (mnt) {
      const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
        .split('\n')
        .map((l) => l.split(' ')[4])
        .filter((m): m is string => m !== undefined && m.startsWith(`${mnt}/`))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) await execFileP('umount', ['-l', m]).catch(() => undefined);
      await execFileP('umount', [mnt]).catch(() => execFileP('umount', ['-l', mnt]).catch(() => undefined));
    }
    if (loop) await execFileP('losetup', ['-d', loop]).catch(() => undefined);
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('commit fails with 507 and leaves no layer, image, lease or ingest', async () => {
    await failsFull('commit', async () => {
      const r = await api('POST', '/commit?container=src&repo=full/commit&tag=x');
      expect507('commit', r);
    });
    const r = await api('POST', '/commit?container=src&repo=full/commit&tag=x');
    assert.equal(r.status, 201, r.body);
    await docker('rmi', 'full/commit:x');
  });

  test('checkpoint (exit and leave-running) fails with 507; the container keeps running, unfrozen', async () => {
    for (const exit of [true, false]) {
      await failsFull(`checkpoint exit=${exit}`, async () => {
        const r = await api('POST', '/containers/ck/checkpoints', { CheckpointID: 'full', Exit: exit });
        expect507(`checkpoint exit=${exit}`, r);
        const st = JSON.parse((await api('GET', '/containers/ck/json')).body) as {
          State: { Status: string; Paused: boolean };
        };
        assert.equal(st.State.Status, 'running', `checkpoint exit=${exit}: container state`);
        assert.equal(st.State.Paused, false);
        const cps = JSON.parse((await api('GET', '/containers/ck/checkpoints')).body) as unknown[];
        assert.deepEqual(cps, [], 'no half checkpoint is listed');
      });
    }
    const r = await api('POST', '/containers/ck/checkpoints', { CheckpointID: 'full', Exit: false });
    assert.equal(r.status, 201, r.body);
    assert.equal((await api('DELETE', '/containers/ck/checkpoints/full')).status, 204);
    // with exit (the rootfs captured frozen, then CRIU's dump ends the task), then restored
    const x = await api('POST', '/containers/ck/checkpoints', { CheckpointID: 'full2', Exit: true });
    assert.equal(x.status, 201, x.body);
    const st = JSON.parse((await api('GET', '/containers/ck/json')).body) as { State: { Status: string } };
    assert.equal(st.State.Status, 'exited');
    const rs = await api('POST', '/containers/ck/restore?checkpoint=full2');
    assert.equal(rs.status, 201, rs.body);
    assert.equal(
      (await docker('exec', 'ck', 'sh', '-c', 'wc -c < /data')).stdout.trim(),
      String(PAYLOAD_MIB * MiB),
    );
    assert.equal((await api('DELETE', '/containers/ck/checkpoints/full2')).status, 204);
  });

  test('checkpoint import fails with 507 and creates no container', async () => {
    await failsFull('checkpoint import', async () => {
      const r = await fetchBuffer(
        d.socket,
        'POST',
        '/v1.47/containers/x/restore?import=1&name=imp',
        exported,
        {
          'content-type': 'application/x-tar',
        },
      );
      expect507('checkpoint import', r);
      assert.equal((await api('GET', '/containers/imp/json')).status, 404);
    });
    const r = await fetchBuffer(d.socket, 'POST', '/v1.47/containers/x/restore?import=1&name=imp', exported, {
      'content-type': 'application/x-tar',
    });
    assert.equal(r.status, 201, r.body.toString());
    assert.equal(
      (await docker('exec', 'imp', 'sh', '-c', 'wc -c < /data')).stdout.trim(),
      String(PAYLOAD_MIB * MiB),
    );
    await docker('rm', '-f', 'imp');
  });

  test('docker load fails naming the full disk and leaves no image, blob or snapshot', async () => {
    await failsFull('docker load', async () => {
      const err = await docker('load', '-i', bigTar).then(
        () => assert.fail('docker load succeeded on a full disk'),
        (e: { stderr: string; stdout: string }) => e,
      );
      assert.match(`${err.stdout}${err.stderr}`, NO_SPACE);
    });
    const out = await docker('load', '-i', bigTar);
    assert.match(out.stdout, /Loaded image: ckptd-test\/big:latest/);
    await docker('rmi', BIG);
  });

  test('cp into a container fails with 507 and takes back the partial file', async () => {
    await failsFull('cp in', async () => {
      const r = await fetchBuffer(d.socket, 'PUT', '/v1.47/containers/src/archive?path=/tmp', cpTar, {
        'content-type': 'application/x-tar',
      });
      expect507('cp in', r);
      const ls = await docker('exec', 'src', 'ls', '/tmp');
      assert.equal(ls.stdout.trim(), '', 'a partial /tmp/big was left');
    });
    const r = await fetchBuffer(d.socket, 'PUT', '/v1.47/containers/src/archive?path=/tmp', cpTar, {
      'content-type': 'application/x-tar',
    });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(
      (await docker('exec', 'src', 'sh', '-c', 'wc -c < /tmp/big')).stdout.trim(),
      String(PAYLOAD_MIB * MiB),
    );
    await docker('exec', 'src', 'rm', '/tmp/big');
  });

  test('a container logging into a full disk is not blocked; logging resumes when space returns', async () => {
    // ~3.5 MiB of log lines (more than is free), then exit
    const script = 'i=0; while [ $i -lt 15000 ]; do echo "line $i $X"; i=$((i+1)); done; echo END $1';
    await docker(
      'create',
      '--network',
      'none',
      '--name',
      'chatty',
      '-e',
      `X=${'x'.repeat(200)}`,
      IMG,
      'sh',
      '-c',
      script,
      'sh',
      'run',
    );
    await fill();
    await docker('start', 'chatty');
    const t0 = Date.now();
    assert.equal((await docker('wait', 'chatty')).stdout.trim(), '0');
    console.log(`# the chatty container wrote into the full disk for ${Date.now() - t0} ms`);
    const logs = await docker('logs', 'chatty');
    assert.doesNotMatch(logs.stdout, /END run/, 'the last lines cannot have been logged');
    assert.match(d.logs(), NO_SPACE, "ckptd's own log names the cause");
    assert.equal((await api('GET', '/containers/json?all=1')).status, 200);
    await unfill();
    await docker('start', 'chatty');
    await docker('wait', 'chatty');
    await until('the second run to be logged', async () =>
      /END run/.test((await docker('logs', '--tail', '1', 'chatty')).stdout),
    );
    await docker('rm', '-f', 'chatty');
  });

  test('nothing of the failures is left once the daemon is idle', async () => {
    const a = await audit();
    assert.deepEqual(a.staging, []);
    assert.deepEqual(a.ingests, []);
    assert.ok(!existsSync(filler()));
    // space is back: a small write works
    await writeFile(join(mnt, 'probe'), 'x');
    await rm(join(mnt, 'probe'));
  });
});
