// A confined container stays confined through checkpoint and restore (issue 11): memory and pids
// limits, --cap-drop ALL and the default seccomp profile, read from inside the restored process
// and from its cgroup, after a restore in place, under a new name, and through export + import
// (where the caller's hostConfig is the only source of host settings: the archive brings none).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, describe, test } from 'node:test';
import { ckptdFixture, COUNTER, IMG } from '../helpers/fixture.js';

const NS = 'ckptd-ckconf';
const MEMORY = 96 * 1024 * 1024;
const HOST_CONFIG = { Memory: MEMORY, MemorySwap: MEMORY, PidsLimit: 40, CapDrop: ['ALL'] };

describe('confinement survives checkpoint and restore', { timeout: 600_000 }, () => {
  const f = ckptdFixture({ ns: NS });
  const { api, until } = f;
  const docker = async (...args: string[]): Promise<string> => (await f.docker(...args)).trim();
  const counter = async (ref: string) => Number(await docker('exec', ref, 'cat', '/tmp/c'));

  /** confinement reads what the container's pid 1 runs under, from inside and from its cgroup. */
  const confinement = async (ref: string) => {
    const status = await docker('exec', ref, 'cat', '/proc/1/status');
    const field = (k: string) => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(status)?.[1];
    const inspect = JSON.parse(await docker('inspect', ref)) as [{ State: { Pid: number }; Id: string }];
    const cgroups = await readFile(`/proc/${inspect[0].State.Pid}/cgroup`, 'utf8');
    const path = (ctl: string) => new RegExp(`^\\d+:[^:]*\\b${ctl}\\b[^:]*:(.*)$`, 'm').exec(cgroups)?.[1];
    const memory = await readFile(`/sys/fs/cgroup/memory${path('memory')}/memory.limit_in_bytes`, 'utf8');
    const pids = await readFile(`/sys/fs/cgroup/pids${path('pids')}/pids.max`, 'utf8');
    return {
      capEff: field('CapEff'),
      capBnd: field('CapBnd'),
      seccomp: field('Seccomp'),
      memory: Number(memory.trim()),
      pids: pids.trim(),
    };
  };
  const CONFINED = {
    capEff: '0000000000000000',
    capBnd: '0000000000000000',
    seccomp: '2',
    memory: MEMORY,
    pids: '40',
  };

  before(async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'conf',
      '--memory',
      '96m',
      '--memory-swap',
      '96m',
      '--pids-limit',
      '40',
      '--cap-drop',
      'ALL',
      IMG,
      'sh',
      '-c',
      COUNTER,
    );
    await until('the counter to pass 5', async () => (await counter('conf')) > 5);
    assert.deepEqual(await confinement('conf'), CONFINED);
  });

  // the counters write into their snapshots: stop them before containerd's root is removed
  f.teardown(async () => {
    for (const c of ['conf', 'conf-copy', 'conf-imp', 'conf-bare'])
      await docker('rm', '-f', c).catch(() => '');
  });

  test('restored in place, the counter continues under the same limits, capabilities and seccomp', async () => {
    await docker('checkpoint', 'create', 'conf', 'cp1');
    await docker('start', '--checkpoint', 'cp1', 'conf');
    assert.ok((await counter('conf')) > 5, 'the counter continued');
    assert.deepEqual(await confinement('conf'), CONFINED);
  });

  test("restored under a new name, the copy runs under the source container's confinement", async () => {
    const r = await api('POST', '/containers/conf/checkpoint?name=cp2&leaveRunning=1');
    assert.equal(r.status, 201, r.body);
    const res = await api('POST', '/containers/conf/restore?checkpoint=cp2&name=conf-copy');
    assert.equal(res.status, 201, res.body);
    assert.ok((await counter('conf-copy')) > 5);
    assert.deepEqual(await confinement('conf-copy'), CONFINED);
  });

  test("through export and import, the caller's hostConfig confines the new container", async () => {
    const exp = await f.apiBuffer('POST', '/containers/conf/checkpoint?export=1&leaveRunning=1');
    assert.equal(exp.status, 200, exp.body.toString().slice(0, 300));
    const q = `hostConfig=${encodeURIComponent(JSON.stringify(HOST_CONFIG))}`;
    const imp = await f.apiBuffer('POST', `/containers/x/restore?import=1&name=conf-imp&${q}`, exp.body);
    assert.equal(imp.status, 201, imp.body.toString());
    assert.ok((await counter('conf-imp')) > 5);
    assert.deepEqual(await confinement('conf-imp'), CONFINED);
    // without a hostConfig the import gets ckptd's defaults: no limits (the archive brings none)
    const bare = await f.apiBuffer('POST', '/containers/x/restore?import=1&name=conf-bare', exp.body);
    assert.equal(bare.status, 201, bare.body.toString());
    const c = await confinement('conf-bare');
    assert.equal(c.capEff, '0000000000000000', 'CRIU restores the dumped (smaller) capability set');
    assert.equal(c.seccomp, '2');
    assert.ok(c.memory > MEMORY, `no memory limit from the archive (${c.memory})`);
    assert.equal(c.pids, 'max');
  });

  test('a hostConfig that asks for what the create rules refuse is a 400 naming the field', async () => {
    const exp = await f.apiBuffer('POST', '/containers/conf/checkpoint?export=1&leaveRunning=1');
    const q = `hostConfig=${encodeURIComponent(JSON.stringify({ PortBindings: { '80/tcp': [{ HostPort: '8080' }] } }))}`;
    const r = await f.apiBuffer('POST', `/containers/x/restore?import=1&name=conf-bad&${q}`, exp.body);
    assert.equal(r.status, 400, r.body.toString());
    assert.match(r.body.toString(), /HostConfig\.PortBindings/);
    assert.equal((await api('GET', '/containers/conf-bad/json')).status, 404);
  });
});
