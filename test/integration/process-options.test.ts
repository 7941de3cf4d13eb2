// Issue 11, namespaces and process options, against a real containerd and runc, driven by the
// docker CLI and raw HTTP: every option is read back from inside the container (cmdline, id -G,
// resolv.conf, mountinfo, namespace links, hostname), and refused values are 400s naming the field.
import assert from 'node:assert/strict';
import { mkdir, readlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ckptdFixture, IMG } from '../helpers/fixture.js';

const NS = 'ckptd-proc';
const GROUP = 'root:x:0:\nnogroup:x:65534:\nuser1:x:1000:\nstaff:x:50:\n';

describe('namespace and process options through ckptd', () => {
  const f = ckptdFixture({
    ns: NS,
    images: [{ name: IMG, extraLayers: [[{ path: 'etc/group', content: GROUP }]] }],
    dockerTimeout: 60_000,
  });
  const { docker, fails: dockerFails, api } = f;
  const run = (...args: string[]) => docker('run', '--rm', ...args);
  /** create400 posts a create and expects a 400 whose message matches. */
  const create400 = async (body: Record<string, unknown>, re: RegExp) => {
    const r = await api('POST', '/containers/create', { Image: IMG, Cmd: ['true'], ...body });
    assert.equal(r.status, 400, r.body);
    assert.match((JSON.parse(r.body) as { message: string }).message, re);
  };
  const inspect = (ref: string) =>
    f.inspect<{
      Path: string;
      Args: string[];
      HostConfig: Record<string, unknown>;
      Mounts: Record<string, unknown>[];
    }>(ref);

  test('--init runs the command under /sbin/docker-init (tini); inspect keeps the user command and Init', async () => {
    const cmdline = await run('--init', IMG, 'cat', '/proc/1/cmdline');
    assert.deepEqual(cmdline.split('\0').filter(Boolean), [
      '/sbin/docker-init',
      '--',
      'cat',
      '/proc/1/cmdline',
    ]);
    // tini reaps and forwards: the command is its child, not pid 1
    assert.match(await run('--init', IMG, 'sh', '-c', 'echo $$'), /^[2-9]\d*\n$/);
    await docker('create', '--init', '--name', 'init1', IMG, 'sleep', '5');
    const c = await inspect('init1');
    assert.equal(c.HostConfig.Init, true);
    assert.equal(c.Path, 'sleep');
    assert.deepEqual(c.Args, ['5']);
    await docker('rm', 'init1');
  });

  test('--group-add resolves names in the image /etc/group and keeps numbers; id -G shows them', async () => {
    assert.equal(
      (await run('--group-add', 'staff', '--group-add', '4242', IMG, 'id', '-G')).trim(),
      '0 50 4242',
    );
    await create400(
      { HostConfig: { GroupAdd: ['nosuch'] } },
      /^HostConfig\.GroupAdd: Unable to find group nosuch/,
    );
  });

  test('--dns, --dns-search and --dns-option are written into the container resolv.conf', async () => {
    const conf = await run(
      '--dns',
      '9.9.9.9',
      '--dns',
      '2001:db8::53',
      '--dns-search',
      'example.com',
      '--dns-option',
      'ndots:2',
      IMG,
      'cat',
      '/etc/resolv.conf',
    );
    assert.equal(conf, 'search example.com\nnameserver 9.9.9.9\nnameserver 2001:db8::53\noptions ndots:2\n');
    await create400({ HostConfig: { Dns: ['1.2.3'] } }, /^HostConfig\.Dns: 1\.2\.3 is not an ip address$/);
  });

  test('--mount type=bind,readonly binds the host dir read-only; inspect Mounts shows it as dockerd', async () => {
    const src = join(f.work, 'bindsrc');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'f'), 'hello\n');
    const out = await run(
      '--mount',
      `type=bind,src=${src},dst=/data,readonly`,
      IMG,
      'sh',
      '-c',
      'cat /data/f; touch /data/x 2>&1; grep " /data " /proc/self/mountinfo',
    );
    assert.match(out, /^hello\n/);
    assert.match(out, /Read-only file system/);
    assert.match(out, / \/data ro[, ]/);
    await docker('create', '--name', 'm1', '--mount', `type=bind,src=${src},dst=/data,readonly`, IMG, 'true');
    assert.deepEqual((await inspect('m1')).Mounts, [
      { Type: 'bind', Source: src, Destination: '/data', Mode: '', RW: false, Propagation: 'rprivate' },
    ]);
    await docker('rm', 'm1');
  });

  test('--mount type=tmpfs applies tmpfs-size and tmpfs-mode', async () => {
    const out = await run(
      '--mount',
      'type=tmpfs,dst=/scratch,tmpfs-size=1m,tmpfs-mode=1770',
      IMG,
      'sh',
      '-c',
      'stat -c %a /scratch; grep " /scratch " /proc/self/mountinfo',
    );
    assert.match(out, /^1770\n/);
    assert.match(out, / - tmpfs tmpfs rw,size=1024k,mode=1770/);
  });

  test('--mount refusals: missing bind source, volumes, conflicts with Binds (400 naming the cause)', async () => {
    assert.match(
      await dockerFails('create', '--mount', 'type=bind,src=/nonexistent-ckptd,dst=/d', IMG),
      /invalid mount config for type "bind": bind source path does not exist: \/nonexistent-ckptd/,
    );
    // volumes are supported (issue 12, test/integration/volumes.test.ts); a subpath is not
    assert.match(
      await dockerFails('create', '--mount', 'type=volume,src=v1,dst=/d,volume-subpath=s', IMG),
      /HostConfig\.Mounts: VolumeOptions\.Subpath \(volume-subpath\) is not supported by ckptd/,
    );
    await create400(
      { HostConfig: { Binds: [`${f.work}:/d`], Mounts: [{ Type: 'bind', Source: f.work, Target: '/d' }] } },
      /Duplicate mount point: \/d/,
    );
    await create400(
      { HostConfig: { Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { Options: [['suid']] } }] } },
      /invalid option: suid/,
    );
  });

  test('IpcMode: private by default; --ipc container:x joins a shareable donor (same ipc ns, same /dev/shm)', async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'donor',
      '--ipc',
      'shareable',
      IMG,
      'sh',
      '-c',
      'echo hi >/dev/shm/x; sleep 100',
    );
    await docker('run', '-d', '--name', 'priv', IMG, 'sleep', '100');
    try {
      assert.equal((await inspect('priv')).HostConfig.IpcMode, 'private');
      assert.equal((await inspect('donor')).HostConfig.IpcMode, 'shareable');
      const donorNs = (await docker('exec', 'donor', 'readlink', '/proc/self/ns/ipc')).trim();
      const privNs = (await docker('exec', 'priv', 'readlink', '/proc/self/ns/ipc')).trim();
      assert.notEqual(donorNs, privNs);
      const joined = await run(
        '--ipc',
        'container:donor',
        IMG,
        'sh',
        '-c',
        'readlink /proc/self/ns/ipc; cat /dev/shm/x',
      );
      assert.equal(joined, `${donorNs}\nhi\n`);
      assert.match(
        await dockerFails('run', '--rm', '--ipc', 'container:priv', IMG, 'true'),
        /can't join IPC of container [0-9a-f]{64}: non-shareable IPC/,
      );
      await docker('stop', '-t', '0', 'donor');
      assert.match(
        await dockerFails('run', '--rm', '--ipc', 'container:donor', IMG, 'true'),
        /can't join IPC of container [0-9a-f]{64}: container [0-9a-f]{64} is not running/,
      );
    } finally {
      await docker('rm', '-f', 'donor', 'priv');
    }
  });

  test('IpcMode host shares the host ipc namespace; none has no /dev/shm', async () => {
    const hostIpc = await readlink('/proc/self/ns/ipc');
    assert.equal((await run('--ipc', 'host', IMG, 'readlink', '/proc/self/ns/ipc')).trim(), hostIpc);
    assert.notEqual((await run(IMG, 'readlink', '/proc/self/ns/ipc')).trim(), hostIpc);
    const none = await run(
      '--ipc',
      'none',
      IMG,
      'sh',
      '-c',
      'grep -c " /dev/shm " /proc/self/mountinfo || true',
    );
    assert.equal(none.trim(), '0');
    await create400({ HostConfig: { IpcMode: 'bogus' } }, /^HostConfig\.IpcMode: invalid IPC mode: bogus$/);
  });

  test("PidMode host shares the host pid namespace; container:x sees the other container's processes", async () => {
    const hostPid = await readlink('/proc/self/ns/pid');
    assert.equal((await run('--pid', 'host', IMG, 'readlink', '/proc/self/ns/pid')).trim(), hostPid);
    await docker('run', '-d', '--name', 'pidtarget', IMG, 'sleep', '321');
    try {
      const ps = await run('--pid', 'container:pidtarget', IMG, 'ps', '-o', 'pid,args');
      assert.match(ps, /^\s*1 sleep 321$/m);
      // the name is recorded as the ID (moby adaptSharedNamespaceContainer), so a rename keeps the link
      await docker('create', '--name', 'pidjoiner', '--pid', 'container:pidtarget', IMG, 'true');
      const target = (await docker('inspect', '-f', '{{.Id}}', 'pidtarget')).trim();
      assert.equal((await inspect('pidjoiner')).HostConfig.PidMode, `container:${target}`);
      await docker('rm', 'pidjoiner');
    } finally {
      await docker('rm', '-f', 'pidtarget');
    }
    assert.match(
      await dockerFails('run', '--rm', '--pid', 'container:nosuch', IMG, 'true'),
      /cannot join PID of a non running container: nosuch: No such container: nosuch/,
    );
    await create400({ HostConfig: { PidMode: 'bogus' } }, /^HostConfig\.PidMode: invalid PID mode: bogus$/);
  });

  test('UTSMode host shows the host hostname; a hostname with it is refused (dockerd wording)', async () => {
    assert.equal((await run('--uts', 'host', IMG, 'hostname')).trim(), hostname());
    await create400(
      { Hostname: 'x', HostConfig: { UTSMode: 'host' } },
      /conflicting options: hostname and the UTS mode/,
    );
  });

  test('CgroupnsMode private gives the container its own cgroup namespace; inspect records the mode in force', async () => {
    const hostCg = await readlink('/proc/self/ns/cgroup');
    assert.notEqual(
      (await run('--cgroupns', 'private', IMG, 'readlink', '/proc/self/ns/cgroup')).trim(),
      hostCg,
    );
    assert.equal((await run('--cgroupns', 'host', IMG, 'readlink', '/proc/self/ns/cgroup')).trim(), hostCg);
    await docker('create', '--name', 'cg', IMG, 'true');
    assert.match(String((await inspect('cg')).HostConfig.CgroupnsMode), /^(private|host)$/);
    await docker('rm', 'cg');
  });

  test('Sysctls: namespaced ones apply; kernel.core_pattern and net.* with the host network are 400 at create', async () => {
    assert.equal(
      (await run('--sysctl', 'kernel.shmmax=123456', IMG, 'cat', '/proc/sys/kernel/shmmax')).trim(),
      '123456',
    );
    await create400(
      { HostConfig: { Sysctls: { 'kernel.core_pattern': '|/x' } } },
      /^HostConfig\.Sysctls: sysctl "kernel\.core_pattern" is not in a separate kernel namespace$/,
    );
    await create400(
      { HostConfig: { NetworkMode: 'host', Sysctls: { 'net.ipv4.ip_forward': '1' } } },
      /not allowed in host network namespace/,
    );
  });

  test('ShmSize negative and an unknown StopSignal are 400 at create', async () => {
    await create400(
      { HostConfig: { ShmSize: -1 } },
      /^HostConfig\.ShmSize: SHM size can not be less than 0$/,
    );
    await create400({ StopSignal: 'SIGNOPE' }, /^Invalid signal: SIGNOPE$/);
  });

  test('stop with t=3000000 waits instead of killing at once; rm -f still kills at once', async () => {
    await docker('run', '-d', '--name', 'longstop', IMG, 'sleep', '1000');
    const stopping = api('POST', '/containers/longstop/stop?t=3000000');
    stopping.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await docker('inspect', '-f', '{{.State.Status}}', 'longstop')).trim(), 'running');
    await docker('rm', '-f', 'longstop');
    assert.equal((await stopping).status, 204);
  });
});
