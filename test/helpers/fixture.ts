// The integration tests' one fixture: a containerd of the suite's own, a ckptd on it, a work
// directory, and the helpers every file needs (the docker CLI, the API over the unix socket,
// inspect, docker-py, ctr, polling), with cleanup registered on node:test's hooks.
//
//   describe('x through ckptd', () => {
//     const f = ckptdFixture({ ns: 'ckptd-x' });   // registers before() and after() on this suite
//     const { docker, api } = f;
//     test('...', async (t) => { f.removeAfter(t, 'c1'); await docker('run', '--name', 'c1', IMG, 'true'); });
//   });
//
// The suite's before() builds the test image(s) and imports them with ctr, starts containerd and
// ckptd; its after() runs what the file registered with `f.teardown` (while the daemon still
// answers), stops ckptd, audits what it left (exit code, mounts under its data root), stops
// containerd and removes the work directory. A file's own before() (registered after the fixture)
// runs after the daemons are up.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { ContainerdClient } from '../../src/containerd/client.js';
import {
  httpBuffer,
  httpRequest,
  startCkptd,
  type CkptdProcess,
  type HttpBufferResult,
  type HttpResult,
} from './ckptd.js';
import { startContainerd, type RunningContainerd } from './containerd.js';
import { buildTestImage, type TestImage, type TestImageOptions } from './images.js';

/** IMG is the default test image (busybox-static, built by buildTestImage). */
export const IMG = 'ckptd-test/busybox:latest';
/** API is the version prefix the tests speak. */
export const API = '/v1.47';
/** COUNTER is a shell loop that writes an increasing number into /tmp/c (atomically: rename). */
export const COUNTER =
  'i=0; while true; do i=$((i+1)); echo $i > /tmp/c.t; mv /tmp/c.t /tmp/c; sleep 0.1; done';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** until polls `fn` until it answers true (a throw counts as false); fails the test naming `what`. */
export async function until(
  what: string,
  fn: () => Promise<boolean>,
  opts: { timeout?: number; interval?: number } | number = {},
): Promise<void> {
  const { timeout = 20_000, interval = 100 } = typeof opts === 'number' ? { timeout: opts } : opts;
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await sleep(interval);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Run is one finished docker CLI command. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** DockerOptions shape one docker CLI call. */
export interface DockerOptions {
  /** input is written to stdin; stdin always ends (a CLI that prompts fails instead of hanging). */
  input?: string | Buffer;
  /** env is added to the environment (after DOCKER_HOST and DOCKER_CONFIG). */
  env?: Record<string, string>;
  /** timeout in ms (default: the CLI's); the CLI is run under timeout(1) -k 5. */
  timeout?: number;
  /** config is the DOCKER_CONFIG directory (default: the CLI's). */
  config?: string;
}

/** ExecError is what a failed command rejects with (as child_process.execFile's errors). */
export type ExecError = Error & { code?: number | string; stdout?: string; stderr?: string };

/** DockerCli drives one daemon through the docker CLI, raw HTTP and docker-py. */
export interface DockerCli {
  readonly socket: string;
  /** run runs the docker CLI and never throws: exit code, stdout, stderr. */
  run(args: string[], opts?: DockerOptions): Promise<Run>;
  /** docker runs the CLI and answers its stdout; a non-zero exit rejects (ExecError: code, stderr). */
  docker(...args: string[]): Promise<string>;
  /** dockerBuffer is docker with stdout as bytes (save, export, cp to stdout). */
  dockerBuffer(...args: string[]): Promise<Buffer>;
  /** ok is docker that asserts the exit code 0 (the message carries stderr). */
  ok(...args: string[]): Promise<string>;
  /** fails runs a command that must fail and answers its stderr. */
  fails(...args: string[]): Promise<string>;
  /** api sends one request under /v1.47: an object body as JSON, a Buffer or string as it is. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  /**
   * apiBuffer is api with the answer's body as bytes (180 s timeout); a Buffer body goes as
   * application/x-tar unless `headers` are given.
   */
  apiBuffer(
    method: string,
    path: string,
    body?: Buffer | string,
    headers?: Record<string, string>,
  ): Promise<HttpBufferResult>;
  /** request sends one request at `path` as it is (no version prefix). */
  request(
    method: string,
    path: string,
    body?: string | Buffer,
    headers?: Record<string, string>,
  ): Promise<HttpResult>;
  /** inspect is `docker inspect --type container REF`, parsed. */
  inspect<T = Record<string, unknown>>(ref: string): Promise<T>;
  /** python runs docker-py code; CKPTD_SOCK is the daemon's unix:// address. */
  python(code: string, timeout?: number): Promise<string>;
}

/** DockerCliOptions shape a DockerCli. */
export interface DockerCliOptions {
  /** socket of the daemon, or a function answering it (a restarted daemon gets a new socket). */
  socket: string | (() => string);
  /** config is the DOCKER_CONFIG directory. */
  config: string | (() => string);
  /** timeout of one docker CLI call in ms (default 120 s). */
  timeout?: number;
  /** maxBuffer of one call's output (default 64 MiB). */
  maxBuffer?: number;
}

function execCli(
  file: string,
  args: string[],
  opts: {
    env: NodeJS.ProcessEnv;
    maxBuffer: number;
    input?: string | Buffer;
    buffer: boolean;
    timeout?: number;
  },
): Promise<{ stdout: string | Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { env: opts.env, maxBuffer: opts.maxBuffer, encoding: 'buffer', timeout: opts.timeout ?? 0 },
      (err, stdout, stderr) => {
        const out = opts.buffer ? stdout : stdout.toString();
        if (err) {
          const e = err as ExecError;
          e.stdout = stdout.toString();
          e.stderr = stderr.toString();
          reject(e);
        } else resolve({ stdout: out, stderr: stderr.toString() });
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input ?? '');
  });
}

/** dockerCli makes the helpers that drive one daemon. */
export function dockerCli(o: DockerCliOptions): DockerCli {
  const socket = (): string => (typeof o.socket === 'string' ? o.socket : o.socket());
  const config = (): string => (typeof o.config === 'string' ? o.config : o.config());
  const maxBuffer = o.maxBuffer ?? 64 << 20;
  const call = (args: string[], opts: DockerOptions & { buffer?: boolean } = {}) =>
    execCli(
      'timeout',
      ['-k', '5', String(Math.ceil((opts.timeout ?? o.timeout ?? 120_000) / 1000)), 'docker', ...args],
      {
        env: {
          ...process.env,
          DOCKER_HOST: `unix://${socket()}`,
          DOCKER_CONFIG: opts.config ?? config(),
          ...opts.env,
        },
        maxBuffer,
        input: opts.input,
        buffer: opts.buffer === true,
      },
    );
  const run = async (args: string[], opts?: DockerOptions): Promise<Run> => {
    try {
      const { stdout, stderr } = await call(args, opts);
      return { code: 0, stdout: stdout.toString(), stderr };
    } catch (err) {
      const e = err as ExecError;
      return {
        code: typeof e.code === 'number' ? e.code : 1,
        stdout: e.stdout ?? '',
        stderr: e.stderr ?? '',
      };
    }
  };
  const docker = async (...args: string[]): Promise<string> => (await call(args)).stdout.toString();
  const api: DockerCli['api'] = (method, path, body, headers = {}) => {
    if (body === undefined) return httpRequest(socket(), method, `${API}${path}`, undefined, headers);
    if (Buffer.isBuffer(body) || typeof body === 'string')
      return httpRequest(socket(), method, `${API}${path}`, body, headers);
    return httpRequest(socket(), method, `${API}${path}`, JSON.stringify(body), {
      'content-type': 'application/json',
      ...headers,
    });
  };
  return {
    get socket() {
      return socket();
    },
    run,
    docker,
    dockerBuffer: async (...args) => (await call(args, { buffer: true })).stdout as Buffer,
    async ok(...args) {
      const r = await run(args);
      assert.equal(r.code, 0, `docker ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    async fails(...args) {
      try {
        await docker(...args);
      } catch (err) {
        return String((err as ExecError).stderr ?? err);
      }
      return assert.fail(`docker ${args.join(' ')} succeeded`);
    },
    api,
    apiBuffer: (method, path, body, headers) =>
      httpBuffer(
        socket(),
        method,
        `${API}${path}`,
        body,
        headers ?? (Buffer.isBuffer(body) ? { 'content-type': 'application/x-tar' } : {}),
      ),
    request: (method, path, body, headers = {}) => httpRequest(socket(), method, path, body, headers),
    inspect: async <T>(ref: string): Promise<T> =>
      (JSON.parse(await docker('inspect', '--type', 'container', ref)) as T[])[0] as T,
    async python(code, timeout = 120_000) {
      const { stdout } = await execCli('python3', ['-c', code], {
        env: { ...process.env, CKPTD_SOCK: `unix://${socket()}` },
        maxBuffer,
        buffer: false,
        timeout,
      });
      return stdout.toString().trim();
    },
  };
}

/** ContainerdFixtureOptions shape a suite's own containerd. */
export interface ContainerdFixtureOptions {
  /** ns is the containerd namespace the suite works in (ctr, client). */
  ns: string;
  /** images are built (busybox-static + layers) into the work dir and imported with ctr. */
  images?: TestImageOptions[];
  /** managed: no containerd of the suite's (ckptd starts its own). */
  managed?: boolean;
}

/** ContainerdFixture is a suite's containerd, its work directory and a client. */
export interface ContainerdFixture {
  readonly ns: string;
  /** work is the suite's scratch directory, removed at the end. */
  readonly work: string;
  readonly ctd: RunningContainerd;
  /** client is a ContainerdClient in ns (made on first use, closed at the end). */
  readonly client: ContainerdClient;
  /** images are the built test images, in the order of the images option. */
  readonly images: TestImage[];
  /** ctr runs `ctr -a <address> -n <ns> ARGS` and answers its trimmed stdout. */
  ctr(...args: string[]): Promise<string>;
  /** buildImage writes a test image archive under the work dir. */
  buildImage(file: string, opts?: TestImageOptions): Promise<TestImage>;
  /** tempDir makes a directory (not under work) removed at the end of the suite. */
  tempDir(prefix: string): Promise<string>;
  /** teardown registers `fn` to run at the end of the suite, before the daemons stop (last first). */
  teardown(fn: () => unknown): void;
}

interface ContainerdState {
  work?: string;
  ctd?: RunningContainerd;
  client?: ContainerdClient;
  images: TestImage[];
  temps: string[];
  teardowns: (() => unknown)[];
}

function notYet(what: string): never {
  throw new Error(`fixture: ${what} is available once the suite's before() ran`);
}

function containerdParts(o: ContainerdFixtureOptions, s: ContainerdState) {
  const ctr = async (...args: string[]): Promise<string> => {
    const ctd = s.ctd ?? notYet('ctr');
    return (
      await execCli('ctr', ['-a', ctd.address, '-n', o.ns, ...args], {
        env: process.env,
        maxBuffer: 64 << 20,
        buffer: false,
      })
    ).stdout
      .toString()
      .trim();
  };
  const fixture: ContainerdFixture = {
    ns: o.ns,
    get work() {
      return s.work ?? notYet('work');
    },
    get ctd() {
      return s.ctd ?? notYet('ctd');
    },
    get client() {
      s.client ??= new ContainerdClient({ address: fixture.ctd.address, namespace: o.ns });
      return s.client;
    },
    get images() {
      return s.images;
    },
    ctr,
    buildImage: (file, opts) => buildTestImage(join(fixture.work, file), opts),
    async tempDir(prefix) {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      s.temps.push(dir);
      return dir;
    },
    teardown(fn) {
      s.teardowns.push(fn);
    },
  };
  const setUp = async (): Promise<void> => {
    s.work = await mkdtemp(join(tmpdir(), `${o.ns}-`));
    if (o.managed) return;
    s.ctd = await startContainerd();
    for (const [i, img] of (o.images ?? []).entries()) {
      const built = await buildTestImage(join(s.work, i === 0 ? 'img.tar' : `img${i}.tar`), img);
      s.images.push(built);
      await ctr('images', 'import', built.path);
    }
  };
  const runTeardowns = async (): Promise<void> => {
    for (const fn of s.teardowns.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        console.warn(`fixture teardown: ${String(err)}`);
      }
    }
  };
  const tearDown = async (): Promise<void> => {
    s.client?.close();
    await s.ctd?.stop();
    for (const dir of [...s.temps, ...(s.work ? [s.work] : [])])
      await rm(dir, { recursive: true, force: true });
  };
  return { fixture, setUp, runTeardowns, tearDown };
}

/** containerdFixture starts a containerd of the suite's own (no ckptd): before() up, after() down. */
export function containerdFixture(o: ContainerdFixtureOptions): ContainerdFixture {
  const s: ContainerdState = { images: [], temps: [], teardowns: [] };
  const parts = containerdParts(o, s);
  before(parts.setUp);
  after(async () => {
    await parts.runTeardowns();
    await parts.tearDown();
  });
  return parts.fixture;
}

/** CkptdFixtureOptions shape a suite's daemons; every field has the common value as default. */
export interface CkptdFixtureOptions {
  /** ns is the containerd namespace ckptd serves (--containerd-namespace); it names the work dir. */
  ns: string;
  /** images are built and imported with ctr before ckptd starts (default: IMG alone; [] for none). */
  images?: TestImageOptions[];
  /** args are more ckptd flags. */
  args?: string[];
  /**
   * containerd: 'own' (default) starts one for the suite and passes --containerd; 'managed' lets
   * ckptd start its own under its data root (nothing at /run/containerd/containerd.sock here).
   */
  containerd?: 'own' | 'managed';
  /** dockerTimeout is one docker CLI call's timeout in ms (default 120 s). */
  dockerTimeout?: number;
  /** untilTimeout is f.until's default in ms (default 20 s); untilInterval its poll (100 ms). */
  untilTimeout?: number;
  untilInterval?: number;
  /** start: false leaves starting ckptd to the file (f.start()). */
  start?: boolean;
  /** auditStrict fails the suite when the audit at its end finds something (default: env CKPTD_TEST_AUDIT=strict). */
  auditStrict?: boolean;
}

/** CkptdFixture is a suite's containerd + ckptd and the helpers to drive them. */
export interface CkptdFixture extends ContainerdFixture, DockerCli {
  /** d is the running ckptd (a new one after restart()). */
  readonly d: CkptdProcess;
  readonly dataRoot: string;
  /** dockerConfig is the CLI's DOCKER_CONFIG directory (<work>/docker-config). */
  readonly dockerConfig: string;
  /** until is the module's until with this suite's defaults. */
  until(what: string, fn: () => Promise<boolean>, timeout?: number): Promise<void>;
  /** start starts ckptd on the suite's data root (more flags: `args`). */
  start(args?: string[]): Promise<CkptdProcess>;
  /** kill9 SIGKILLs ckptd (as a crash) and waits for its exit; the data root is kept for start(). */
  kill9(): Promise<void>;
  /** restart stops ckptd (SIGKILL: a crash, or SIGTERM) and starts it again on the same data root. */
  restart(opts?: {
    signal?: 'SIGKILL' | 'SIGTERM';
    args?: string[];
    down?: () => Promise<unknown>;
  }): Promise<void>;
  /** removeAfter registers `docker rm -f NAMES` on the test's after hook (errors ignored). */
  removeAfter(t: TestContext, ...names: string[]): void;
}

/**
 * ckptdFixture registers, on the current suite, a before() that starts containerd and ckptd and
 * an after() that stops and audits them; the returned object is usable from the tests (and
 * from the file's own before()).
 */
export function ckptdFixture(o: CkptdFixtureOptions): CkptdFixture {
  const s: ContainerdState = { images: [], temps: [], teardowns: [] };
  const parts = containerdParts(
    { ns: o.ns, images: o.images ?? [{ name: IMG }], managed: o.containerd === 'managed' },
    s,
  );
  const base = parts.fixture;
  let d: CkptdProcess | undefined;
  const dataRoot = (): string => join(base.work, 'data');
  const dockerConfig = (): string => join(base.work, 'docker-config');
  const cli = dockerCli({
    socket: () => (d ?? notYet('ckptd')).socket,
    config: dockerConfig,
    timeout: o.dockerTimeout,
  });
  const start = async (args: string[] = []): Promise<CkptdProcess> => {
    // a ckptd that was killed leaves its socket directory
    if (d && (d.child.exitCode !== null || d.child.signalCode !== null))
      await rm(d.dir, { recursive: true, force: true });
    const where = o.containerd === 'managed' ? [] : ['--containerd', base.ctd.address];
    d = await startCkptd([...where, '--containerd-namespace', o.ns, ...(o.args ?? []), ...args], {
      dataRoot: dataRoot(),
    });
    return d;
  };
  const kill9 = async (): Promise<void> => {
    const c = (d ?? notYet('ckptd')).child;
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    }
  };
  const audit = async (): Promise<void> => {
    const problems: string[] = [];
    if (d) {
      const wasRunning = d.child.exitCode === null && d.child.signalCode === null;
      const code = await d.stop();
      if (wasRunning && code !== 0) problems.push(`ckptd exited ${code} on SIGTERM`);
      const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
        .split('\n')
        .map((l) => l.split(' ')[4] ?? '')
        .filter((p) => p.startsWith(`${dataRoot()}/`) && !p.startsWith(`${dataRoot()}/containerd/`));
      if (mounts.length > 0) problems.push(`mounts left under the data root: ${mounts.join(', ')}`);
      await rm(d.dir, { recursive: true, force: true });
    }
    if (problems.length === 0) return;
    const msg = `fixture audit (${o.ns}): ${problems.join('; ')}`;
    if (o.auditStrict ?? process.env.CKPTD_TEST_AUDIT === 'strict') throw new Error(msg);
    console.warn(msg);
  };

  before(async () => {
    await parts.setUp();
    await mkdir(dockerConfig(), { recursive: true });
    if (o.start !== false) await start();
  });
  after(async () => {
    await parts.runTeardowns();
    if (process.env.CKPTD_TEST_LOGS && d) console.log(d.logs());
    try {
      await audit();
    } finally {
      await parts.tearDown();
    }
  });

  const f: CkptdFixture = {
    get ns() {
      return base.ns;
    },
    get work() {
      return base.work;
    },
    get ctd() {
      return base.ctd;
    },
    get client() {
      return base.client;
    },
    get images() {
      return base.images;
    },
    get socket() {
      return cli.socket;
    },
    get d() {
      return d ?? notYet('ckptd');
    },
    get dataRoot() {
      return dataRoot();
    },
    get dockerConfig() {
      return dockerConfig();
    },
    run: cli.run,
    docker: cli.docker,
    dockerBuffer: cli.dockerBuffer,
    ok: cli.ok,
    fails: cli.fails,
    api: cli.api,
    apiBuffer: cli.apiBuffer,
    request: cli.request,
    inspect: cli.inspect,
    python: cli.python,
    ctr: base.ctr,
    buildImage: base.buildImage,
    tempDir: base.tempDir,
    teardown: base.teardown,
    until: (what, fn, timeout) =>
      until(what, fn, { timeout: timeout ?? o.untilTimeout ?? 20_000, interval: o.untilInterval ?? 100 }),
    start,
    kill9,
    async restart(r = {}) {
      const old = d ?? notYet('ckptd');
      if (r.signal === 'SIGTERM') await old.stop();
      else await kill9();
      await r.down?.();
      await start(r.args);
      await rm(old.dir, { recursive: true, force: true });
    },
    removeAfter(t, ...names) {
      t.after(async () => {
        if (d && d.child.exitCode === null) await cli.run(['rm', '-f', ...names]);
      });
    },
  };
  return f;
}
