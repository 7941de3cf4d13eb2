// The container lifecycle against the real daemon, a real containerd and runc, driven by the
// docker CLI, docker-py and raw HTTP. The image is imported with ctr (the image routes are
// another part of issue 3), so this file does not depend on POST /images/load.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ckptdFixture, IMG, sleep, until } from '../helpers/fixture.js';

const NS = 'ckptd-ct';

interface Inspect {
  Id: string;
  Name: string;
  Image: string;
  State: {
    Status: string;
    Running: boolean;
    Paused: boolean;
    Pid: number;
    ExitCode: number;
    StartedAt: string;
    FinishedAt: string;
  };
  Config: { Image: string; Cmd: string[]; Labels: Record<string, string>; Hostname: string };
  HostConfig: { NetworkMode: string; AutoRemove: boolean };
}

describe('container lifecycle through ckptd', () => {
  const f = ckptdFixture({ ns: NS, dockerTimeout: 60_000 });
  const { docker, fails: dockerFails, api } = f;
  const inspect = (ref: string) => f.inspect<Inspect>(ref);
  const python = (code: string) => f.python(code, 60_000);

  test('docker run -d --network none --name tt starts a container; docker ps lists it; inspect shows the real Pid', async () => {
    const id = (await docker('run', '-d', '--network', 'none', '--name', 'tt', IMG, 'sleep', '1000')).trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    const ps = await docker('ps', '--format', '{{.ID}} {{.Names}} {{.Status}} {{.Command}}');
    assert.match(ps, new RegExp(`^${id.slice(0, 12)} tt Up .* "sleep 1000"`, 'm'));
    const c = await inspect('tt');
    assert.equal(c.Id, id);
    assert.equal(c.Name, '/tt');
    assert.equal(c.State.Status, 'running');
    assert.ok(c.State.Pid > 0);
    const comm = await readFile(`/proc/${c.State.Pid}/cmdline`, 'utf8');
    assert.deepEqual(comm.split('\0').slice(0, 2), ['sleep', '1000']);
    assert.match(c.Image, /^sha256:[a-f0-9]{64}$/);
    await docker('stop', '-t', '1', 'tt');
    assert.equal((await inspect('tt')).State.Status, 'exited');
    await docker('rm', 'tt');
    assert.match(await dockerFails('inspect', '--type', 'container', 'tt'), /No such container: tt/);
  });

  test('docker run without --network runs with network mode none', async () => {
    await docker('run', '-d', '--name', 'defnet', IMG, 'sleep', '1000');
    const c = await inspect('defnet');
    assert.equal(c.HostConfig.NetworkMode, 'none');
    await docker('rm', '-f', 'defnet');
  });

  test('wait reports the exit code of sh -c "exit 3"; ps -a shows Exited (3)', async () => {
    await docker('create', '--name', 'ex3', IMG, 'sh', '-c', 'exit 3');
    await docker('start', 'ex3');
    assert.equal((await docker('wait', 'ex3')).trim(), '3');
    const c = await inspect('ex3');
    assert.equal(c.State.Status, 'exited');
    assert.equal(c.State.ExitCode, 3);
    assert.notEqual(c.State.FinishedAt, '0001-01-01T00:00:00Z');
    assert.match(
      await docker('ps', '-a', '--filter', 'name=ex3', '--format', '{{.Status}}'),
      /^Exited \(3\) /,
    );
    assert.equal(
      await docker('ps', '-a', '-q', '--filter', 'exited=3', '--filter', 'name=ex3'),
      `${c.Id.slice(0, 12)}\n`,
    );
    await docker('rm', 'ex3');
  });

  test('wait next-exit registered before start (as docker run does) answers with the exit code', async () => {
    const created = await api('POST', '/containers/create?name=wn', {
      Image: IMG,
      Cmd: ['sh', '-c', 'exit 7'],
    });
    assert.equal(created.status, 201);
    const waited = api('POST', '/containers/wn/wait?condition=next-exit');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await api('POST', '/containers/wn/start')).status, 204);
    const w = await waited;
    assert.equal(w.status, 200);
    assert.deepEqual(JSON.parse(w.body), { StatusCode: 7, Error: null });
    assert.equal((await api('DELETE', '/containers/wn')).status, 204);
  });

  test('docker run (attached, no -d) returns the container exit code', async () => {
    try {
      await docker('run', '--network', 'none', '--name', 'att', IMG, 'sh', '-c', 'exit 5');
      assert.fail('expected exit 5');
    } catch (err) {
      assert.equal((err as { code?: number }).code, 5);
    }
    await docker('rm', 'att');
    assert.equal(await docker('run', '--rm', '--network', 'none', IMG, 'echo', 'hi'), 'hi\n');
  });

  test('kill, restart, pause and unpause', async () => {
    await docker('run', '-d', '--name', 'kk', IMG, 'sleep', '1000');
    const pid1 = (await inspect('kk')).State.Pid;
    await docker('pause', 'kk');
    let c = await inspect('kk');
    assert.equal(c.State.Status, 'paused');
    assert.equal(c.State.Paused, true);
    assert.match(await docker('ps', '--filter', 'name=kk', '--format', '{{.Status}}'), /\(Paused\)/);
    const again = await api('POST', '/containers/kk/pause');
    assert.equal(again.status, 409);
    await docker('unpause', 'kk');
    assert.equal((await api('POST', '/containers/kk/unpause')).status, 409);
    await docker('restart', '-t', '1', 'kk');
    c = await inspect('kk');
    assert.equal(c.State.Status, 'running');
    assert.notEqual(c.State.Pid, pid1);
    await docker('kill', 'kk');
    c = await inspect('kk');
    assert.equal(c.State.Status, 'exited');
    assert.equal(c.State.ExitCode, 137);
    const k2 = await api('POST', '/containers/kk/kill');
    assert.equal(k2.status, 409);
    assert.deepEqual(JSON.parse(k2.body), {
      message: `Cannot kill container: kk: Container ${c.Id} is not running`,
    });
    assert.equal((await api('POST', '/containers/kk/stop')).status, 304);
    await docker('rm', 'kk');
  });

  test('stop honours --signal and the timeout; start of a running container is 304', async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'ss',
      IMG,
      'sh',
      '-c',
      'trap "exit 42" USR1; touch /tmp/trapped; while true; do sleep 0.1; done',
    );
    try {
      assert.equal((await api('POST', '/containers/ss/start')).status, 304);
      // pid 1 ignores a signal it has no handler for yet: wait for the trap before stopping
      await until('the trap to be installed', () =>
        docker('exec', 'ss', 'test', '-e', '/tmp/trapped').then(() => true),
      );
      await docker('stop', '--signal', 'USR1', '-t', '5', 'ss');
      assert.equal((await inspect('ss')).State.ExitCode, 42);
    } finally {
      await docker('rm', '-f', 'ss').catch(() => '');
    }
  });

  test('errors: 404 no such container, 409 name taken, 409 rm running, 400 bad name and network', async () => {
    let r = await api('GET', '/containers/nope/json');
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { message: 'No such container: nope' });
    r = await api('POST', '/containers/create?name=dup', { Image: IMG, Cmd: ['sleep', '1000'] });
    assert.equal(r.status, 201);
    const id = (JSON.parse(r.body) as { Id: string }).Id;
    r = await api('POST', '/containers/create?name=dup', { Image: IMG });
    assert.equal(r.status, 409);
    assert.equal(
      (JSON.parse(r.body) as { message: string }).message,
      `Conflict. The container name "/dup" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
    assert.equal((await api('POST', '/containers/dup/start')).status, 204);
    r = await api('DELETE', '/containers/dup');
    assert.equal(r.status, 409);
    assert.deepEqual(JSON.parse(r.body), {
      message: `You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`,
    });
    assert.equal((await api('DELETE', '/containers/dup?force=1')).status, 204);
    r = await api('POST', '/containers/create?name=bad%20name', { Image: IMG });
    assert.equal(r.status, 400);
    assert.match((JSON.parse(r.body) as { message: string }).message, /^Invalid container name \(bad name\)/);
    r = await api('POST', '/containers/create', { Image: IMG, HostConfig: { NetworkMode: 'bridge' } });
    assert.equal(r.status, 400);
    assert.match(
      (JSON.parse(r.body) as { message: string }).message,
      /supports only NetworkMode "none" and "host"/,
    );
    r = await api('POST', '/containers/create', { Image: 'nosuch:image' });
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { message: 'No such image: nosuch:image' });
    r = await api('POST', '/containers/x/wait?condition=bogus');
    assert.equal(r.status, 400);
    const list = JSON.parse((await api('GET', '/containers/json?all=1')).body) as unknown[];
    assert.equal(list.length, 0, 'failed creates left nothing behind');
  });

  test('lookup by unique ID prefix and by /name', async () => {
    const id = (await docker('create', '--name', 'pfx', IMG, 'true')).trim();
    assert.equal((await inspect(id.slice(0, 6))).Name, '/pfx');
    const r = await api('GET', '/containers/%2Fpfx/json');
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { Id: string }).Id, id);
    assert.equal(
      (await docker('ps', '-a', '--filter', 'status=created', '--format', '{{.Names}} {{.Status}}')).trim(),
      'pfx Created',
    );
    await docker('rm', 'pfx');
  });

  test('AutoRemove removes the container after exit and wait condition=removed resolves', async () => {
    const r = await api('POST', '/containers/create?name=ar', {
      Image: IMG,
      Cmd: ['sh', '-c', 'exit 2'],
      HostConfig: { AutoRemove: true },
    });
    assert.equal(r.status, 201);
    const waited = api('POST', '/containers/ar/wait?condition=removed');
    await new Promise((res) => setTimeout(res, 200));
    assert.equal((await api('POST', '/containers/ar/start')).status, 204);
    assert.deepEqual(JSON.parse((await waited).body), { StatusCode: 2, Error: null });
    assert.equal((await api('GET', '/containers/ar/json')).status, 404);
    await docker('run', '--rm', '--network', 'none', IMG, 'true');
    assert.equal((await docker('ps', '-aq')).trim(), '');
  });

  test('binds: a missing host source is created; :ro is read-only', async () => {
    const src = join(f.work, 'bind-src');
    await docker('run', '--name', 'bb', '-v', `${src}:/data`, IMG, 'sh', '-c', 'echo hi > /data/f');
    assert.equal(await readFile(join(src, 'f'), 'utf8'), 'hi\n');
    const c = JSON.parse(await docker('inspect', 'bb')) as {
      Mounts: { Source: string; Destination: string; RW: boolean }[];
    }[];
    assert.deepEqual(
      c[0]?.Mounts.map((m) => [m.Source, m.Destination, m.RW]),
      [[src, '/data', true]],
    );
    await docker('rm', 'bb');
    await assert.rejects(docker('run', '--rm', '-v', `${src}:/data:ro`, IMG, 'sh', '-c', 'echo x > /data/g'));
    await assert.rejects(stat(join(src, 'g')));
    // an existing host file is bound as a file (it used to fail: EEXIST from a mkdir)
    const file = join(f.work, 'bind-file');
    await writeFile(file, 'from the host\n');
    assert.equal(
      await docker('run', '--rm', '-v', `${file}:/etc/motd:ro`, IMG, 'cat', '/etc/motd'),
      'from the host\n',
    );
  });

  test('docker rename and docker top; --tmpfs and --add-host reach the container', async () => {
    await docker('run', '-d', '--name', 'rn1', IMG, 'sh', '-c', 'sleep 1000 & sleep 2000');
    await docker('rename', 'rn1', 'rn2');
    assert.equal((await docker('inspect', '-f', '{{.Name}}', 'rn2')).trim(), '/rn2');
    assert.match(await dockerFails('inspect', 'rn1'), /No such/);
    await docker('run', '-d', '--name', 'rn3', IMG, 'sleep', '3000');
    assert.match(await dockerFails('rename', 'rn2', 'rn3'), /already in use/);
    assert.match(await dockerFails('rename', 'rn2', 'rn2'), /same name/);
    const top = await docker('top', 'rn2');
    assert.match(top.split('\n')[0] ?? '', /^UID\s+PID\s+PPID/);
    assert.match(top, /sleep 1000\n/);
    assert.match(top, /sleep 2000\n/);
    assert.doesNotMatch(top, /sleep 3000/); // another container's processes are not listed
    assert.match(await dockerFails('top', 'rn2', '-q'), /not supported/);
    await docker('rm', '-f', 'rn2', 'rn3');
    assert.match(await dockerFails('top', 'rn2'), /No such container/);

    const out = await docker(
      'run',
      '--rm',
      '--read-only',
      '--tmpfs',
      '/scratch',
      '--tmpfs',
      '/small:size=1m,mode=700',
      '--add-host',
      'db.local:10.1.2.3',
      IMG,
      'sh',
      '-c',
      'touch /scratch/f && grep -E " /(scratch|small) " /proc/mounts; grep db.local /etc/hosts',
    );
    assert.match(out, /^tmpfs \/scratch tmpfs rw,nosuid,nodev,noexec/m);
    assert.match(out, /^tmpfs \/small tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=700/m);
    assert.match(out, /^10\.1\.2\.3\tdb\.local$/m);
    assert.match(
      await dockerFails('run', '--rm', '--tmpfs', '/x:bogus', IMG, 'true'),
      /invalid tmpfs option/,
    );
  });

  test('docker container prune removes stopped containers (label! filter honoured); image prune the dangling images', async () => {
    await docker('run', '--name', 'pr1', IMG, 'true');
    await docker('run', '--name', 'pr2', '--label', 'keep=1', IMG, 'true');
    await docker('run', '-d', '--name', 'pr3', IMG, 'sleep', '1000');
    const pr1 = (await docker('inspect', '-f', '{{.Id}}', 'pr1')).trim();
    const out = await docker('container', 'prune', '-f', '--filter', 'label!=keep');
    assert.match(out, new RegExp(`Deleted Containers:\\n${pr1}\\n`));
    const left = await docker('ps', '-a', '--format', '{{.Names}}');
    assert.doesNotMatch(left, /^pr1$/m);
    assert.match(left, /^pr2$/m);
    assert.match(left, /^pr3$/m);
    // a name moved to a new image leaves the old one dangling; prune deletes it, not IMG
    await docker('commit', 'pr2', 'ckptd-test/pruned:1');
    const old = (await docker('image', 'inspect', '-f', '{{.Id}}', 'ckptd-test/pruned:1')).trim();
    await docker('commit', '-c', 'ENV X=2', 'pr2', 'ckptd-test/pruned:1');
    const pruned = await docker('image', 'prune', '-f');
    assert.match(pruned, new RegExp(`deleted: ${old}`));
    assert.match(await dockerFails('image', 'inspect', old), /No such image/);
    await docker('image', 'inspect', IMG);
    await docker('rm', '-f', 'pr2', 'pr3');
    await docker('rmi', 'ckptd-test/pruned:1');
  });

  test('docker stats --no-stream shows a busy container cpu and memory; a stopped one has empty stats', async () => {
    await docker('run', '-d', '--name', 'busy', IMG, 'sh', '-c', 'while true; do :; done');
    try {
      const out = await docker(
        'stats',
        '--no-stream',
        '--format',
        '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}',
        'busy',
      );
      const m = /^busy ([\d.]+)% ([\d.]+)(KiB|MiB) \/ [\d.]+GiB 1$/.exec(out.trim());
      assert.ok(m, out);
      // a busy loop's share depends on what else the machine runs (CI shares its 2 cores): it must
      // be measured, not near zero as a stopped or mis-sampled container's
      assert.ok(Number(m[1]) > 1, `cpu ${m[1]}%`);
      const res = await api('GET', '/containers/busy/stats?stream=false&one-shot=true');
      const one = JSON.parse(res.body) as { id: string; cpu_stats: { cpu_usage: { total_usage: number } } };
      assert.ok(one.cpu_stats.cpu_usage.total_usage > 0);
      await docker('stop', '-t', '0', 'busy');
      const stopped = JSON.parse((await api('GET', '/containers/busy/stats?stream=false')).body) as {
        read: string;
      };
      assert.equal(stopped.read, '0001-01-01T00:00:00Z');
    } finally {
      await docker('rm', '-f', 'busy').catch(() => '');
    }
  });

  test('docker-py: create, start, wait, inspect, list, stop, remove', async () => {
    const out = await python(`
import docker, os
c = docker.DockerClient(base_url=os.environ['CKPTD_SOCK'])
x = c.containers.run(${JSON.stringify(IMG)}, ['sh', '-c', 'exit 4'], detach=True, name='py1', labels={'a': 'b'})
print(x.wait()['StatusCode'])
x.reload()
print(x.status, x.attrs['State']['ExitCode'], x.name, x.labels.get('a'))
print([y.name for y in c.containers.list(all=True, filters={'label': 'a=b'})])
y = c.containers.run(${JSON.stringify(IMG)}, ['sleep', '1000'], detach=True, name='py2')
y.reload()
print(y.status, y.attrs['State']['Pid'] > 0)
print([z.name for z in c.containers.list()])
y.stop(timeout=1)
y.reload()
print(y.status)
x.remove(); y.remove()
print(len(c.containers.list(all=True)))
`);
    assert.equal(
      out,
      ['4', 'exited 4 py1 b', "['py1']", 'running True', "['py2']", 'exited', '0'].join('\n'),
    );
  });

  test('containers of other containerd clients are listed and usable', async () => {
    await f.ctr('run', '-d', `docker.io/${IMG}`, 'foreign', 'sleep', '1000');
    const ps = await docker('ps', '--format', '{{.Names}} {{.State}}');
    assert.match(ps, /^foreign running$/m);
    const c = await inspect('foreign');
    assert.ok(c.State.Pid > 0);
    await docker('kill', 'foreign');
    await until('foreign exited', async () => (await inspect('foreign')).State.Status === 'exited');
    await docker('rm', 'foreign');
    assert.equal((await docker('ps', '-aq')).trim(), '');
  });

  test('after ckptd restarts, a running container keeps its Pid and one that exited meanwhile shows its code', async () => {
    await docker('run', '-d', '--name', 'keep', IMG, 'sleep', '1000');
    await docker('run', '-d', '--name', 'dies', IMG, 'sh', '-c', 'sleep 2; exit 9');
    const pid = (await inspect('keep')).State.Pid;
    // `dies` exits while ckptd is down
    await f.restart({ signal: 'SIGKILL', down: () => sleep(3000) });
    const keep = await inspect('keep');
    assert.equal(keep.State.Status, 'running');
    assert.equal(keep.State.Pid, pid);
    await until('dies recorded', async () => {
      const c = await inspect('dies');
      return c.State.Status === 'exited' && c.State.ExitCode === 9;
    });
    assert.match(
      await docker('ps', '-a', '--filter', 'name=dies', '--format', '{{.Status}}'),
      /^Exited \(9\)/,
    );
    await docker('rm', '-f', 'keep', 'dies');
  });
});
