// Restart policies and failed starts against the real daemon, a real containerd and runc, driven
// by the docker CLI and raw HTTP: what `docker inspect`, `docker ps` and `docker events` show, as
// dockerd shows it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ckptdFixture, IMG, sleep, until } from '../helpers/fixture.js';

const NS = 'ckptd-rs';

interface Inspect {
  Id: string;
  RestartCount: number;
  State: {
    Status: string;
    Running: boolean;
    Restarting: boolean;
    Pid: number;
    ExitCode: number;
    Error: string;
    StartedAt: string;
  };
  HostConfig: { RestartPolicy: { Name: string; MaximumRetryCount: number }; AutoRemove: boolean };
}

describe('restart policies and failed starts through ckptd', () => {
  const f = ckptdFixture({ ns: NS, dockerTimeout: 60_000 });
  const { docker, fails: dockerFails, api } = f;
  const inspect = (ref: string) => f.inspect<Inspect>(ref);

  test('on-failure:2 with exit 3 restarts exactly twice (RestartCount 2), then stays exited; events die/start', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = (
      await docker('run', '-d', '--name', 'of2', '--restart', 'on-failure:2', IMG, 'sh', '-c', 'exit 3')
    ).trim();
    await until('of2 exited for good', async () => {
      const c = await inspect('of2');
      return c.State.Status === 'exited' && c.RestartCount === 2;
    });
    await sleep(1500); // a third restart would come after 400 ms
    const c = await inspect('of2');
    assert.equal(c.State.Status, 'exited');
    assert.equal(c.RestartCount, 2);
    assert.equal(c.State.ExitCode, 3);
    assert.deepEqual(c.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
    const persisted = JSON.parse(
      await readFile(join(f.dataRoot, 'containers', id, 'state.json'), 'utf8'),
    ) as {
      RestartCount: number;
    };
    assert.equal(persisted.RestartCount, 2);
    const events = await docker(
      'events',
      '--since',
      String(since),
      '--until',
      String(Math.ceil(Date.now() / 1000)),
      '--filter',
      `container=${id}`,
      '--format',
      '{{.Action}}',
    );
    assert.deepEqual(
      events
        .trim()
        .split('\n')
        .filter((a) => a === 'start' || a === 'die'),
      ['start', 'die', 'start', 'die', 'start', 'die'],
    );
    await docker('rm', 'of2');
  });

  test('on-failure does not restart after exit 0', async () => {
    await docker('run', '-d', '--name', 'of0', '--restart', 'on-failure', IMG, 'true');
    await until('of0 exited', async () => (await inspect('of0')).State.Status === 'exited');
    await sleep(500);
    const c = await inspect('of0');
    assert.equal(c.State.Status, 'exited');
    assert.equal(c.RestartCount, 0);
    await docker('rm', 'of0');
  });

  test('always restarts after exit 0 until docker stop; stop cancels the policy until the next start', async () => {
    await docker('run', '-d', '--name', 'al', '--restart', 'always', IMG, 'sh', '-c', 'echo run; sleep 0.3');
    await until('al restarted twice', async () => (await inspect('al')).RestartCount >= 2);
    // caught between two runs: inspect and ps show it restarting (as dockerd: Running, no Pid)
    let restarting: Inspect | undefined;
    await until('al seen restarting in inspect and ps', async () => {
      const c = await inspect('al');
      if (c.State.Status !== 'restarting') return false;
      const ps = await docker('ps', '--filter', 'name=al', '--format', '{{.Status}}');
      if (!/^Restarting \(0\) /.test(ps)) return false;
      restarting = c;
      return true;
    });
    const seen = restarting as Inspect | undefined; // assigned in the callback
    assert.ok(seen);
    assert.equal(seen.State.Running, true);
    assert.equal(seen.State.Restarting, true);
    assert.equal(seen.State.Pid, 0);
    await docker('stop', '-t', '1', 'al');
    const stopped = await inspect('al');
    assert.equal(stopped.State.Status, 'exited');
    const count = stopped.RestartCount;
    await sleep(2000);
    const later = await inspect('al');
    assert.equal(later.State.Status, 'exited', 'no restart after docker stop');
    assert.equal(later.RestartCount, count);
    // a start by the user begins a new policy run: RestartCount from 0, restarts again
    await docker('start', 'al');
    await until('al restarting again after start', async () => (await inspect('al')).RestartCount >= 1);
    await docker('rm', '-f', 'al');
  });

  test('docker kill cancels the policy; docker rm -f removes a restarting container', async () => {
    await docker('run', '-d', '--name', 'ki', '--restart', 'always', IMG, 'sleep', '1000');
    await docker('kill', 'ki');
    await sleep(1000);
    assert.equal((await inspect('ki')).State.Status, 'exited', 'no restart after docker kill');
    await docker('rm', 'ki');

    // a container that keeps failing waits longer and longer: catch it restarting
    await docker('run', '-d', '--name', 'rr', '--restart', 'always', IMG, 'false');
    // from the 6th restart on the wait is 3.2 s or more: time enough to catch it restarting
    await until(
      'rr restarting a 6th time',
      async () => {
        const c = await inspect('rr');
        return c.State.Status === 'restarting' && c.RestartCount >= 6;
      },
      30_000,
    );
    assert.match(
      await dockerFails('rm', 'rr'),
      /You cannot remove a restarting container [0-9a-f]{64}\. Stop the container before attempting removal or force remove/,
    );
    await docker('rm', '-f', 'rr');
    assert.match(await dockerFails('inspect', '--type', 'container', 'rr'), /No such container: rr/);
  });

  test('a checkpoint that stops an always container ends its policy: it stays exited and restores from the checkpoint', async () => {
    await docker('run', '-d', '--name', 'ck', '--restart', 'always', IMG, 'sh', '-c', 'sleep 1000');
    await docker('checkpoint', 'create', 'ck', 'cp1');
    await sleep(1000);
    assert.equal((await inspect('ck')).State.Status, 'exited', 'not restarted after the checkpoint');
    await docker('start', '--checkpoint', 'cp1', 'ck');
    assert.equal((await inspect('ck')).State.Status, 'running');
    await docker('rm', '-f', 'ck');
  });

  test('AutoRemove with a restart policy and bad policies are 400s with dockerd words', async () => {
    const create = (HostConfig: unknown) => api('POST', '/containers/create', { Image: IMG, HostConfig });
    let r = await create({ AutoRemove: true, RestartPolicy: { Name: 'always' } });
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body), {
      message: "can't create 'AutoRemove' container with restart policy",
    });
    r = await create({ RestartPolicy: { Name: 'always', MaximumRetryCount: 3 } });
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body), {
      message: "invalid restart policy: maximum retry count can only be used with 'on-failure'",
    });
    r = await create({ RestartPolicy: { Name: 'sometimes' } });
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).message, /^invalid restart policy: unknown policy 'sometimes'/);
  });

  test('docker run --rm nosuchcmd exits 127 at once with dockerd message; the container is gone', async () => {
    const before = (await docker('ps', '-aq')).trim();
    const t0 = Date.now();
    const r = await f.run(['run', '--rm', IMG, 'nosuchcmd'], { timeout: 30_000 });
    assert.equal(r.code, 127, r.stderr);
    assert.ok(Date.now() - t0 < 10_000, 'within seconds');
    assert.match(
      r.stderr,
      /Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: .*exec: "nosuchcmd": executable file not found in \$PATH/,
    );
    assert.doesNotMatch(r.stderr, /containerd Tasks\.Create/);
    assert.equal((await docker('ps', '-aq')).trim(), before, 'the AutoRemove container is removed');
  });

  test('docker run --rm of a directory exits 126; -w naming a file exits 125 with dockerd words', async () => {
    const before = (await docker('ps', '-aq')).trim();
    const run = (...args: string[]) => f.run(['run', '--rm', ...args], { timeout: 30_000 });
    let r = await run(IMG, '/etc');
    assert.equal(r.code, 126, r.stderr);
    assert.match(r.stderr, /exec: "\/etc": (permission denied|is a directory)/);
    r = await run('-w', '/etc/passwd', IMG, 'pwd');
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /Error response from daemon: Cannot mkdir: \/etc\/passwd is not a directory/);
    assert.equal((await docker('ps', '-aq')).trim(), before);
  });

  test('a failed start without --rm records dockerd exit code and error; the container stays created', async () => {
    const id = (await docker('create', '--name', 'fs', IMG, 'nosuchcmd')).trim();
    const r = await api('POST', `/containers/${id}/start`);
    assert.equal(r.status, 400);
    const msg = JSON.parse(r.body).message as string;
    assert.match(msg, /^failed to create task for container: .*executable file not found in \$PATH/);
    const c = await inspect('fs');
    assert.equal(c.State.Status, 'created');
    assert.equal(c.State.ExitCode, 127);
    assert.equal(c.State.Error, msg);
    await docker('rm', 'fs');
  });

  test('after a ckptd restart, always and unless-stopped containers run again; a stopped unless-stopped one does not', async () => {
    await docker('run', '-d', '--name', 'ra', '--restart', 'always', IMG, 'sleep', '1000');
    await docker('run', '-d', '--name', 'ru', '--restart', 'unless-stopped', IMG, 'sleep', '1000');
    await docker('run', '-d', '--name', 'rs', '--restart', 'unless-stopped', IMG, 'sleep', '1000');
    await docker('run', '-d', '--name', 'rn', IMG, 'sleep', '1000');
    await docker('stop', '-t', '0', 'rs');
    const pids = {
      ra: (await inspect('ra')).State.Pid,
      ru: (await inspect('ru')).State.Pid,
      rn: (await inspect('rn')).State.Pid,
    };
    await f.restart({
      signal: 'SIGTERM',
      down: async () => {
        // their tasks die while ckptd is down
        for (const pid of Object.values(pids)) process.kill(pid, 'SIGKILL');
        await sleep(500);
      },
    });
    for (const name of ['ra', 'ru']) {
      await until(`${name} running again`, async () => (await inspect(name)).State.Status === 'running');
      const c = await inspect(name);
      assert.notEqual(c.State.Pid, pids[name as 'ra' | 'ru']);
      assert.equal(c.RestartCount, 0, 'a start at daemon start is a fresh start, as dockerd');
      const comm = await readFile(`/proc/${c.State.Pid}/cmdline`, 'utf8');
      assert.deepEqual(comm.split('\0').slice(0, 2), ['sleep', '1000']);
    }
    await sleep(500);
    assert.equal(
      (await inspect('rs')).State.Status,
      'exited',
      'manually stopped unless-stopped stays stopped',
    );
    const rn = await inspect('rn');
    assert.equal(rn.State.Status, 'exited', 'no policy: stays exited');
    assert.equal(rn.State.ExitCode, 137);
    await docker('rm', '-f', 'ra', 'ru', 'rs', 'rn');
  });
});
