import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRuntimeSpec } from '../../../src/oci/runtime-spec.js';
import {
  buildResources,
  parseUintList,
  readResources,
  resourcesForCreate,
  type DeviceHost,
  type FileNode,
  type SysInfo,
} from '../../../src/oci/resources.js';
import { devicesFromPath, parseDeviceCgroupRule } from '../../../src/oci/devices.js';
import {
  checkUpdateBody,
  mergeUpdate,
  specResourcesAfterUpdate,
  updateLinuxResources,
  validateRestartPolicy,
} from '../../../src/oci/resources-update.js';

const ID = `0123456789ab${'c'.repeat(52)}`;
const MB = 1024 * 1024;

const V1: SysInfo = {
  cgroupVersion: 1,
  memoryLimit: true,
  swapLimit: true,
  memoryReservation: true,
  oomKillDisable: true,
  memorySwappiness: true,
  kernelMemory: false,
  kernelMemoryTCP: false,
  cpuShares: true,
  cpuCfs: true,
  cpuRealtime: true,
  cpuset: true,
  cpus: '0-1',
  mems: '0',
  pidsLimit: true,
  blkioWeight: false,
  blkioWeightDevice: false,
  blkioReadBpsDevice: true,
  blkioWriteBpsDevice: true,
  blkioReadIOpsDevice: true,
  blkioWriteIOpsDevice: true,
  devicesCgroup: true,
  ncpu: 2,
};
const V2: SysInfo = { ...V1, cgroupVersion: 2, oomKillDisable: false, memorySwappiness: false };

const node = (kind: FileNode['kind'], major = 0, minor = 0, mode = 0o666): FileNode => ({
  kind,
  major,
  minor,
  mode,
  uid: 0,
  gid: 0,
});

/** A fake /dev: null, a symlink to it, a block disk and a directory with two nodes. */
const FS: Record<string, FileNode> = {
  '/dev/null': node('char', 1, 3),
  '/dev/nullink': node('symlink'),
  '/dev/vda': node('block', 254, 0, 0o600),
  '/dev/snd': node('dir'),
  '/dev/snd/pcm': node('char', 116, 2),
  '/dev/snd/sub': node('dir'),
  '/dev/snd/sub/ctl': node('char', 116, 3),
  '/dev/snd/readme': node('file'),
  '/tmp/file': node('file'),
};
const enoent = (op: string, p: string) => new Error(`${op} ${p}: no such file or directory`);
const DEVICES: DeviceHost = {
  lstat: (p) =>
    FS[p] ??
    (() => {
      throw enoent('lstat', p);
    })(),
  stat: (p) =>
    p === '/dev/nullink'
      ? FS['/dev/null']!
      : (FS[p] ??
        (() => {
          throw enoent('stat', p);
        })()),
  realpath: (p) => (p === '/dev/nullink' ? '/dev/null' : p),
  readdir: (p) =>
    Object.keys(FS)
      .filter((k) => k.startsWith(`${p}/`) && !k.slice(p.length + 1).includes('/'))
      .map((k) => k.slice(p.length + 1)),
};
const HOST = { sys: V1, devices: DEVICES };

const create = (hc: Record<string, unknown>, sys: SysInfo = V1) => resourcesForCreate(hc, { ...HOST, sys });
const refusal = (hc: Record<string, unknown>, sys: SysInfo = V1): string => {
  try {
    create(hc, sys);
  } catch (err) {
    assert.equal((err as Error).name, 'InvalidArgumentError');
    return (err as Error).message;
  }
  return '';
};

describe('resources: create', () => {
  it('turns memory, swap, cpus, shares, cpuset and pids into linux.resources', () => {
    const r = create({
      Memory: 64 * MB,
      MemorySwap: 64 * MB,
      MemoryReservation: 32 * MB,
      MemorySwappiness: 10,
      OomKillDisable: true,
      NanoCpus: 500_000_000,
      CpuShares: 512,
      CpusetCpus: '0',
      CpusetMems: '0',
      PidsLimit: 50,
    });
    assert.deepEqual(r.spec.resources, {
      memory: { limit: 64 * MB, reservation: 32 * MB, swap: 64 * MB, swappiness: 10, disableOOMKiller: true },
      cpu: { shares: 512, cpus: '0', mems: '0', period: 100000, quota: 50000 },
      pids: { limit: 50 },
    });
    assert.deepEqual(r.warnings, []);
  });

  it('adapts as dockerd: MemorySwap twice Memory, OomKillDisable false, PidsLimit <= 0 and swappiness -1 unset', () => {
    const r = create({ Memory: 64 * MB, PidsLimit: -1, MemorySwappiness: -1 });
    assert.equal(r.record.MemorySwap, 128 * MB);
    assert.equal(r.record.OomKillDisable, false);
    assert.equal(r.record.PidsLimit, null);
    assert.equal(r.record.MemorySwappiness, null);
    assert.deepEqual(r.spec.resources.memory, { limit: 64 * MB, swap: 128 * MB, disableOOMKiller: false });
    assert.equal(r.spec.resources.pids, undefined);
  });

  it('keeps MemorySwap -1 (unlimited swap) out of the spec', () => {
    const r = create({ Memory: 64 * MB, MemorySwap: -1 });
    assert.equal(r.record.MemorySwap, -1);
    assert.equal(r.spec.resources.memory?.swap, undefined);
  });

  it("refuses bad values with dockerd's messages after the field name", () => {
    assert.equal(refusal({ Memory: 4 * MB }), 'HostConfig.Memory: Minimum memory limit allowed is 6MB');
    assert.match(
      refusal({ Memory: 64 * MB, MemorySwap: 32 * MB }),
      /^HostConfig\.MemorySwap: Minimum memoryswap/,
    );
    assert.match(
      refusal({ MemorySwap: 64 * MB }),
      /^HostConfig\.MemorySwap: You should always set the Memory/,
    );
    assert.match(refusal({ MemorySwappiness: 101 }), /^HostConfig\.MemorySwappiness: Invalid value: 101/);
    assert.match(refusal({ MemoryReservation: MB }), /Minimum memory reservation allowed is 6MB/);
    assert.match(
      refusal({ Memory: 10 * MB, MemoryReservation: 20 * MB }),
      /^HostConfig\.MemoryReservation: Minimum memory limit can not be less than memory reservation/,
    );
    assert.equal(
      refusal({ NanoCpus: 1e9, CpuPeriod: 50000 }),
      'HostConfig.NanoCpus: Conflicting options: Nano CPUs and CPU Period cannot both be set',
    );
    assert.equal(
      refusal({ NanoCpus: 1e9, CpuQuota: 50000 }),
      'HostConfig.NanoCpus: Conflicting options: Nano CPUs and CPU Quota cannot both be set',
    );
    assert.equal(
      refusal({ NanoCpus: 3e9 }),
      'HostConfig.NanoCpus: Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available',
    );
    assert.match(refusal({ CpuShares: -1 }), /^HostConfig\.CpuShares: shares: invalid argument/);
    assert.match(refusal({ CpuShares: 1 }), /^HostConfig\.CpuShares: the minimum allowed cpu-shares is 2/);
    assert.match(
      refusal({ CpuPeriod: 999 }),
      /^HostConfig\.CpuPeriod: CPU cfs period can not be less than 1ms/,
    );
    assert.match(refusal({ CpuQuota: 999 }), /^HostConfig\.CpuQuota: CPU cfs quota can not be less than 1ms/);
    assert.equal(
      refusal({ CpusetCpus: '3' }),
      'HostConfig.CpusetCpus: Requested CPUs are not available - requested 3, available: 0-1',
    );
    assert.equal(
      refusal({ CpusetCpus: 'x' }),
      'HostConfig.CpusetCpus: Invalid value x for cpuset cpus: invalid format: x',
    );
    assert.equal(
      refusal({ CpusetMems: '1' }),
      'HostConfig.CpusetMems: Requested memory nodes are not available - requested 1, available: 0',
    );
    assert.equal(
      refusal({ OomScoreAdj: 1001 }),
      'HostConfig.OomScoreAdj: Invalid value 1001, range for oom score adj is [-1000, 1000]',
    );
    assert.match(refusal({ Memory: '64m' }), /^HostConfig\.Memory: must be an integer/);
    assert.match(refusal({ CgroupParent: 'system.slice' }), /^HostConfig\.CgroupParent: .*systemd slice/);
  });

  it('refuses what the host cannot enforce instead of dropping it (dockerd warns and discards)', () => {
    assert.match(
      refusal({ BlkioWeight: 300 }),
      /^HostConfig\.BlkioWeight: your kernel does not support Block I\/O weight/,
    );
    assert.match(
      refusal({ BlkioWeightDevice: [{ Path: '/dev/vda', Weight: 300 }] }),
      /^HostConfig\.BlkioWeightDevice: your kernel does not support/,
    );
    assert.match(refusal({ MemorySwappiness: 10 }, V2), /^HostConfig\.MemorySwappiness: .*cgroup v2/);
    assert.match(refusal({ OomKillDisable: true }, V2), /^HostConfig\.OomKillDisable: /);
    assert.equal(create({ OomKillDisable: false }, V2).spec.resources.memory?.disableOOMKiller, false);
    assert.match(
      refusal({ Memory: 64 * MB, MemorySwap: 128 * MB }, { ...V1, swapLimit: false }),
      /^HostConfig\.MemorySwap: your kernel does not support swap limit/,
    );
    const noSwap = create({ Memory: 64 * MB }, { ...V1, swapLimit: false });
    assert.equal(noSwap.record.MemorySwap, -1);
    assert.match(noSwap.warnings[0] ?? '', /Memory limited without swap/);
    assert.equal(refusal({ BlkioWeight: 300 }, { ...V1, blkioWeight: true }), '');
    assert.equal(
      refusal({ BlkioWeight: 5 }, { ...V1, blkioWeight: true }),
      'HostConfig.BlkioWeight: Range of blkio weight is from 10 to 1000',
    );
  });

  it('warns, as dockerd, of an OOM killer disabled without a memory limit', () => {
    assert.match(create({ OomKillDisable: true }).warnings[0] ?? '', /OOM killer is disabled/);
  });

  it('maps blkio throttle devices to major:minor of the block device', () => {
    const r = create({
      BlkioDeviceReadBps: [{ Path: '/dev/vda', Rate: 1048576 }],
      BlkioDeviceWriteIOps: [{ Path: '/dev/vda', Rate: 100 }],
    });
    assert.deepEqual(r.spec.resources.blockIO, {
      throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }],
      throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 100 }],
    });
    assert.equal(
      refusal({ BlkioDeviceReadBps: [{ Path: '/dev/nope', Rate: 1 }] }),
      'HostConfig.BlkioDeviceReadBps: stat /dev/nope: no such file or directory',
    );
    assert.equal(
      refusal({ BlkioDeviceWriteBps: [{ Path: '/dev/null', Rate: 1 }] }),
      'HostConfig.BlkioDeviceWriteBps: /dev/null is not a block device',
    );
  });

  it('turns Ulimits into rlimits and checks them', () => {
    const r = create({ Ulimits: [{ Name: 'nofile', Soft: 100, Hard: 200 }] });
    assert.deepEqual(r.spec.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }]);
    assert.equal(
      refusal({ Ulimits: [{ Name: 'nofile', Soft: 300, Hard: 200 }] }),
      'HostConfig.Ulimits[0]: ulimit soft limit must be less than or equal to hard limit: 300 > 200',
    );
    assert.equal(
      refusal({ Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] }),
      'HostConfig.Ulimits[0]: invalid ulimit type: bogus',
    );
  });
});

describe('resources: devices', () => {
  it('maps a device node to its path in the container, with a cgroup rule', () => {
    const got = devicesFromPath(DEVICES, '/dev/null', '/dev/x', 'rwm');
    assert.deepEqual(got.devices, [
      { path: '/dev/x', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
    ]);
    assert.deepEqual(got.permissions, [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]);
  });

  it('resolves a symlink first, as moby', () => {
    assert.equal(devicesFromPath(DEVICES, '/dev/nullink', '/dev/y', 'r').devices[0]?.major, 1);
  });

  it('maps every device node below a directory (moby walks it)', () => {
    const got = devicesFromPath(DEVICES, '/dev/snd', '/dev/sound', 'rw');
    assert.deepEqual(
      got.devices.map((d) => [d.path, d.major, d.minor]),
      [
        ['/dev/sound/pcm', 116, 2],
        ['/dev/sound/sub/ctl', 116, 3],
      ],
    );
    assert.ok(got.permissions.every((p) => p.access === 'rw'));
  });

  it("fails with moby's message for a missing path or a plain file", () => {
    assert.throws(() => devicesFromPath(DEVICES, '/dev/nope', '/dev/nope', 'rwm'), {
      message:
        'error gathering device information while adding custom device "/dev/nope": lstat /dev/nope: no such file or directory',
    });
    assert.throws(
      () => devicesFromPath(DEVICES, '/tmp/file', '/x', 'rwm'),
      /adding custom device "\/tmp\/file": not a device node/,
    );
  });

  it('refuses a bad mapping at create, naming the field', () => {
    assert.match(
      refusal({
        Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/x', CgroupPermissions: 'rwx' }],
      }),
      /^HostConfig\.Devices\[0\]: invalid device mode/,
    );
    assert.match(
      refusal({
        Devices: [{ PathOnHost: '/dev/nope', PathInContainer: '/dev/x', CgroupPermissions: 'rwm' }],
      }),
      /^HostConfig\.Devices: error gathering device information/,
    );
  });

  it("parses device cgroup rules with moby's format", () => {
    assert.deepEqual(parseDeviceCgroupRule('c 1:3 rwm'), {
      allow: true,
      type: 'c',
      major: 1,
      minor: 3,
      access: 'rwm',
    });
    assert.deepEqual(parseDeviceCgroupRule('a *:* m'), {
      allow: true,
      type: 'a',
      major: -1,
      minor: -1,
      access: 'm',
    });
    assert.throws(() => parseDeviceCgroupRule('x 1:3 rwm'), {
      message: "HostConfig.DeviceCgroupRules: invalid device cgroup rule format: 'x 1:3 rwm'",
    });
    assert.throws(() => parseDeviceCgroupRule('c 1:3'), /invalid device cgroup rule format/);
  });
});

describe('resources: in the runtime spec', () => {
  it('adds device nodes, device rules after the defaults, ulimits over the default, oomScoreAdj and the cgroup parent', () => {
    const r = create({
      Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/x', CgroupPermissions: 'rwm' }],
      DeviceCgroupRules: ['c 42:* rmw'],
      Ulimits: [
        { Name: 'nofile', Soft: 100, Hard: 100 },
        { Name: 'nproc', Soft: 10, Hard: 20 },
      ],
      OomScoreAdj: 500,
      CgroupParent: 'mygroup/sub',
      Memory: 64 * MB,
    });
    const s = buildRuntimeSpec({ id: ID, config: { Cmd: ['sh'] }, networkMode: 'none', resources: r.spec });
    assert.deepEqual(
      s.linux.devices.map((d) => d.path),
      ['/dev/x'],
    );
    const rules = s.linux.resources.devices;
    assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
    assert.deepEqual(rules.slice(-2), [
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 42, minor: -1, access: 'rmw' },
    ]);
    assert.deepEqual(s.process.rlimits, [
      { type: 'RLIMIT_NOFILE', soft: 100, hard: 100 },
      { type: 'RLIMIT_NPROC', soft: 10, hard: 20 },
    ]);
    assert.equal(s.process.oomScoreAdj, 500);
    assert.equal(s.linux.cgroupsPath, `/mygroup/sub/${ID}`);
    assert.equal(s.linux.resources.memory?.limit, 64 * MB);
  });

  it('keeps the defaults when no resource is set', () => {
    const s = buildRuntimeSpec({
      id: ID,
      config: { Cmd: ['sh'] },
      networkMode: 'none',
      resources: create({}).spec,
    });
    assert.equal(s.linux.cgroupsPath, `/default/${ID}`);
    assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }]);
    // as dockerd: OomKillDisable defaults to false, which runc leaves alone
    assert.deepEqual(s.linux.resources.memory, { disableOOMKiller: false });
    assert.equal(s.linux.resources.cpu, undefined);
  });
});

describe('resources: docker update', () => {
  const current = () =>
    readResources({ Memory: 64 * MB, MemorySwap: 128 * MB, NanoCpus: 5e8, PidsLimit: 50 }, 'HostConfig.');

  it('merges as UpdateContainer: zero keeps, PidsLimit 0 removes the limit', () => {
    const { changes } = checkUpdateBody({ Memory: 100 * MB, PidsLimit: -1, CpuShares: 0 }, V1);
    const merged = mergeUpdate(current(), changes);
    assert.equal(merged.Memory, 100 * MB);
    assert.equal(merged.MemorySwap, 128 * MB);
    assert.equal(merged.NanoCpus, 5e8);
    assert.equal(merged.PidsLimit, 0);
    assert.deepEqual(updateLinuxResources(changes), { memory: { limit: 100 * MB }, pids: { limit: -1 } });
    assert.deepEqual(specResourcesAfterUpdate({ devices: [], blockIO: { weight: 5 } }, merged), {
      devices: [],
      memory: { limit: 100 * MB, swap: 128 * MB },
      cpu: { period: 100000, quota: 50000 },
    });
  });

  it("refuses dockerd's update conflicts", () => {
    assert.throws(() => mergeUpdate(current(), checkUpdateBody({ Memory: 256 * MB }, V1).changes), {
      message: /^Memory: Memory limit should be smaller than already set memoryswap limit/,
    });
    assert.throws(
      () => mergeUpdate(current(), checkUpdateBody({ CpuQuota: 50000 }, V1).changes),
      /CPU Quota cannot be updated as NanoCPUs has already been set/,
    );
  });

  it('refuses fields docker update cannot change, refused fields, and unknown ones; accepts the CLI zero values', () => {
    assert.throws(() => checkUpdateBody({ Ulimits: [{ Name: 'nofile', Soft: 1, Hard: 1 }] }, V1), {
      message: /^Ulimits: cannot be changed by docker update/,
    });
    assert.throws(() => checkUpdateBody({ KernelMemory: 10 * MB }, V1), {
      message: /^KernelMemory: kernel memory limits/,
    });
    assert.throws(() => checkUpdateBody({ Bogus: 1 }, V1), { message: /^Bogus: unknown field/ });
    assert.throws(() => checkUpdateBody({ MemorySwappiness: 10 }, V1), {
      message: /^MemorySwappiness: cannot be changed/,
    });
    const cliZeros = {
      CpuShares: 0,
      Memory: 0,
      NanoCpus: 0,
      CgroupParent: '',
      BlkioWeight: 0,
      BlkioWeightDevice: null,
      BlkioDeviceReadBps: null,
      CpuPeriod: 0,
      CpuQuota: 0,
      CpuRealtimePeriod: 0,
      CpusetCpus: '',
      Devices: null,
      DeviceCgroupRules: null,
      DeviceRequests: null,
      KernelMemory: 0,
      KernelMemoryTCP: 0,
      MemoryReservation: 0,
      MemorySwap: 0,
      MemorySwappiness: null,
      OomKillDisable: null,
      PidsLimit: null,
      Ulimits: null,
      CpuCount: 0,
      CpuPercent: 0,
      IOMaximumIOps: 0,
      IOMaximumBandwidth: 0,
      RestartPolicy: { Name: '', MaximumRetryCount: 0 },
    };
    const u = checkUpdateBody(cliZeros, V1);
    assert.equal(u.restartPolicy, undefined);
    assert.deepEqual(updateLinuxResources(u.changes), {});
  });

  it('validates the restart policy as dockerd', () => {
    assert.deepEqual(validateRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 3 }), {
      Name: 'on-failure',
      MaximumRetryCount: 3,
    });
    assert.throws(
      () => validateRestartPolicy({ Name: 'always', MaximumRetryCount: 2 }),
      /maximum retry count cannot be used with restart policy 'always'/,
    );
    assert.throws(
      () => validateRestartPolicy({ Name: 'on-failure', MaximumRetryCount: -1 }),
      /maximum retry count cannot be negative/,
    );
    assert.throws(() => validateRestartPolicy({ Name: 'sometimes' }), /invalid restart policy 'sometimes'/);
  });
});

describe('resources: parseUintList', () => {
  it("parses cpuset lists as moby's ParseUintList", () => {
    assert.deepEqual([...parseUintList('0-2,4')].sort(), [0, 1, 2, 4]);
    assert.deepEqual([...parseUintList('')], []);
    assert.throws(() => parseUintList('2-1'), /invalid format: 2-1/);
    assert.throws(() => parseUintList('9', 8), /value of out range, maximum is 8/);
  });
});

describe('resources: build without verify', () => {
  it('passes the NanoCpus quota through as an integer', () => {
    const r = readResources({ NanoCpus: 333_333_333 }, 'HostConfig.');
    assert.equal(buildResources(r, DEVICES).resources.cpu?.quota, 33333);
  });
});
