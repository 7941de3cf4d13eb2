// HostConfig resources against the real daemon, containerd and runc (issue 11): what `docker run`
// asks for is what the kernel enforces, read back from the container's cgroup files on the
// host, from inside the container (ulimit, oom_score_adj, /dev), and through inspect; what
// cannot be applied is a 400 naming the field; `docker update` changes the live limits.
import assert from 'node:assert/strict';
import { access, readdir, readFile, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ckptdFixture, IMG } from '../helpers/fixture.js';

const NS = 'ckptd-res';
const MB = 1024 * 1024;
const PARENT = 'ckptd-res-parent';
const CGROUP_V1 = await access('/sys/fs/cgroup/cgroup.controllers').then(
  () => false,
  () => true,
);

/** cgroupFile reads a cgroup v1 file of a running container's init process, from the host. */
async function cgroupFile(pid: number, controller: string, file: string): Promise<string> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n');
  const line = lines.find((l) => l.split(':')[1]?.split(',').includes(controller));
  assert.ok(line, `no ${controller} cgroup for pid ${pid}`);
  const path = line.split(':').slice(2).join(':');
  return (await readFile(join('/sys/fs/cgroup', controller, path, file), 'utf8')).trim();
}

describe(
  'container resources through ckptd',
  { skip: !CGROUP_V1 && 'these tests read cgroup v1 files' },
  () => {
    const f = ckptdFixture({ ns: NS, dockerTimeout: 60_000 });
    const { fails: dockerFails, api } = f;
    const docker = async (...args: string[]): Promise<string> => (await f.docker(...args)).trim();
    const pidOf = async (name: string) => Number(await docker('inspect', '-f', '{{.State.Pid}}', name));
    const hostConfig = async (name: string) =>
      (
        JSON.parse(await docker('inspect', '--type', 'container', name)) as {
          HostConfig: Record<string, unknown>;
        }[]
      )[0]!.HostConfig;

    f.teardown(async () => {
      await docker('rm', '-f', 'mem', 'cpu', 'proc', 'dev', 'par', 'upd').catch(() => undefined);
    });
    // after the daemons stopped (the fixture's after() runs first)
    after(async () => {
      for (const c of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
        await rmdir(join('/sys/fs/cgroup', c, PARENT)).catch(() => undefined);
      }
    });

    test('a container run without resource options gets no limits', async () => {
      await docker('run', '-d', '--name', 'nolim', IMG, 'sleep', '1000');
      const pid = await pidOf('nolim');
      assert.equal(await cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us'), '-1');
      assert.equal(await cgroupFile(pid, 'cpu', 'cpu.shares'), '1024');
      assert.equal(await cgroupFile(pid, 'pids', 'pids.max'), 'max');
      assert.equal(
        await cgroupFile(pid, 'memory', 'memory.oom_control').then((t) => t.split('\n')[0]),
        'oom_kill_disable 0',
      );
      assert.ok(Number(await cgroupFile(pid, 'memory', 'memory.limit_in_bytes')) > 2 ** 60);
      await docker('rm', '-f', 'nolim');
    });

    test('docker run --memory 64m --memory-swap 64m: memory.limit_in_bytes and memsw are 64 MiB, inside too', async () => {
      await docker(
        'run',
        '-d',
        '--name',
        'mem',
        '--memory',
        '64m',
        '--memory-swap',
        '64m',
        IMG,
        'sleep',
        '1000',
      );
      const pid = await pidOf('mem');
      assert.equal(await cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(64 * MB));
      assert.equal(await cgroupFile(pid, 'memory', 'memory.memsw.limit_in_bytes'), String(64 * MB));
      assert.equal(
        await docker('exec', 'mem', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes'),
        String(64 * MB),
      );
      const hc = await hostConfig('mem');
      assert.equal(hc.Memory, 64 * MB);
      assert.equal(hc.MemorySwap, 64 * MB);
    });

    test('--cpus .5 --cpu-shares 512 --cpuset-cpus 0 --pids-limit 50: CFS quota, shares, cpuset and pids.max', async () => {
      await docker(
        'run',
        '-d',
        '--name',
        'cpu',
        '--cpus',
        '.5',
        '--cpu-shares',
        '512',
        '--cpuset-cpus',
        '0',
        '--pids-limit',
        '50',
        IMG,
        'sleep',
        '1000',
      );
      const pid = await pidOf('cpu');
      assert.equal(await cgroupFile(pid, 'cpu', 'cpu.cfs_period_us'), '100000');
      assert.equal(await cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us'), '50000');
      assert.equal(await cgroupFile(pid, 'cpu', 'cpu.shares'), '512');
      assert.equal(await cgroupFile(pid, 'cpuset', 'cpuset.cpus'), '0');
      assert.equal(await cgroupFile(pid, 'pids', 'pids.max'), '50');
      assert.equal(
        (await readFile(`/proc/${pid}/status`, 'utf8')).match(/^Cpus_allowed_list:\s*(\S+)/m)?.[1],
        '0',
      );
      const hc = await hostConfig('cpu');
      assert.equal(hc.NanoCpus, 500_000_000);
      assert.equal(hc.PidsLimit, 50);
    });

    test('--ulimit nofile=100:100 and --oom-score-adj 500 are what the process gets', async () => {
      const out = await docker(
        'run',
        '--name',
        'proc',
        '--ulimit',
        'nofile=100:100',
        '--oom-score-adj',
        '500',
        IMG,
        'sh',
        '-c',
        'ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj',
      );
      assert.deepEqual(out.split('\n'), ['100', '100', '500']);
      assert.deepEqual((await hostConfig('proc')).Ulimits, [{ Name: 'nofile', Soft: 100, Hard: 100 }]);
      await docker('rm', 'proc');
    });

    test('--device /dev/null:/dev/x creates a usable node; --device-cgroup-rule reaches devices.list', async () => {
      await docker(
        'run',
        '-d',
        '--name',
        'dev',
        '--device',
        '/dev/null:/dev/x',
        '--device-cgroup-rule',
        'c 42:* rmw',
        IMG,
        'sleep',
        '1000',
      );
      assert.match(await docker('exec', 'dev', 'ls', '-l', '/dev/x'), /^crw.* 1,\s+3 .*\/dev\/x$/);
      assert.equal(await docker('exec', 'dev', 'sh', '-c', 'echo hi > /dev/x && echo ok'), 'ok');
      const list = (await cgroupFile(await pidOf('dev'), 'devices', 'devices.list')).split('\n');
      assert.ok(list.includes('c 1:3 rwm'), list.join('; '));
      assert.ok(list.includes('c 42:* rwm'), list.join('; '));
      // a node no rule allows stays unusable
      assert.match(
        await dockerFails('exec', 'dev', 'sh', '-c', 'mknod /tmp/port c 1 4 && cat /tmp/port'),
        /Operation not permitted|not permitted/,
      );
    });

    test('--blkio-weight is applied where the host has blkio.weight, refused naming the field where not', async () => {
      if (
        await access('/sys/fs/cgroup/blkio/blkio.weight').then(
          () => true,
          () => false,
        )
      ) {
        await docker('run', '--rm', '--blkio-weight', '300', IMG, 'cat', '/sys/fs/cgroup/blkio/blkio.weight');
      } else {
        assert.match(
          await dockerFails('run', '--rm', '--blkio-weight', '300', IMG, 'true'),
          /HostConfig\.BlkioWeight: your kernel does not support Block I\/O weight/,
        );
      }
    });

    test('--device-read-bps on a block device writes blkio.throttle.read_bps_device', async (t) => {
      const dev = ['/dev/loop0', '/dev/vda', '/dev/sda'];
      let block: string | undefined;
      for (const p of dev) if ((await stat(p).catch(() => undefined))?.isBlockDevice()) block = p;
      if (block === undefined) return t.skip('no block device on this host');
      const s = await stat(block, { bigint: true });
      const majmin = `${Number((s.rdev >> 8n) & 0xfffn)}:${Number((s.rdev & 0xffn) | ((s.rdev >> 12n) & ~0xffn))}`;
      const out = await docker(
        'run',
        '--rm',
        '--device-read-bps',
        `${block}:1mb`,
        IMG,
        'cat',
        '/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device',
      );
      assert.equal(out, `${majmin} 1048576`);
    });

    test('--cgroup-parent puts the container cgroup at /<parent>/<id>', async () => {
      const id = await docker('run', '-d', '--name', 'par', '--cgroup-parent', PARENT, IMG, 'sleep', '1000');
      const cg = await readFile(`/proc/${await pidOf('par')}/cgroup`, 'utf8');
      assert.match(cg, new RegExp(`:memory:/${PARENT}/${id}$`, 'm'));
      await docker('rm', '-f', 'par');
    });

    test('invalid values are a 400 naming the field, with dockerd wording', async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ Memory: 1000 }, /^HostConfig\.Memory: Minimum memory limit allowed is 6MB$/],
        [{ Memory: 64 * MB, MemorySwap: 32 * MB }, /^HostConfig\.MemorySwap: Minimum memoryswap limit/],
        [
          { NanoCpus: 1e9, CpuPeriod: 50000 },
          /^HostConfig\.NanoCpus: Conflicting options: Nano CPUs and CPU Period/,
        ],
        [{ NanoCpus: 1000e9 }, /^HostConfig\.NanoCpus: Range of CPUs is from 0\.01 to \d+\.00/],
        [{ CpuQuota: 500 }, /^HostConfig\.CpuQuota: CPU cfs quota can not be less than 1ms/],
        [{ CpusetCpus: '99' }, /^HostConfig\.CpusetCpus: Requested CPUs are not available - requested 99/],
        [
          { Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 5 }] },
          /^HostConfig\.Ulimits\[0\]: ulimit soft limit/,
        ],
        [{ OomScoreAdj: 2000 }, /^HostConfig\.OomScoreAdj: Invalid value 2000/],
        [
          { DeviceCgroupRules: ['c 1 rwm'] },
          /^HostConfig\.DeviceCgroupRules: invalid device cgroup rule format/,
        ],
        [
          {
            Devices: [{ PathOnHost: '/dev/ckptd-none', PathInContainer: '/dev/y', CgroupPermissions: 'rwm' }],
          },
          /^HostConfig\.Devices: error gathering device information .*no such file or directory/,
        ],
        [{ CgroupParent: 'user.slice' }, /^HostConfig\.CgroupParent: .*systemd slice/],
        [{ KernelMemoryTCP: 64 * MB }, /^HostConfig\.KernelMemoryTCP: /],
        [{ CpuRealtimeRuntime: 1000 }, /^HostConfig\.CpuRealtimeRuntime: /],
      ];
      for (const [hc, want] of cases) {
        const res = await api('POST', '/containers/create', { Image: IMG, Cmd: ['true'], HostConfig: hc });
        assert.equal(res.status, 400, `${JSON.stringify(hc)}: ${res.body}`);
        assert.match((JSON.parse(res.body) as { message: string }).message, want);
      }
      assert.match(
        await dockerFails('run', '--rm', '--memory', '4m', IMG, 'true'),
        /Minimum memory limit allowed is 6MB/,
      );
    });

    test('docker update --memory 128m changes the live limit, inspect shows it, a restart keeps it', async () => {
      await docker('run', '-d', '--name', 'upd', '--memory', '64m', '--cpus', '.5', IMG, 'sleep', '1000');
      assert.equal(await cgroupFile(await pidOf('upd'), 'memory', 'memory.limit_in_bytes'), String(64 * MB));
      // dockerd's default: memory+swap twice the memory
      assert.equal(
        await cgroupFile(await pidOf('upd'), 'memory', 'memory.memsw.limit_in_bytes'),
        String(128 * MB),
      );
      await docker(
        'update',
        '--memory',
        '128m',
        '--cpus',
        '1',
        '--pids-limit',
        '30',
        '--restart',
        'on-failure:2',
        'upd',
      );
      let pid = await pidOf('upd');
      assert.equal(await cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(128 * MB));
      assert.equal(await cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us'), '100000');
      assert.equal(await cgroupFile(pid, 'pids', 'pids.max'), '30');
      const hc = await hostConfig('upd');
      assert.equal(hc.Memory, 128 * MB);
      assert.equal(hc.NanoCpus, 1e9);
      assert.equal(hc.PidsLimit, 30);
      assert.deepEqual(hc.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
      await docker('restart', '-t', '1', 'upd');
      pid = await pidOf('upd');
      assert.equal(await cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(128 * MB));
      assert.equal(await cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us'), '100000');
      assert.equal(await cgroupFile(pid, 'pids', 'pids.max'), '30');
    });

    test("docker update refuses what it cannot change and dockerd's conflicts, leaving the limits alone", async () => {
      let res = await api('POST', '/containers/upd/update', {
        Ulimits: [{ Name: 'nofile', Soft: 1, Hard: 1 }],
      });
      assert.equal(res.status, 400);
      assert.match(res.body, /Ulimits: cannot be changed by docker update/);
      res = await api('POST', '/containers/upd/update', { CpuQuota: 20000 });
      assert.equal(res.status, 400);
      assert.match(res.body, /CPU Quota cannot be updated as NanoCPUs has already been set/);
      res = await api('POST', '/containers/upd/update', { Memory: 1024 * MB });
      assert.equal(res.status, 400);
      assert.match(res.body, /Memory limit should be smaller than already set memoryswap limit/);
      res = await api('POST', '/containers/upd/update', {
        RestartPolicy: { Name: 'always', MaximumRetryCount: 1 },
      });
      assert.equal(res.status, 400);
      assert.match(res.body, /maximum retry count cannot be used with restart policy 'always'/);
      res = await api('POST', '/containers/upd/update', { MemorySwap: -1 });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body), { Warnings: [] });
      assert.equal(await cgroupFile(await pidOf('upd'), 'memory', 'memory.limit_in_bytes'), String(128 * MB));
      assert.equal((await hostConfig('upd')).MemorySwap, -1);
      res = await api('POST', '/containers/nope/update', { Memory: 64 * MB });
      assert.equal(res.status, 404);
    });

    test('GET /info reports the cgroup features this host has', async () => {
      const info = JSON.parse((await api('GET', '/info')).body) as Record<string, unknown>;
      const has = (p: string) =>
        access(p).then(
          () => true,
          () => false,
        );
      assert.equal(info.MemoryLimit, await has('/sys/fs/cgroup/memory'));
      assert.equal(info.SwapLimit, await has('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'));
      assert.equal(info.OomKillDisable, await has('/sys/fs/cgroup/memory/memory.oom_control'));
      assert.equal(info.CpuCfsQuota, await has('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'));
      assert.equal(info.CPUShares, await has('/sys/fs/cgroup/cpu/cpu.shares'));
      assert.equal(info.CPUSet, await has('/sys/fs/cgroup/cpuset'));
      assert.equal(info.PidsLimit, await has('/sys/fs/cgroup/pids'));
      assert.equal(info.KernelMemory, false);
      assert.equal(info.KernelMemoryTCP, false);
      const fwd = (await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim() === '1';
      assert.equal(info.IPv4Forwarding, fwd);
    });
  },
);
