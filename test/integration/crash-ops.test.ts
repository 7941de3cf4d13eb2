// Crash safety of the remaining operations: ckptd SIGKILLed in the middle of a checkpoint (exit
// and leave-running), an export, a cp into a container, a load and a pull, then started again on
// the same data root. The shared audit (test/helpers/audit.ts) finds no lease, snapshot, content,
// ingest, mount, staging entry, pause mark or unpacking process left, no container paused, and
// records matching containerd; the interrupted operation's result is complete or absent.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { audit, takeBaseline, type AuditTarget, type Baseline } from '../helpers/audit.js';
import { startContainerd, type RunningContainerd } from '../helpers/containerd.js';
import { httpRequest, startCkptd, type CkptdProcess } from '../helpers/ckptd.js';
import {
  sleep,
  slowRequest,
  startRegistry,
  startThrottleProxy,
  waitFor,
  type Registry,
} from '../helpers/faults.js';
import { buildTestImage } from '../helpers/images.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-crash-ops';
const IMG = 'ckptd-test/busybox:latest';
const BIG = 'ckptd-test/big:latest';
const MiB = 1 << 20;

describe('crash safety of checkpoint, export, cp, load and pull', () => {
  let ctd: RunningContainerd;
  let d: CkptdProcess;
  let work: string;
  let dataRoot: string;
  let target: AuditTarget;
  let bigArchive: string;
  let registry: Registry | undefined;

  const docker = async (...args: string[]) =>
    (
      await execFileP('docker', args, {
        env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, DOCKER_CONFIG: join(work, 'dc') },
        timeout: 180_000,
        maxBuffer: 64 * MiB,
      })
    ).stdout.trim();
  const api = (method: string, path: string, body?: unknown) =>
    httpRequest(
      d.socket,
      method,
      `/v1.47${path}`,
      body === undefined ? undefined : JSON.stringify(body),
      body === undefined ? {} : { 'content-type': 'application/json' },
    );
  const start = async () => {
    d = await startCkptd(['--containerd', ctd.address, '--containerd-namespace', NS], { dataRoot });
  };
  const kill9 = async () => {
    const child = d.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(d.dir, { recursive: true, force: true });
  };
  /** restart kills ckptd (if not yet), starts it again and audits against base. */
  const restartAndAudit = async (
    base: Baseline,
    opts: { containersGone?: string[]; containersAdded?: string[] } = {},
  ) => {
    await kill9();
    await start();
    const problems = await audit(target, base, { ...opts, ckptdPid: d.child.pid });
    assert.deepEqual(problems, [], `leftovers after the restart:\n${problems.join('\n')}\n${d.logs()}`);
  };
  const taskStatus = async (id: string) =>
    (await execFileP('ctr', ['-a', ctd.address, '-n', NS, 'tasks', 'ls'])).stdout
      .split('\n')
      .find((l) => l.startsWith(id))
      ?.split(/\s+/)[2];
  const runBusy = async (name: string, script: string) => {
    const id = await docker('run', '-d', '--network', 'none', '--name', name, IMG, 'sh', '-c', script);
    // the setup script writes its files, then touches /ready
    assert.ok(
      await waitFor(
        () =>
          docker('exec', name, 'test', '-e', '/ready').then(
            () => true,
            () => false,
          ),
        120_000,
      ),
      `${name} never got ready`,
    );
    return id;
  };
  const jitter = (maxMs: number) => {
    const ms = Math.floor(Math.random() * maxMs);
    console.log(`# kill jitter ${ms} ms`);
    return sleep(ms);
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ckptd-crash-ops-'));
    dataRoot = join(work, 'data');
    ctd = await startContainerd();
    target = { address: ctd.address, namespace: NS, dataRoot, containerdDir: ctd.dir };
    const img = join(work, 'img.tar');
    await buildTestImage(img, { name: IMG });
    await execFileP('ctr', ['-a', ctd.address, '-n', NS, 'images', 'import', img]);
    bigArchive = join(work, 'big.tar');
    await buildTestImage(bigArchive, {
      name: BIG,
      extraLayers: [[{ path: 'big.bin', content: randomBytes(48 * MiB) }]],
    });
    await start();
  });

  // a failed case must not leave its containers to the next case's audit
  afterEach(async () => {
    for (const n of ['ck-exit', 'ck-leave', 'exp', 'cpin'])
      await docker('rm', '-f', n).catch(() => undefined);
  });

  after(async () => {
    if (process.env.CKPTD_TEST_LOGS) console.log(d?.logs());
    await registry?.kill();
    await d?.cleanup();
    await ctd?.stop();
    await rm(work, { recursive: true, force: true });
  });

  for (const leaveRunning of [false, true]) {
    test(`killed in the middle of a checkpoint (${leaveRunning ? 'leave-running' : 'exit'}): no container left frozen, no half checkpoint kept or listed`, async () => {
      const name = leaveRunning ? 'ck-leave' : 'ck-exit';
      // memory in a tmpfs (CRIU archives it) and a rootfs diff: a dump of a few seconds
      const id = await runBusy(
        name,
        'head -c 64m /dev/urandom > /dev/shm/m; head -c 48m /dev/urandom > /big; touch /ready; sleep 100000',
      );
      const base = await takeBaseline(target);
      const ckDir = join(dataRoot, 'containers', id, 'checkpoints', 'c1');
      const req = slowRequest(d.socket, 'POST', `/v1.47/containers/${name}/checkpoints`, {
        body: JSON.stringify({ CheckpointID: 'c1', Exit: !leaveRunning }),
        headers: { 'content-type': 'application/json' },
      });
      assert.ok(
        await waitFor(
          () =>
            stat(ckDir).then(
              () => true,
              () => false,
            ),
          60_000,
        ),
        'the checkpoint never began',
      );
      await jitter(2500);
      await kill9();
      const r = await req.result;
      await start();
      const status = await taskStatus(id);
      assert.ok(status === undefined || status === 'RUNNING' || status === 'STOPPED', `task ${status}`);
      if (leaveRunning) assert.equal(status, 'RUNNING', 'a leave-running checkpoint left it not running');
      const listed = JSON.parse((await api('GET', `/containers/${name}/checkpoints`)).body) as {
        Name: string;
      }[];
      const left = await readdir(join(dataRoot, 'containers', id, 'checkpoints')).catch(() => [] as string[]);
      console.log(
        `# answer: ${JSON.stringify(r).slice(0, 200)}; listed ${JSON.stringify(listed)}; on disk ${left.join()}`,
      );
      if (listed.length > 0) {
        // finished before the kill: then it is whole
        const files = await readdir(join(ckDir, 'checkpoint'));
        assert.ok(files.includes('inventory.img'), files.join());
        await api('DELETE', `/containers/${name}/checkpoints/c1`);
      }
      await restartAndAudit(base);
      // the container's record agrees with containerd: running, or exited by the checkpoint
      const state = JSON.parse(await docker('inspect', '-f', '{{json .State}}', name)) as {
        Running: boolean;
        Paused: boolean;
      };
      assert.equal(state.Paused, false);
      assert.equal(state.Running, (await taskStatus(id)) === 'RUNNING');
      await docker('rm', '-f', name);
    });
  }

  test('killed in the middle of an export: its temp mount and lease are cleaned at start', async () => {
    const id = await runBusy('exp', 'head -c 48m /dev/urandom > /big; touch /ready; sleep 100000');
    const base = await takeBaseline(target);
    const req = slowRequest(d.socket, 'GET', '/v1.47/containers/exp/export', { readBytesPerSec: 4 * MiB });
    assert.ok(await waitFor(() => req.received() > 2 * MiB, 60_000), 'the export never streamed');
    await jitter(1500);
    await restartAndAudit(base);
    const r = await req.result;
    // the export's body is close-delimited (tar writes into the connection itself): a cut export
    // ends like a whole one at the HTTP level, and only its size (no end-of-archive blocks) tells
    console.log(`# export answer: ${JSON.stringify(r).slice(0, 120)}, ${req.received()} bytes`);
    assert.ok(
      'error' in r || req.received() < 48 * MiB,
      `the export answered whole: ${req.received()} bytes`,
    );
    assert.equal(await taskStatus(id), 'RUNNING');
    await docker('rm', '-f', 'exp');
  });

  test('killed in the middle of a cp into a container: not left frozen, the copied file is whole or absent', async () => {
    const id = await runBusy('cpin', 'mkdir /in; touch /ready; sleep 100000');
    const base = await takeBaseline(target);
    const archive = join(work, 'cp.tar');
    const pack = tar.pack();
    const written = pipeline(pack, createWriteStream(archive));
    pack.entry({ name: 'data.bin', size: 32 * MiB, mode: 0o644 }, randomBytes(32 * MiB));
    pack.finalize();
    await written;
    const req = slowRequest(d.socket, 'PUT', '/v1.47/containers/cpin/archive?path=/in', {
      file: archive,
      bytesPerSec: 8 * MiB,
      headers: { 'content-type': 'application/x-tar', 'transfer-encoding': 'chunked' },
    });
    assert.ok(await waitFor(() => req.sent() > 4 * MiB, 60_000));
    await jitter(2000);
    await restartAndAudit(base);
    console.log(`# answer: ${JSON.stringify(await req.result).slice(0, 200)}`);
    assert.equal(await taskStatus(id), 'RUNNING');
    const size = await docker(
      'exec',
      'cpin',
      'sh',
      '-c',
      'stat -c %s /in/data.bin 2>/dev/null || echo absent',
    );
    assert.ok(size === 'absent' || size === String(32 * MiB), `a half-copied file: ${size} bytes`);
    // what a cut copy may leave is its hidden partial file, never a half file under the name
    const names = (await docker('exec', 'cpin', 'ls', '-A', '/in')).split('\n').filter(Boolean);
    console.log(`# /in after the restart: ${names.join(' ')}`);
    assert.deepEqual(
      names.filter((n) => !n.startsWith('.ckptd-cp-partial-')),
      size === 'absent' ? [] : ['data.bin'],
    );
    await docker('rm', '-f', 'cpin');
  });

  test('killed in the middle of a load: no half image, nothing leased or staged', async () => {
    const base = await takeBaseline(target);
    const req = slowRequest(d.socket, 'POST', '/v1.47/images/load?quiet=1', {
      file: bigArchive,
      bytesPerSec: 12 * MiB,
      headers: { 'content-type': 'application/x-tar' },
    });
    assert.ok(await waitFor(() => req.sent() > 16 * MiB, 60_000));
    await jitter(3000);
    await kill9();
    console.log(`# answer: ${JSON.stringify(await req.result).slice(0, 200)}`);
    await start();
    const images = await docker('images', '--format', '{{.Repository}}:{{.Tag}}');
    if (images.includes(BIG)) {
      assert.equal(
        await docker('run', '--rm', '--network', 'none', BIG, 'sh', '-c', 'stat -c %s /big.bin'),
        String(48 * MiB),
      );
      await docker('rmi', BIG);
    }
    await restartAndAudit(base);
  });

  test('killed in the middle of a pull: no half image, no ingest or lease left', async () => {
    registry = await startRegistry(join(work, 'registry'));
    await docker('load', '-i', bigArchive);
    const ref = `${registry.host}/crash/big:1`;
    await docker('tag', BIG, ref);
    await docker('push', ref);
    await docker('rmi', ref, BIG);
    const proxy = await startThrottleProxy(registry.host, 8 * MiB);
    const viaProxy = `${proxy.host}/crash/big:1`;
    try {
      const base = await takeBaseline(target);
      const req = slowRequest(
        d.socket,
        'POST',
        `/v1.47/images/create?fromImage=${encodeURIComponent(viaProxy)}`,
      );
      assert.ok(await waitFor(() => proxy.blobBytes() > 8 * MiB, 60_000), 'the pull never downloaded');
      await jitter(3000);
      await kill9();
      console.log(`# answer: ${JSON.stringify(await req.result).slice(-200)}`);
      await start();
      const images = await docker('images', '--format', '{{.Repository}}:{{.Tag}}');
      if (images.includes(`${proxy.host}/crash/big:1`)) {
        assert.equal(
          await docker('run', '--rm', '--network', 'none', viaProxy, 'sh', '-c', 'stat -c %s /big.bin'),
          String(48 * MiB),
        );
        await docker('rmi', viaProxy);
      }
      await restartAndAudit(base);
    } finally {
      await proxy.close();
    }
  });
});
