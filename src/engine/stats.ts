/**
 * Container resource statistics as `docker stats` reads them (moby `api/types/container`
 * StatsResponse), from the container's cgroup files: cgroup v2 (unified) or v1 (one hierarchy
 * per controller). Pure readers and shapers; the containers engine picks the cgroup and paces
 * the samples.
 */
import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { ZERO_TIME } from './containers/shape.js';

/** CgroupSample is one reading of a cgroup's counters. */
export interface CgroupSample {
  /** cpu time in nanoseconds: total, in kernel mode, in user mode */
  cpuTotal: number;
  cpuKernel: number;
  cpuUser: number;
  throttling: { periods: number; throttled_periods: number; throttled_time: number };
  memUsage: number;
  memLimit: number;
  memStats: Record<string, number>;
  pids: number;
  pidsLimit?: number;
  /** bytes read and written per block device */
  blkio: { major: number; minor: number; op: string; value: number }[];
  /** systemCpu is the host's cpu time in nanoseconds (all cpus, /proc/stat), for the CLI's ratio */
  systemCpu: number;
}

/** USER_HZ is the unit of cpuacct.stat and /proc/stat (100 on Linux). */
const NS_PER_TICK = 1e9 / 100;
const UNLIMITED = 2 ** 62;

const num = (s: string | undefined): number => {
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
};

async function text(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** keyValues reads `key value` lines (memory.stat, cpu.stat, cpuacct.stat). */
export function keyValues(t: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (t ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = num(v);
  }
  return out;
}

/** systemCpuNs is the host's total cpu time from /proc/stat's first line, in nanoseconds. */
export function systemCpuNs(procStat: string): number {
  const first = procStat.split('\n', 1)[0] ?? '';
  if (!first.startsWith('cpu ')) return 0;
  return (
    first
      .trim()
      .split(/\s+/)
      .slice(1, 8) // user nice system idle iowait irq softirq (as moby's getSystemCPUUsage)
      .reduce((a, v) => a + num(v), 0) * NS_PER_TICK
  );
}

/** CgroupLayout says where a container's cgroup lives. */
export interface CgroupLayout {
  version: 1 | 2;
  /** cgroupsPath from the runtime spec (`/<namespace>/<id>`) */
  path: string;
  /** mount root of the cgroup filesystems, /sys/fs/cgroup */
  root?: string;
}

/**
 * readCgroupSample reads the counters of one cgroup; undefined when the cgroup is gone (the
 * container stopped).
 */
export async function readCgroupSample(l: CgroupLayout): Promise<CgroupSample | undefined> {
  const root = l.root ?? '/sys/fs/cgroup';
  const systemCpu = systemCpuNs((await text('/proc/stat')) ?? '');
  if (l.version === 2) {
    const dir = join(root, l.path);
    const cpu = await text(join(dir, 'cpu.stat'));
    if (cpu === undefined) return undefined;
    const c = keyValues(cpu);
    const memMax = (await text(join(dir, 'memory.max')))?.trim();
    const pidsMax = (await text(join(dir, 'pids.max')))?.trim();
    return {
      cpuTotal: (c.usage_usec ?? 0) * 1000,
      cpuKernel: (c.system_usec ?? 0) * 1000,
      cpuUser: (c.user_usec ?? 0) * 1000,
      throttling: {
        periods: c.nr_periods ?? 0,
        throttled_periods: c.nr_throttled ?? 0,
        throttled_time: (c.throttled_usec ?? 0) * 1000,
      },
      memUsage: num((await text(join(dir, 'memory.current')))?.trim()),
      memLimit: memMax === undefined || memMax === 'max' ? UNLIMITED : num(memMax),
      memStats: keyValues(await text(join(dir, 'memory.stat'))),
      pids: num((await text(join(dir, 'pids.current')))?.trim()),
      ...(pidsMax !== undefined && pidsMax !== 'max' ? { pidsLimit: num(pidsMax) } : {}),
      blkio: ioStatV2(await text(join(dir, 'io.stat'))),
      systemCpu,
    };
  }
  const at = (controller: string, file: string) => text(join(root, controller, l.path, file));
  const usage = await at('cpuacct', 'cpuacct.usage');
  if (usage === undefined) return undefined;
  const acct = keyValues(await at('cpuacct', 'cpuacct.stat'));
  const cpuStat = keyValues(await at('cpu', 'cpu.stat'));
  const pidsMax = (await at('pids', 'pids.max'))?.trim();
  return {
    cpuTotal: num(usage.trim()),
    cpuKernel: (acct.system ?? 0) * NS_PER_TICK,
    cpuUser: (acct.user ?? 0) * NS_PER_TICK,
    throttling: {
      periods: cpuStat.nr_periods ?? 0,
      throttled_periods: cpuStat.nr_throttled ?? 0,
      throttled_time: cpuStat.throttled_time ?? 0,
    },
    memUsage: num((await at('memory', 'memory.usage_in_bytes'))?.trim()),
    memLimit: num((await at('memory', 'memory.limit_in_bytes'))?.trim()) || UNLIMITED,
    memStats: keyValues(await at('memory', 'memory.stat')),
    pids: num((await at('pids', 'pids.current'))?.trim()),
    ...(pidsMax !== undefined && pidsMax !== 'max' ? { pidsLimit: num(pidsMax) } : {}),
    blkio: blkioV1(await at('blkio', 'blkio.throttle.io_service_bytes_recursive')),
    systemCpu,
  };
}

/** ioStatV2 turns io.stat (`8:0 rbytes=1 wbytes=2 ...`) into Docker's read/write entries. */
export function ioStatV2(t: string | undefined): CgroupSample['blkio'] {
  const out: CgroupSample['blkio'] = [];
  for (const line of (t ?? '').split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const f = Object.fromEntries(kvs.map((kv) => kv.split('=') as [string, string]));
    out.push({ major: num(m[1]), minor: num(m[2]), op: 'read', value: num(f.rbytes) });
    out.push({ major: num(m[1]), minor: num(m[2]), op: 'write', value: num(f.wbytes) });
  }
  return out;
}

/** blkioV1 reads blkio.throttle.io_service_bytes_recursive (`8:0 Read 1234`). */
export function blkioV1(t: string | undefined): CgroupSample['blkio'] {
  const out: CgroupSample['blkio'] = [];
  for (const line of (t ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: num(m[1]), minor: num(m[2]), op: m[3]!.toLowerCase(), value: num(m[4]) });
  }
  return out;
}

/**
 * dockerStats shapes a sample (and the one before it, for the CLI's cpu percentage) as the
 * Engine API's stats object. Without samples it is the empty object of a stopped container.
 */
export function dockerStats(
  id: string,
  name: string,
  cur?: { at: Date; s: CgroupSample },
  pre?: { at: Date; s: CgroupSample },
): Record<string, unknown> {
  const cpu = (x?: CgroupSample) => ({
    cpu_usage: {
      total_usage: x?.cpuTotal ?? 0,
      usage_in_kernelmode: x?.cpuKernel ?? 0,
      usage_in_usermode: x?.cpuUser ?? 0,
    },
    ...(x ? { system_cpu_usage: x.systemCpu, online_cpus: cpus().length } : {}),
    throttling_data: x?.throttling ?? { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  const s = cur?.s;
  return {
    name: `/${name}`,
    id,
    read: cur?.at.toISOString() ?? ZERO_TIME,
    preread: pre?.at.toISOString() ?? ZERO_TIME,
    pids_stats: s ? { current: s.pids, ...(s.pidsLimit !== undefined ? { limit: s.pidsLimit } : {}) } : {},
    blkio_stats: {
      io_service_bytes_recursive: s ? s.blkio : null,
      io_serviced_recursive: null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpu(s),
    precpu_stats: cpu(pre?.s),
    // an unlimited cgroup reports the machine's memory as its limit, as dockerd does
    memory_stats: s ? { usage: s.memUsage, stats: s.memStats, limit: Math.min(s.memLimit, totalmem()) } : {},
  };
}
