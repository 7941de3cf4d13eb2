// The event-fed container view (issue 14): `docker ps` and `docker inspect` answer from memory,
// and follow changes made behind ckptd's back (ctr on ckptd's containerd, a killed shim, a
// containerd restart, a ckptd restart) within a bounded time; ckptd's own changes show at once.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startContainerd, type RunningContainerd } from '../helpers/containerd.js';
import { httpRequest, startCkptd, type CkptdProcess } from '../helpers/ckptd.js';
import { buildTestImage } from '../helpers/images.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-cv';
const IMG = 'ckptd-test/busybox:latest';
/** how long a change behind ckptd's back may take to show (events: ms; the resync: 5 s) */
const BOUND_MS = 15_000;

interface Inspect {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Paused: boolean; Pid: number; ExitCode: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => Promise<boolean>, ms = BOUND_MS): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await fn().catch(() => false)) return Date.now() - t0;
    await sleep(100);
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what}`);
}

describe('container view: list and inspect follow containerd', () => {
  let ctd: RunningContainerd;
  let d: CkptdProcess;
  let dockerConfig: string;
  let dataRoot: string;
  let work: string;

  const env = () => ({ ...process.env, DOCKER_HOST: `unix://${d.socket}`, DOCKER_CONFIG: dockerConfig });
  const docker = async (...args: string[]): Promise<string> => {
    const { stdout } = await execFileP('docker', args, { env: env(), timeout: 60_000 });
    return stdout;
  };
  const ctr = async (...args: string[]): Promise<string> => {
    const { stdout } = await execFileP('ctr', ['-a', ctd.address, '-n', NS, ...args], { timeout: 60_000 });
    return stdout;
  };
  const inspect = async (ref: string): Promise<Inspect> =>
    JSON.parse(await docker('inspect', '--type', 'container', ref)).at(0) as Inspect;
  /** ps: name -> State of `docker ps` (running only) or `docker ps -a` */
  const ps = async (all = false): Promise<Map<string, string>> => {
    const r = await httpRequest(d.socket, 'GET', `/v1.47/containers/json${all ? '?all=1' : ''}`);
    assert.equal(r.status, 200, r.body);
    const list = JSON.parse(r.body) as { Names: string[]; State: string }[];
    return new Map(list.map((c) => [c.Names[0]!.slice(1), c.State]));
  };
  const initPid = async (id: string): Promise<number> => {
    const out = await ctr('task', 'ls');
    const line = out.split('\n').find((l) => l.startsWith(id));
    assert.ok(line, `task ${id} in ctr task ls:\n${out}`);
    return Number(line.split(/\s+/)[1]);
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ckptd-cv-'));
    dockerConfig = join(work, 'docker-config');
    dataRoot = join(work, 'data');
    ctd = await startContainerd();
    const tar = join(work, 'img.tar');
    await buildTestImage(tar, { name: IMG });
    await ctr('images', 'import', tar);
    d = await startCkptd(['--containerd', ctd.address, '--containerd-namespace', NS], { dataRoot });
  });

  after(async () => {
    await d?.cleanup();
    await ctd?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test("ckptd's own changes show at once (no wait): start, pause, unpause, stop, rename, rm", async () => {
    await docker('create', '--name', 'own', IMG, 'sleep', '1000');
    assert.equal((await inspect('own')).State.Status, 'created');
    for (let i = 0; i < 3; i++) {
      await docker('start', 'own');
      const s = await inspect('own');
      assert.equal(s.State.Status, 'running');
      assert.ok(s.State.Pid > 0);
      assert.equal((await ps()).get('own'), 'running');
      await docker('pause', 'own');
      assert.equal((await inspect('own')).State.Status, 'paused');
      assert.equal((await ps()).get('own'), 'paused');
      await docker('unpause', 'own');
      assert.equal((await inspect('own')).State.Status, 'running');
      await docker('stop', '-t', '0', 'own');
      const st = await inspect('own');
      assert.equal(st.State.Status, 'exited');
      assert.equal(st.State.Running, false);
      assert.equal((await ps()).has('own'), false);
      assert.equal((await ps(true)).get('own'), 'exited');
    }
    await docker('rename', 'own', 'own2');
    assert.equal((await inspect('own2')).Name, '/own2');
    assert.equal((await ps(true)).has('own2'), true);
    await docker('rm', 'own2');
    assert.equal((await ps(true)).has('own2'), false);
    await assert.rejects(inspect('own2'), /No such container/);
  });

  test('ctr task kill of a ckptd container: ps and inspect show it exited within the bound', async () => {
    const id = (await docker('run', '-d', '--name', 'victim', IMG, 'sleep', '1000')).trim();
    assert.equal((await ps()).get('victim'), 'running');
    await ctr('task', 'kill', '-s', 'SIGKILL', id);
    await until('victim exited in docker ps -a', async () => (await ps(true)).get('victim') === 'exited');
    const s = await inspect('victim');
    assert.equal(s.State.Running, false);
    assert.equal(s.State.ExitCode, 137);
    assert.equal((await ps()).has('victim'), false);
    await docker('rm', 'victim');
  });

  test('a container of another client (ctr run): appears, stops, disappears within the bound', async () => {
    await ctr('run', '-d', `docker.io/${IMG}`, 'foreign', 'sleep', '1000');
    await until('foreign running in docker ps', async () => (await ps()).get('foreign') === 'running');
    assert.equal((await inspect('foreign')).State.Running, true);
    await ctr('task', 'kill', '-s', 'SIGKILL', 'foreign');
    await until('foreign exited', async () => (await inspect('foreign')).State.Status === 'exited');
    assert.equal((await ps()).has('foreign'), false);
    assert.equal((await ps(true)).get('foreign'), 'exited');
    await ctr('task', 'rm', 'foreign');
    await ctr('container', 'rm', 'foreign');
    await until('foreign gone from docker ps -a', async () => !(await ps(true)).has('foreign'));
    await assert.rejects(inspect('foreign'), /No such container/);
  });

  test('a killed shim: the container shows not running within the bound', async () => {
    const id = (await docker('run', '-d', '--name', 'shimless', IMG, 'sleep', '1000')).trim();
    const pid = await initPid(id);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const shim = Number(/PPid:\s+(\d+)/.exec(status)?.[1]);
    assert.match(await readFile(`/proc/${shim}/cmdline`, 'utf8'), /containerd-shim/);
    process.kill(shim, 'SIGKILL');
    await until('shimless not running', async () => {
      const s = await inspect('shimless');
      return !s.State.Running && (await ps(true)).get('shimless') !== 'running';
    });
    assert.equal((await ps()).has('shimless'), false);
    await docker('rm', '-f', 'shimless');
  });

  test('containerd restarts while a container dies: ps follows once containerd is back', async () => {
    const idA = (await docker('run', '-d', '--name', 'keeps', IMG, 'sleep', '1000')).trim();
    const idB = (await docker('run', '-d', '--name', 'dies', IMG, 'sleep', '1000')).trim();
    const pidB = await initPid(idB);
    assert.ok(idA);
    await ctd.kill(); // shims survive
    process.kill(pidB, 'SIGKILL'); // no containerd to tell ckptd
    await sleep(500);
    await ctd.restart();
    await until('dies not running after the restart', async () => {
      const m = await ps(true);
      return m.get('keeps') === 'running' && m.get('dies') !== undefined && m.get('dies') !== 'running';
    });
    assert.equal((await inspect('keeps')).State.Running, true);
    assert.equal((await inspect('dies')).State.Running, false);
    // and the view follows changes again after the gap
    await ctr('task', 'kill', '-s', 'SIGKILL', idA);
    await until('keeps exited after the restart', async () => (await ps(true)).get('keeps') === 'exited');
    await docker('rm', '-f', 'keeps', 'dies');
  });

  test('ckptd restarts while a container is killed: the first ps after the restart is right', async () => {
    const id = (await docker('run', '-d', '--name', 'while-down', IMG, 'sleep', '1000')).trim();
    await docker('run', '-d', '--name', 'still-up', IMG, 'sleep', '1000');
    await d.stop();
    await ctr('task', 'kill', '-s', 'SIGKILL', id);
    await sleep(300);
    d = await startCkptd(['--containerd', ctd.address, '--containerd-namespace', NS], { dataRoot });
    const m = await ps(true);
    assert.notEqual(m.get('while-down'), 'running');
    assert.equal(m.get('still-up'), 'running');
    assert.equal((await inspect('while-down')).State.Running, false);
    await sleep(1000); // the view is live now: still right
    const m2 = await ps(true);
    assert.equal(m2.get('while-down'), 'exited');
    assert.equal(m2.get('still-up'), 'running');
    await docker('rm', '-f', 'while-down', 'still-up');
  });
});
