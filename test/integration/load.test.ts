// Sustained load, short (issue 16): 4 clients for 15 s through the Engine API (bench/load.ts,
// the same driver as `BENCH_CASES=load npm run bench`) on a ckptd with its managed containerd:
// no unexpected error, leases, snapshots, mounts, fds and processes back to their baseline. The
// RSS criterion (within 120% of the first ten seconds' peak) is only reported here: on a quiet
// host ckptd's RSS still grows over a 15-s run (204 -> 254 MiB in CI), cause not found yet —
// the 60-s `BENCH_CASES=load` run keeps it as a failure and issue 16 stays open for it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { runLoad } from '../../bench/load.js';
import { httpRequest, startCkptd, type CkptdProcess } from '../helpers/ckptd.js';
import { buildTestImage } from '../helpers/images.js';

const execFileP = promisify(execFile);
const IMG = 'ckptd-test/busybox:latest';
let d: CkptdProcess;
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ckptd-load-'));
  d = await startCkptd([], { dataRoot: join(work, 'data') });
  const img = join(work, 'img.tar');
  await buildTestImage(img, { name: IMG });
  await execFileP('docker', ['load', '-i', img], {
    env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, DOCKER_CONFIG: join(work, 'docker-config') },
  });
});

after(async () => {
  if (process.env.CKPTD_TEST_LOGS) console.log(d?.logs());
  const dataRoot = join(work, 'data');
  await d?.cleanup();
  // a managed containerd that outlived a crashed daemon
  const pid = Number(await readFile(join(dataRoot, 'containerd', 'containerd.pid'), 'utf8').catch(() => ''));
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone with its ckptd
    }
  }
  // shims (and their containers) a failed test left: theirs address lies under the data root
  const { stdout } = await execFileP('pgrep', [
    '-f',
    `containerd-shim-runc-v2 .*-address ${dataRoot}/`,
  ]).catch(() => ({ stdout: '' }));
  for (const shim of stdout.split('\n').filter((l) => l.trim() !== '')) {
    await execFileP('pkill', ['-KILL', '-P', shim]).catch(() => undefined);
    try {
      process.kill(Number(shim), 'SIGKILL');
    } catch {
      // gone
    }
  }
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && m.startsWith(`${work}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await execFileP('umount', ['-l', m]).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

test('4 clients for 15 s: no unexpected error, no leak (RSS reported)', { timeout: 600_000 }, async () => {
  const res = await runLoad({
    socket: d.socket,
    pid: d.child.pid!,
    dataRoot: d.dataRoot,
    containerd: join(d.dataRoot, 'containerd', 'containerd.sock'),
    image: IMG,
    clients: 4,
    seconds: 15,
  });
  console.log(`# ${res.summary}`);
  assert.deepEqual(res.errors, []);
  const rss = res.failures.filter((f) => f.startsWith('RSS grew'));
  if (rss.length > 0) console.log(`# not asserted here (issue 16, open): ${rss.join('; ')}`);
  assert.deepEqual(
    res.failures.filter((f) => !f.startsWith('RSS grew')),
    [],
  );
  // every kind of operation ran
  for (const k of [
    'create',
    'start',
    'exec',
    'logs',
    'cp-in',
    'cp-out',
    'commit',
    'checkpoint',
    'restore',
    'list',
    'inspect',
    'stop',
    'rm',
  ]) {
    assert.ok((res.ops[k] ?? 0) > 0, `no ${k} ran: ${res.summary}`);
  }
});

test('a container holding a zombie (an exited child not yet reaped) checkpoints and restores', async () => {
  // found by the load: a shell loop's `sleep` caught dead at the freeze is a zombie in CRIU's
  // images (task_state TASK_DEAD, no thread_core, no ids): the trust check refused the restore
  const env = {
    ...process.env,
    DOCKER_HOST: `unix://${d.socket}`,
    DOCKER_CONFIG: join(work, 'docker-config'),
  };
  await execFileP(
    'docker',
    ['run', '-d', '--network', 'none', '--name', 'zomb', IMG, 'sh', '-c', 'sleep 0 & exec sleep 100000'],
    { env },
  );
  const api = (m: string, p: string) => httpRequest(d.socket, m, `/v1.47${p}`);
  const cp = await api('POST', '/containers/zomb/checkpoint?name=z1');
  assert.equal(cp.status, 201, cp.body);
  const rs = await api('POST', '/containers/zomb/restore?checkpoint=z1');
  assert.equal(rs.status, 201, rs.body);
  const ps = (await execFileP('docker', ['exec', 'zomb', 'ps', '-o', 'stat,comm'], { env })).stdout;
  assert.match(ps, /Z\s+sleep/, ps);
  await execFileP('docker', ['rm', '-f', 'zomb'], { env });
});
