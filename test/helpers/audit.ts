// The after-crash audit shared by the fault tests: what a killed ckptd (or a restarted
// containerd) may have left in containerd (leases, snapshots, content, ingests, containers,
// tasks), on the host (mounts, unpacking processes, staging and temp directories) and in ckptd's
// records (pause marks, torn writes, half checkpoints). `takeBaseline` records the state before
// an operation; `audit` lists every difference that is a leftover (an empty list is clean).
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ContainerdClient } from '../../src/containerd/client.js';
import { LEASE_DATA_ROOT_LABEL } from '../../src/engine/recovery.js';

/** AuditTarget names the containerd and the ckptd data root to audit. */
export interface AuditTarget {
  /** containerd's socket (bare path). */
  address: string;
  namespace: string;
  dataRoot: string;
  /** containerd's own directory (root and state), whose mounts are compared with the baseline. */
  containerdDir: string;
  snapshotter?: string;
}

/** Baseline is what the audit compares with: the state before the interrupted operation. */
export interface Baseline {
  snapshots: Set<string>;
  content: Set<string>;
  containers: Set<string>;
  containerdMounts: Set<string>;
}

async function withClient<T>(t: AuditTarget, fn: (c: ContainerdClient) => Promise<T>): Promise<T> {
  const c = new ContainerdClient({ address: t.address, namespace: t.namespace });
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function mountPointsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((p) => p.startsWith(`${dir}/`));
}

/**
 * collectGarbage has containerd collect now (a lease deleted with sync runs the GC before it
 * answers), so what no image, container or lease holds any more is gone when the audit lists.
 */
export async function collectGarbage(t: AuditTarget): Promise<void> {
  await withClient(t, async (c) => {
    const id = `audit-gc-${Date.now()}`;
    await c.leases.create(id, {});
    await c.leases.delete(id, { sync: true });
  });
}

/** takeBaseline records snapshots, content, containers and containerd's mounts now. */
export async function takeBaseline(t: AuditTarget): Promise<Baseline> {
  await collectGarbage(t);
  return withClient(t, async (c) => ({
    snapshots: new Set((await collect(c.snapshots(t.snapshotter ?? 'overlayfs').list())).map((s) => s.name)),
    content: new Set((await collect(c.content.list())).map((i) => i.digest)),
    containers: new Set((await c.containers.list()).map((x) => x.id)),
    containerdMounts: new Set(await mountPointsUnder(t.containerdDir)),
  }));
}

/**
 * leftoverProcesses lists the processes working in the data root (named in their command line,
 * holding a file or their cwd under it) other than ckptd itself, containerd, its shims and the
 * containers (whose files live under a managed containerd's directory): an unpacker, a tar of a
 * cp or an export, a CRIU dump in a checkpoint directory.
 */
export async function leftoverProcesses(dataRoot: string, exclude: number[] = []): Promise<string[]> {
  const out: string[] = [];
  const own = (p: string) =>
    (p === dataRoot || p.startsWith(`${dataRoot}/`)) && !p.startsWith(`${dataRoot}/containerd/`);
  for (const name of await readdir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid || exclude.includes(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const comm = /\((.*)\)\s+(\S)/.exec(stat);
    if (!comm || comm[2] === 'Z') continue; // gone, or a zombie holding nothing
    if (/^(containerd|containerd-shim.*)$/.test(comm[1] ?? '')) continue;
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const links = [
      await readlink(`/proc/${pid}/cwd`).catch(() => ''),
      ...(await Promise.all(
        (await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])).map((fd) =>
          readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''),
        ),
      )),
    ];
    const hit = [...args, ...links].find(own);
    if (hit !== undefined) out.push(`${pid} ${comm[1]} (${hit})`);
  }
  return out;
}

/**
 * audit lists the leftovers: leases of this data root, snapshots and content no image,
 * container or lease of the baseline holds (after a GC), open ingests, containers of the
 * baseline gone or new ones, paused tasks, tasks without a container, containers ckptd has no
 * record of (and records without a container), pause marks, torn record writes, checkpoint
 * directories without config.dump (half checkpoints), staging and temp entries, mounts under
 * the data root, new mounts under containerd's directory, unpacking and CRIU processes.
 * opts.containersGone / opts.containersAdded name the changes the test expects.
 */
export async function audit(
  t: AuditTarget,
  base: Baseline,
  opts: { containersGone?: string[]; containersAdded?: string[]; ckptdPid?: number } = {},
): Promise<string[]> {
  const problems: string[] = [];
  await collectGarbage(t);
  await withClient(t, async (c) => {
    const leases = await c.leases.list();
    for (const l of leases)
      if (l.labels?.[LEASE_DATA_ROOT_LABEL] === t.dataRoot) problems.push(`lease ${l.id} left`);
    for (const s of await collect(c.snapshots(t.snapshotter ?? 'overlayfs').list()))
      if (!base.snapshots.has(s.name)) problems.push(`snapshot ${s.name} (${s.kind}) left`);
    for (const i of await collect(c.content.list()))
      if (!base.content.has(i.digest)) problems.push(`content ${i.digest} (${i.size} B) left`);
    for (const s of await c.content.listStatuses()) problems.push(`ingest ${s.ref} left`);
    const ctrs = new Set((await c.containers.list()).map((x) => x.id));
    const gone = new Set(opts.containersGone ?? []);
    const added = new Set(opts.containersAdded ?? []);
    for (const id of base.containers)
      if (!ctrs.has(id) && !gone.has(id)) problems.push(`container ${id} lost`);
    for (const id of ctrs)
      if (!base.containers.has(id) && !added.has(id)) problems.push(`container ${id} new`);
    for (const task of await c.tasks.list()) {
      if (String(task.status) === 'PAUSED' || String(task.status) === 'PAUSING')
        problems.push(`task ${task.id} left ${String(task.status)}`);
      if (!ctrs.has(task.id)) problems.push(`task ${task.id} without a container`);
    }
    const recordsDir = join(t.dataRoot, 'containers');
    const records = (await readdir(recordsDir).catch(() => [] as string[])).filter((n) =>
      /^[0-9a-f]{64}$/.test(n),
    );
    for (const id of records) {
      if (!ctrs.has(id)) problems.push(`record ${id} without a containerd container`);
      const files = await readdir(join(recordsDir, id)).catch(() => [] as string[]);
      if (files.includes('paused-by-ckptd')) problems.push(`pause mark of ${id} left`);
      for (const f of files) if (f.startsWith('.tmp-')) problems.push(`torn write ${id}/${f} left`);
      for (const ck of await readdir(join(recordsDir, id, 'checkpoints')).catch(() => [] as string[])) {
        const inside = await readdir(join(recordsDir, id, 'checkpoints', ck)).catch(() => [] as string[]);
        if (!inside.includes('config.dump')) problems.push(`half checkpoint ${id}/checkpoints/${ck} left`);
      }
    }
    for (const id of ctrs) if (!records.includes(id)) problems.push(`container ${id} without a record`);
  });
  for (const d of ['checkpoint-staging', 'tmp'])
    for (const n of await readdir(join(t.dataRoot, d)).catch(() => [] as string[]))
      problems.push(`${d}/${n} left`);
  for (const m of await mountPointsUnder(t.dataRoot))
    if (!m.startsWith(`${t.containerdDir}/`) && !m.startsWith(join(t.dataRoot, 'containerd') + '/'))
      problems.push(`mount ${m} left`);
  for (const m of await mountPointsUnder(t.containerdDir))
    if (!base.containerdMounts.has(m)) problems.push(`containerd mount ${m} left`);
  for (const p of await leftoverProcesses(t.dataRoot, opts.ckptdPid === undefined ? [] : [opts.ckptdPid]))
    problems.push(`process ${p} left`);
  return problems;
}
