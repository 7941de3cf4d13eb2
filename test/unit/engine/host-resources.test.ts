import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cgroupV1Mounts, hostDevices, sysInfoFrom } from '../../../src/engine/host-resources.js';
import { cgroupInfo, cgroupWarnings } from '../../../src/engine/system-service.js';

const MOUNTINFO = [
  '25 1 0:22 / / rw,relatime - ext4 /dev/vda rw',
  '30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
  '31 25 0:27 / /sys/fs/cgroup/cpu rw,nosuid - cgroup cgroup rw,cpu',
  '32 25 0:28 / /sys/fs/cgroup/cpuset rw,nosuid - cgroup cgroup rw,cpuset',
  '33 25 0:29 / /sys/fs/cgroup/blkio rw,nosuid - cgroup cgroup rw,blkio',
  '34 25 0:30 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids',
  '35 25 0:31 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw',
].join('\n');

describe('host resources: sysinfo', () => {
  it('maps cgroup v1 controllers to their mount points', () => {
    const m = cgroupV1Mounts(MOUNTINFO);
    assert.equal(m.get('memory'), '/sys/fs/cgroup/memory');
    assert.equal(m.get('cpuset'), '/sys/fs/cgroup/cpuset');
    assert.equal(m.has('devices'), false);
  });

  it('reads v1 features from the controller files, as moby pkg/sysinfo', () => {
    const files = new Set([
      '/sys/fs/cgroup/memory/memory.soft_limit_in_bytes',
      '/sys/fs/cgroup/memory/memory.oom_control',
      '/sys/fs/cgroup/memory/memory.swappiness',
      '/sys/fs/cgroup/memory/memory.kmem.limit_in_bytes',
      '/sys/fs/cgroup/cpu/cpu.shares',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us',
      '/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device',
    ]);
    const content: Record<string, string> = {
      '/sys/fs/cgroup/cpuset/cpuset.cpus': '0-3\n',
      '/sys/fs/cgroup/cpuset/cpuset.mems': '0\n',
    };
    const s = sysInfoFrom({ exists: (p) => files.has(p), read: (p) => content[p] }, MOUNTINFO, 4);
    assert.equal(s.cgroupVersion, 1);
    assert.equal(s.memoryLimit, true);
    assert.equal(s.swapLimit, false); // no memory.memsw.limit_in_bytes
    assert.equal(s.oomKillDisable, true);
    assert.equal(s.kernelMemory, false); // refused by ckptd whatever the kernel has
    assert.equal(s.cpuCfs, true);
    assert.equal(s.blkioWeight, false);
    assert.equal(s.blkioReadBpsDevice, true);
    assert.equal(s.blkioWriteBpsDevice, false);
    assert.equal(s.cpus, '0-3');
    assert.equal(s.mems, '0');
    assert.equal(s.pidsLimit, true);
    assert.equal(s.devicesCgroup, false);
    assert.equal(s.ncpu, 4);
    assert.deepEqual(cgroupInfo(s), {
      MemoryLimit: true,
      SwapLimit: false,
      KernelMemory: false,
      KernelMemoryTCP: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      OomKillDisable: true,
    });
    assert.deepEqual(cgroupWarnings(s), [
      'WARNING: No swap limit support',
      'WARNING: No blkio throttle.write_bps_device support',
      'WARNING: No blkio throttle.read_iops_device support',
      'WARNING: No blkio throttle.write_iops_device support',
    ]);
  });

  it('reads v2 features from the root cgroup.controllers', () => {
    const content: Record<string, string> = {
      '/sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory pids\n',
      '/sys/fs/cgroup/cpuset.cpus.effective': '0-1\n',
      '/sys/fs/cgroup/cpuset.mems.effective': '0\n',
      '/proc/self/cgroup': '0::/system.slice/ckptd.service\n',
    };
    const exists = (p: string) =>
      p in content || p === '/sys/fs/cgroup/system.slice/ckptd.service/memory.swap.max';
    const s = sysInfoFrom({ exists, read: (p) => content[p] }, '', 2);
    assert.equal(s.cgroupVersion, 2);
    assert.equal(s.swapLimit, true);
    assert.equal(s.memorySwappiness, false);
    assert.equal(s.oomKillDisable, false);
    assert.equal(s.blkioWeight, true);
    assert.equal(s.cpus, '0-1');
  });
});

describe('host resources: devices', () => {
  it('reads /dev/null as char 1:3 and words a missing path as Go does', () => {
    const n = hostDevices.lstat('/dev/null');
    assert.deepEqual([n.kind, n.major, n.minor], ['char', 1, 3]);
    assert.throws(() => hostDevices.lstat('/dev/ckptd-nope'), {
      message: 'lstat /dev/ckptd-nope: no such file or directory',
    });
  });
});
