import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { blkioV1, dockerStats, ioStatV2, readCgroupSample, systemCpuNs } from '../../../src/engine/stats.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ckptd-stats-'));
  dirs.push(root);
  for (const [p, t] of Object.entries(files)) {
    await mkdir(join(root, p, '..'), { recursive: true });
    await writeFile(join(root, p), t);
  }
  return root;
}

test('systemCpuNs sums the first /proc/stat line (user..softirq) in nanoseconds', () => {
  assert.equal(systemCpuNs('cpu  10 1 5 100 2 0 1 7 0 0\ncpu0 1 2 3\n'), 119 * 1e7);
  assert.equal(systemCpuNs('garbage'), 0);
});

test('block io counters of both cgroup versions', () => {
  assert.deepEqual(ioStatV2('8:0 rbytes=4096 wbytes=512 rios=1 wios=1\n'), [
    { major: 8, minor: 0, op: 'read', value: 4096 },
    { major: 8, minor: 0, op: 'write', value: 512 },
  ]);
  assert.deepEqual(blkioV1('8:0 Read 10\n8:0 Write 20\nTotal 30\n'), [
    { major: 8, minor: 0, op: 'read', value: 10 },
    { major: 8, minor: 0, op: 'write', value: 20 },
  ]);
});

test('readCgroupSample reads a v2 cgroup and a v1 hierarchy; undefined once the cgroup is gone', async () => {
  const v2 = await tree({
    'ns/c/cpu.stat':
      'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 3\nnr_throttled 1\nthrottled_usec 7\n',
    'ns/c/memory.current': '8192\n',
    'ns/c/memory.max': 'max\n',
    'ns/c/memory.stat': 'anon 4096\ninactive_file 1024\n',
    'ns/c/pids.current': '2\n',
    'ns/c/pids.max': '100\n',
  });
  const s2 = await readCgroupSample({ version: 2, path: '/ns/c', root: v2 });
  assert.ok(s2);
  assert.deepEqual(
    [s2.cpuTotal, s2.cpuUser, s2.cpuKernel, s2.memUsage, s2.memStats.inactive_file, s2.pids, s2.pidsLimit],
    [1_500_000, 1_000_000, 500_000, 8192, 1024, 2, 100],
  );
  assert.deepEqual(s2.throttling, { periods: 3, throttled_periods: 1, throttled_time: 7000 });
  const v1 = await tree({
    'cpuacct/ns/c/cpuacct.usage': '123456789\n',
    'cpuacct/ns/c/cpuacct.stat': 'user 3\nsystem 2\n',
    'memory/ns/c/memory.usage_in_bytes': '65536\n',
    'memory/ns/c/memory.limit_in_bytes': '1048576\n',
    'memory/ns/c/memory.stat': 'total_inactive_file 100\n',
    'pids/ns/c/pids.current': '1\n',
    'pids/ns/c/pids.max': 'max\n',
  });
  const s1 = await readCgroupSample({ version: 1, path: '/ns/c', root: v1 });
  assert.ok(s1);
  assert.deepEqual(
    [s1.cpuTotal, s1.cpuUser, s1.cpuKernel, s1.memUsage, s1.memLimit, s1.pids, s1.pidsLimit],
    [123_456_789, 3e7, 2e7, 65536, 1_048_576, 1, undefined],
  );
  assert.equal(await readCgroupSample({ version: 1, path: '/ns/gone', root: v1 }), undefined);
  const shaped = dockerStats('id', 'n', { at: new Date(0), s: s1 }) as {
    name: string;
    memory_stats: { usage: number; limit: number };
    precpu_stats: { cpu_usage: { total_usage: number } };
  };
  assert.equal(shaped.name, '/n');
  assert.deepEqual(shaped.memory_stats.usage, 65536);
  assert.equal(shaped.memory_stats.limit, 1_048_576);
  assert.equal(shaped.precpu_stats.cpu_usage.total_usage, 0);
});
