#!/usr/bin/env -S node --import tsx
/**
 * Sustained load (issue 16, `BENCH_CASES=load npm run bench`): N clients for S seconds, each
 * looping over a container's life through the Engine API: create, start, exec, logs, cp in and
 * out, commit (and rmi), checkpoint and restore, export, list and inspect, stop, rm. Prints one
 * summary line and fails (exit 1) on any unexpected error, on a leak (containerd leases and
 * snapshots, mounts under the data root, ckptd's fds, processes naming the data root, back to
 * their baseline once the clients are done) or when ckptd's RSS at the end is above 120% of
 * its peak over the first ten seconds.
 *
 * The clients speak HTTP directly (node:http over the unix socket), not the docker CLI: a CLI
 * process per operation would cost more CPU than the operation on a shared 2-core host, measure
 * the CLI's start-up in every latency, and hide which request failed and with what body.
 *
 *   node --import tsx bench/load.ts --socket S --pid PID --data-root D --containerd ADDR \
 *     [--namespace default] [--image ckptd-bench/busybox:latest] [--clients 8] [--seconds 60]
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** LoadOptions configure one run. */
export interface LoadOptions {
  socket: string;
  /** ckptd's pid (RSS, fds) */
  pid: number;
  dataRoot: string;
  /** containerd's socket and namespace (leases, snapshots) */
  containerd: string;
  namespace?: string;
  image: string;
  clients: number;
  seconds: number;
  /** one untimed pass over every operation first (default true) */
  warmup?: boolean;
  /** where to print progress (default: nothing) */
  log?: (line: string) => void;
}

/** Gauges are what must come back to the baseline. */
export interface Gauges {
  leases: number;
  snapshots: number;
  mounts: number;
  fds: number;
  processes: number;
}

/** LoadResult is what a run measured and concluded. */
export interface LoadResult {
  ops: Record<string, number>;
  errors: string[];
  p50: number;
  p99: number;
  rssPeak10s: number;
  rssEnd: number;
  baseline: Gauges;
  end: Gauges;
  /** why the run fails; empty when it passes */
  failures: string[];
  summary: string;
}

interface Reply {
  status: number;
  body: Buffer;
}

const agentFor = (clients: number) => new http.Agent({ keepAlive: true, maxSockets: clients * 2 });

function call(
  o: LoadOptions,
  agent: http.Agent,
  method: string,
  path: string,
  body?: Buffer | string | object,
  headers: Record<string, string> = {},
): Promise<Reply> {
  let payload: Buffer | string | undefined;
  if (body !== undefined && !Buffer.isBuffer(body) && typeof body === 'object') {
    payload = JSON.stringify(body);
    headers = { 'content-type': 'application/json', ...headers };
  } else payload = body;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: o.socket, method, path: `/v1.47${path}`, agent, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(300_000, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.end(payload);
  });
}

/** execAttached runs an attached exec start (hijacked, as the CLI does) and returns its raw output. */
function execAttached(o: LoadOptions, execId: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath: o.socket,
      method: 'POST',
      path: `/v1.47/exec/${execId}/start`,
      headers: { 'content-type': 'application/json', Connection: 'Upgrade', Upgrade: 'tcp' },
    });
    const collect = (s: NodeJS.ReadableStream, head?: Buffer) => {
      const chunks: Buffer[] = head && head.length > 0 ? [head] : [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
    };
    req.on('upgrade', (_res, socket, head) => {
      collect(socket, head);
      socket.on('end', () => socket.destroy());
    });
    req.on('response', (res) => {
      if ((res.statusCode ?? 0) >= 300) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          reject(new Error(`exec start: ${res.statusCode} ${Buffer.concat(chunks).toString()}`)),
        );
        return;
      }
      collect(res);
    });
    req.on('error', reject);
    req.setTimeout(120_000, () => req.destroy(new Error('timeout: exec start')));
    req.end(JSON.stringify({ Detach: false, Tty: false }));
  });
}

/** tarOf is a one-file ustar archive (cp in). */
function tarOf(name: string, data: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write(
    `${Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, '0')}\0`,
    136,
  );
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad, Buffer.alloc(1024)]);
}

const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');

/** gauges reads what must not grow: containerd's leases and snapshots, mounts, fds, processes. */
export async function gauges(o: LoadOptions): Promise<Gauges> {
  const ctr = async (...a: string[]) =>
    (await execFileP('ctr', ['-a', o.containerd, '-n', o.namespace ?? 'default', ...a])).stdout;
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const ps = (await execFileP('ps', ['-eo', 'args='])).stdout;
  return {
    leases: lines(await ctr('leases', 'ls', '-q')).length,
    snapshots: lines(await ctr('snapshots', 'ls')).length - 1,
    mounts: lines(mountinfo).filter((l) => l.split(' ')[4]?.startsWith(`${o.dataRoot}/`)).length,
    fds: (await readdir(`/proc/${o.pid}/fd`)).length,
    // shims, tar, zstd, criu...: everything naming the data root but containerd itself
    processes: lines(ps).filter(
      (a) => a.includes(o.dataRoot) && !/^(ps|containerd) /.test(a) && !a.includes('containerd --config'),
    ).length,
  };
}

async function rssKiB(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** runLoad runs the clients, then measures and judges. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const say = o.log ?? (() => undefined);
  const agent = agentFor(o.clients);
  let ops: Record<string, number> = {};
  let lat: number[] = [];
  const errors: string[] = [];
  let t0 = Date.now();
  let deadline = t0;
  let rssPeak10s = 0;
  const rssSamples: number[] = [];
  const startSampler = () =>
    setInterval(() => {
      void rssKiB(o.pid).then(
        (r) => {
          rssSamples.push(r);
          if (Date.now() - t0 <= 10_000) rssPeak10s = Math.max(rssPeak10s, r);
        },
        () => undefined,
      );
    }, 500);

  /** op times one request and checks its status; false (and an error recorded) otherwise. */
  const op = async (
    kind: string,
    ok: (r: Reply) => boolean,
    f: () => Promise<Reply>,
  ): Promise<Reply | undefined> => {
    const s = performance.now();
    try {
      const r = await f();
      lat.push(performance.now() - s);
      ops[kind] = (ops[kind] ?? 0) + 1;
      if (!ok(r)) {
        errors.push(`${kind}: ${r.status} ${r.body.toString().slice(0, 300)}`);
        return undefined;
      }
      return r;
    } catch (err) {
      errors.push(`${kind}: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  };
  const is =
    (...codes: number[]) =>
    (r: Reply) =>
      codes.includes(r.status);

  const client = async (n: number, once = false) => {
    const cpData = Buffer.alloc(4096, n + 1);
    const cpTar = tarOf('f', cpData);
    for (let i = 0; once ? i < 2 : Date.now() < deadline; i++) {
      const name = `load-${process.pid}-${n}-${i}`;
      const created = await op('create', is(201), () =>
        call(o, agent, 'POST', `/containers/create?name=${name}`, {
          Image: o.image,
          Cmd: ['sh', '-c', "trap 'exit 0' TERM; while :; do echo tick; sleep 0.2; done"],
          HostConfig: { NetworkMode: 'none' },
        }),
      );
      if (!created) {
        await sleep(500);
        continue;
      }
      const id = (JSON.parse(created.body.toString()) as { Id: string }).Id;
      try {
        await op('start', is(204), () => call(o, agent, 'POST', `/containers/${id}/start`));
        const ex = await op('exec', is(201), () =>
          call(o, agent, 'POST', `/containers/${id}/exec`, {
            AttachStdout: true,
            AttachStderr: true,
            Cmd: ['echo', `hi-${n}`],
          }),
        );
        if (ex) {
          const eid = (JSON.parse(ex.body.toString()) as { Id: string }).Id;
          await op(
            'exec',
            (r) => r.status === 200 && r.body.includes(`hi-${n}`),
            async () => ({ status: 200, body: await execAttached(o, eid) }),
          );
        }
        await op('logs', is(200), () =>
          call(o, agent, 'GET', `/containers/${id}/logs?stdout=1&stderr=1&tail=20`),
        );
        await op('cp-in', is(200), () =>
          call(o, agent, 'PUT', `/containers/${id}/archive?path=/tmp`, cpTar, {
            'content-type': 'application/x-tar',
          }),
        );
        await op(
          'cp-out',
          (r) => r.status === 200 && r.body.includes(cpData),
          () => call(o, agent, 'GET', `/containers/${id}/archive?path=/tmp/f`),
        );
        await op('list', is(200), () => call(o, agent, 'GET', '/containers/json?all=1'));
        await op('inspect', is(200), () => call(o, agent, 'GET', `/containers/${id}/json`));
        if (i % 2 === 0) {
          const repo = `load/c${process.pid}-${n}`;
          const c = await op('commit', is(201), () =>
            call(o, agent, 'POST', `/commit?container=${id}&repo=${repo}&tag=${i}`),
          );
          if (c) await op('rmi', is(200), () => call(o, agent, 'DELETE', `/images/${repo}:${i}`));
        } else {
          await op('export', is(200), () => call(o, agent, 'GET', `/containers/${id}/export`));
        }
        if (i % 2 === 1 || o.seconds < 30) {
          const cp = await op('checkpoint', is(200, 201), () =>
            call(o, agent, 'POST', `/containers/${id}/checkpoint?name=cp${i}`),
          );
          if (cp) {
            await op('restore', is(200, 201), () =>
              call(o, agent, 'POST', `/containers/${id}/restore?checkpoint=cp${i}`),
            );
            await op('checkpoint-rm', is(204), () =>
              call(o, agent, 'DELETE', `/containers/${id}/checkpoints/cp${i}`),
            );
          }
        }
        await op('inspect', is(200), () => call(o, agent, 'GET', `/containers/${id}/json`));
        await op('stop', is(204, 304), () => call(o, agent, 'POST', `/containers/${id}/stop?t=5`));
      } finally {
        await op('rm', is(204), () => call(o, agent, 'DELETE', `/containers/${id}?force=1&v=1`));
      }
    }
  };
  // warm-up (errors count, nothing else): every code path of the daemon loaded and its pools
  // grown before the baseline and the first ten seconds' RSS peak are taken
  if (o.warmup !== false) {
    say('load: warm-up (one client, each operation once)');
    await client(-1, true);
    ops = {};
    lat = [];
    await sleep(2000);
  }
  const baseline = await gauges(o);
  t0 = Date.now();
  deadline = t0 + o.seconds * 1000;
  const sampler = startSampler();
  say(`load: ${o.clients} clients for ${o.seconds} s`);
  await Promise.all(Array.from({ length: o.clients }, (_, n) => client(n)));
  const ran = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  agent.destroy();
  // let shims exit and the daemon settle: the gauges must come back, not merely stop growing
  let end = await gauges(o);
  const settle = Date.now() + 30_000;
  const back = (g: Gauges) =>
    g.leases <= baseline.leases &&
    g.snapshots <= baseline.snapshots &&
    g.mounts <= baseline.mounts &&
    g.processes <= baseline.processes &&
    g.fds <= baseline.fds + 4;
  while (!back(end) && Date.now() < settle) {
    await sleep(1000);
    end = await gauges(o);
  }
  const rssEnd = await rssKiB(o.pid);
  lat.sort((a, b) => a - b);
  const q = (p: number) =>
    lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!) : 0;
  const failures: string[] = [];
  if (errors.length > 0) failures.push(`${errors.length} unexpected errors, first: ${errors[0]}`);
  for (const k of ['leases', 'snapshots', 'mounts', 'processes'] as const) {
    if (end[k] > baseline[k]) failures.push(`${k} leaked: ${baseline[k]} -> ${end[k]}`);
  }
  if (end.fds > baseline.fds + 4) failures.push(`fds leaked: ${baseline.fds} -> ${end.fds}`);
  if (rssPeak10s > 0 && rssEnd > rssPeak10s * 1.2) {
    failures.push(`RSS grew: ${rssEnd} kB at the end > 120% of the first 10 s peak (${rssPeak10s} kB)`);
  }
  const total = Object.values(ops).reduce((a, b) => a + b, 0);
  const byKind = Object.entries(ops)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const g = (k: keyof Gauges) => `${k} ${baseline[k]}->${end[k]}`;
  const summary =
    `load ${o.clients} clients ${ran.toFixed(0)} s: ${total} ops (${byKind}), errors ${errors.length}, ` +
    `p50 ${q(0.5)} ms p99 ${q(0.99)} ms, RSS first-10s peak ${(rssPeak10s / 1024).toFixed(0)} MiB ` +
    `end ${(rssEnd / 1024).toFixed(0)} MiB, ${g('leases')} ${g('snapshots')} ${g('mounts')} ${g('fds')} ` +
    `${g('processes')}: ${failures.length === 0 ? 'PASS' : `FAIL (${failures.join('; ')})`}`;
  return { ops, errors, p50: q(0.5), p99: q(0.99), rssPeak10s, rssEnd, baseline, end, failures, summary };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const a: Record<string, string> = {};
  for (let i = 2; i < process.argv.length; i += 2)
    a[process.argv[i]!.replace(/^--/, '')] = process.argv[i + 1]!;
  const res = await runLoad({
    socket: a.socket!,
    pid: Number(a.pid),
    dataRoot: a['data-root']!,
    containerd: a.containerd!,
    namespace: a.namespace ?? 'default',
    image: a.image ?? 'ckptd-bench/busybox:latest',
    clients: Number(a.clients ?? 8),
    seconds: Number(a.seconds ?? 60),
    log: (l) => console.error(l),
  });
  for (const e of res.errors.slice(0, 10)) console.error(`error: ${e}`);
  console.log(res.summary);
  process.exit(res.failures.length === 0 ? 0 : 1);
}
