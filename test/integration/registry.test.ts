// Registries end to end: Debian's docker-registry (distribution 2.8) on loopback, plain, with
// htpasswd Basic auth and with a Bearer token server written here, driven by the docker CLI
// against ckptd (a real containerd each): login, push, rmi, pull, run; commit -> push -> pull
// on a second ckptd+containerd -> run; a pull cut midway (resumed, or failing and leaving
// nothing); a push to a registry that dies; schema 1 refused.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSign, randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ContainerdClient } from '../../src/containerd/client.js';
import { NotFoundError } from '../../src/errors/index.js';
import { httpRequest, startCkptd, type CkptdProcess } from '../helpers/ckptd.js';
import { startContainerd, type RunningContainerd } from '../helpers/containerd.js';
import { buildTestImage } from '../helpers/images.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-registry';

interface Registry {
  host: string;
  port: number;
  child: ChildProcess;
  kill(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  s.close();
  return port;
}

async function startRegistry(dir: string, auth = ''): Promise<Registry> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const cfg = join(dir, 'config.yml');
  await writeFile(
    cfg,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'storage')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      auth,
      '',
    ].join('\n'),
  );
  const child = spawn('docker-registry', ['serve', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const r = http.get(`http://127.0.0.1:${port}/v2/`, (res) => {
        res.resume();
        resolve(true);
      });
      r.on('error', () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    child,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    },
  };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** TokenServer issues registry tokens (RS256 JWT with the cert in x5c) for user/pass. */
interface TokenServer {
  realm: string;
  requests: string[];
  close(): void;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

async function startTokenServer(
  keyPem: string,
  certPem: string,
  user: string,
  pass: string,
): Promise<TokenServer> {
  const der = new X509Certificate(certPem).raw.toString('base64');
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push(u.search);
    const authz = req.headers.authorization ?? '';
    let account = '';
    if (authz.startsWith('Basic ')) {
      const [a, p] = Buffer.from(authz.slice(6), 'base64').toString().split(':');
      if (a !== user || p !== pass) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      account = a;
    }
    const access = u.searchParams.getAll('scope').flatMap((s) => {
      const [type, name, actions] = s.split(':');
      // Anonymous callers get nothing; the account gets what it asks for.
      return account ? [{ type, name, actions: (actions ?? '').split(',') }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [der] };
    const claims = {
      iss: 'ckptd-test-issuer',
      sub: account,
      aud: u.searchParams.get('service'),
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(keyPem);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: `${input}.${b64url(sig)}`, expires_in: 300 }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return { realm: `http://127.0.0.1:${port}/token`, requests, close: () => server.close() };
}

/**
 * startProxy forwards to a registry; `cutBlobAfter` cuts blob GET answers larger than that after
 * so many bytes (`cutTimes` times, then lets them through); `dieOnUpload` kills the registry once
 * a blob upload has sent that many bytes.
 */
async function startProxy(
  target: Registry,
  opts: { cutBlobAfter?: number; cutTimes?: number; dieOnUploadAfter?: number },
): Promise<{ host: string; cuts: number; close(): void }> {
  const state = { cuts: 0 };
  const server = http.createServer((req, res) => {
    const isBlobGet = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');
    const isUpload =
      req.method === 'PATCH' || (req.method === 'PUT' && /\/blobs\/uploads\//.test(req.url ?? ''));
    const up = http.request(
      { host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        const len = Number(r.headers['content-length'] ?? 0);
        const cut =
          isBlobGet &&
          opts.cutBlobAfter !== undefined &&
          len > opts.cutBlobAfter &&
          state.cuts < (opts.cutTimes ?? Infinity);
        if (!cut) {
          r.pipe(res);
          return;
        }
        state.cuts++;
        let sent = 0;
        r.on('data', (c: Buffer) => {
          if (sent >= opts.cutBlobAfter!) return;
          const part = c.subarray(0, opts.cutBlobAfter! - sent);
          sent += part.length;
          res.write(part);
          if (sent >= opts.cutBlobAfter!) {
            r.destroy();
            res.socket?.destroy();
          }
        });
      },
    );
    up.on('error', () => res.socket?.destroy());
    let uploaded = 0;
    req.on('data', (c: Buffer) => {
      uploaded += c.length;
      if (isUpload && opts.dieOnUploadAfter !== undefined && uploaded > opts.dieOnUploadAfter) {
        void target.kill();
      }
    });
    req.pipe(up);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    get cuts() {
      return state.cuts;
    },
    close: () => server.close(),
  };
}

describe('registries: pull, push, login', { timeout: 900_000 }, () => {
  let work = '';
  let ctdA: RunningContainerd;
  let ctdB: RunningContainerd;
  let a: CkptdProcess;
  let b: CkptdProcess;
  let clientA: ContainerdClient;
  let plain: Registry;
  let basic: Registry;
  let tokenReg: Registry;
  let tokens: TokenServer;
  const cleanups: (() => Promise<void> | void)[] = [];
  let bigLayerDigestHex = '';

  const docker = (d: CkptdProcess, args: string[], input?: string, config = 'cfg'): Promise<Run> =>
    new Promise((resolve) => {
      const child = execFile(
        'timeout',
        ['-k', '5', '180', 'docker', ...args],
        {
          env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, DOCKER_CONFIG: join(work, config) },
          maxBuffer: 16 << 20,
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      // stdin always ends: a CLI that prompts (for a login) fails instead of hanging.
      child.stdin?.end(input ?? '');
    });
  const ok = async (d: CkptdProcess, args: string[], input?: string, config = 'cfg'): Promise<string> => {
    const r = await docker(d, args, input, config);
    assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ckptd-registry-'));
    await mkdir(join(work, 'cfg'));
    ctdA = await startContainerd();
    ctdB = await startContainerd();
    const tarPath = join(work, 'img.tar');
    const img = await buildTestImage(tarPath, {
      name: 'regtest/app:latest',
      extraLayers: [
        [{ path: 'hello.txt', content: 'hello from the registry test\n' }],
        [{ path: 'big.bin', content: randomBytes(6 << 20) }],
      ],
    });
    bigLayerDigestHex = img.diffIds[2]!.slice(7);
    a = await startCkptd(['--containerd', ctdA.address, '--containerd-namespace', NS]);
    b = await startCkptd(['--containerd', ctdB.address, '--containerd-namespace', NS]);
    clientA = new ContainerdClient({ address: ctdA.address, namespace: NS });
    await ok(a, ['load', '-i', tarPath]);

    plain = await startRegistry(join(work, 'plain'));
    cleanups.push(() => plain.kill());
    await execFileP('htpasswd', ['-Bbc', join(work, 'htpasswd'), 'alice', 's3cret']);
    basic = await startRegistry(
      join(work, 'basic'),
      ['auth:', '  htpasswd:', '    realm: ckptd-test', `    path: ${join(work, 'htpasswd')}`].join('\n'),
    );
    cleanups.push(() => basic.kill());
    await execFileP('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=ckptd-token',
      '-keyout',
      join(work, 'token.key'),
      '-out',
      join(work, 'token.crt'),
    ]);
    tokens = await startTokenServer(
      await readFile(join(work, 'token.key'), 'utf8'),
      await readFile(join(work, 'token.crt'), 'utf8'),
      'bob',
      'hunter2',
    );
    cleanups.push(() => tokens.close());
    tokenReg = await startRegistry(
      join(work, 'token'),
      [
        'auth:',
        '  token:',
        `    realm: ${tokens.realm}`,
        '    service: ckptd-test-registry',
        '    issuer: ckptd-test-issuer',
        `    rootcertbundle: ${join(work, 'token.crt')}`,
      ].join('\n'),
    );
    cleanups.push(() => tokenReg.kill());
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c();
    clientA?.close();
    await a?.cleanup();
    await b?.cleanup();
    await ctdA?.stop();
    await ctdB?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** leftovers lists what a failed operation could leak in instance A's containerd. */
  const leftovers = async (): Promise<{ leases: number; ingests: number }> => {
    const leases = (await clientA.leases.list()).length;
    const ingests = (await clientA.content.listStatuses()).length;
    return { leases, ingests };
  };
  const waitGone = async (digest: string): Promise<boolean> => {
    for (let i = 0; i < 100; i++) {
      try {
        await clientA.content.info(digest);
      } catch (err) {
        if (err instanceof NotFoundError) return true;
        throw err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };

  test('push, rmi, pull with dockerd progress, then run the pulled image (plain registry)', async () => {
    const ref = `${plain.host}/regtest/app:v1`;
    await ok(a, ['tag', 'regtest/app:latest', ref]);
    const pushed = await ok(a, ['push', ref]);
    assert.match(pushed, new RegExp(`The push refers to repository \\[${plain.host}/regtest/app\\]`));
    assert.match(pushed, /: Pushed/);
    assert.match(pushed, /v1: digest: sha256:[0-9a-f]{64} size: \d+/);
    const again = await ok(a, ['push', ref]);
    assert.match(again, /Layer already exists/);
    await ok(a, ['rmi', ref]);
    await ok(a, ['rmi', 'regtest/app:latest']);
    assert.equal((await docker(a, ['image', 'inspect', ref])).code, 1);

    // The raw stream, as dockerd writes it.
    const r = await httpRequest(
      a.socket,
      'POST',
      `/images/create?fromImage=${encodeURIComponent(`${plain.host}/regtest/app`)}&tag=v1`,
    );
    assert.equal(r.status, 200);
    const lines = r.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines[0], { status: 'Pulling from regtest/app', id: 'v1' });
    const statuses = lines.map((l) => l.status);
    for (const s of [
      'Pulling fs layer',
      'Downloading',
      'Verifying Checksum',
      'Download complete',
      'Extracting',
      'Pull complete',
    ]) {
      assert.ok(statuses.includes(s), `missing ${s} in ${r.body}`);
    }
    const dl = lines.find((l) => l.status === 'Downloading' && l.id === bigLayerDigestHex.slice(0, 12));
    assert.ok(dl, `no Downloading line for the big layer: ${r.body}`);
    assert.match(String(dl.progress), /^\[=*>\s*\]\s+\S+\/\S+MB$/);
    assert.equal((dl.progressDetail as { total: number }).total > 6_000_000, true);
    assert.match(String(lines.at(-2)?.status), /^Digest: sha256:[0-9a-f]{64}$/);
    assert.equal(lines.at(-1)?.status, `Status: Downloaded newer image for ${plain.host}/regtest/app:v1`);
    const up = await ok(a, ['pull', ref]);
    assert.match(up, /Already exists/);
    assert.match(up, new RegExp(`Status: Image is up to date for ${plain.host}/regtest/app:v1`));
    const out = await ok(a, ['run', '--rm', ref, 'cat', '/hello.txt']);
    assert.equal(out, 'hello from the registry test\n');
    // The layers carry containerd's distribution source label, used for cross-repo mounts.
    const other = `${plain.host}/elsewhere/app:v1`;
    await ok(a, ['tag', ref, other]);
    assert.match(await ok(a, ['push', other]), /Mounted from regtest\/app/);
  });

  test("docker run of a missing image pulls it; a missing tag is dockerd's not found", async () => {
    const ref = `${plain.host}/regtest/app:v1`;
    await ok(a, ['rmi', ref, `${plain.host}/elsewhere/app:v1`]);
    const r = await docker(a, ['run', '--rm', ref, 'cat', '/hello.txt']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello from the registry test\n');
    assert.match(r.stderr, /Unable to find image/);
    const missing = await docker(a, ['pull', `${plain.host}/regtest/app:nope`]);
    assert.notEqual(missing.code, 0);
    assert.match(
      missing.stderr,
      new RegExp(`manifest for ${plain.host}/regtest/app:nope not found: manifest unknown`),
    );
  });

  test('htpasswd registry: login right and wrong, push and pull need the login', async () => {
    const ref = `${basic.host}/priv/app:v1`;
    await ok(a, ['tag', `${plain.host}/regtest/app:v1`, ref]);
    const anon = await docker(a, ['push', ref]);
    assert.notEqual(anon.code, 0);
    assert.match(anon.stderr + anon.stdout, /unauthorized: authentication required/);
    const wrong = await docker(a, ['login', basic.host, '-u', 'alice', '--password-stdin'], 'nope\n');
    assert.notEqual(wrong.code, 0);
    assert.match(
      wrong.stderr,
      new RegExp(`login attempt to http://${basic.host}/v2/ failed with status: 401 Unauthorized`),
    );
    const raw = await httpRequest(
      a.socket,
      'POST',
      '/auth',
      JSON.stringify({ username: 'alice', password: 'x', serveraddress: basic.host }),
      { 'content-type': 'application/json' },
    );
    assert.equal(raw.status, 401);
    const right = await ok(a, ['login', basic.host, '-u', 'alice', '--password-stdin'], 's3cret\n');
    assert.match(right, /Login Succeeded/);
    const good = await httpRequest(
      a.socket,
      'POST',
      '/auth',
      JSON.stringify({ username: 'alice', password: 's3cret', serveraddress: basic.host }),
      { 'content-type': 'application/json' },
    );
    assert.deepEqual(JSON.parse(good.body), { Status: 'Login Succeeded', IdentityToken: '' });
    assert.match(await ok(a, ['push', ref]), /v1: digest: sha256:/);
    await ok(a, ['rmi', ref]);
    const anonPull = await docker(b, ['pull', ref], undefined, 'cfg-empty');
    assert.notEqual(anonPull.code, 0);
    assert.match(anonPull.stderr, /unauthorized: authentication required/);
    assert.match(await ok(a, ['pull', ref]), /Downloaded newer image|Image is up to date/);
    assert.equal(await ok(a, ['run', '--rm', ref, 'cat', '/hello.txt']), 'hello from the registry test\n');
  });

  test('token registry: Bearer flow with service and scope, login right and wrong, push and pull', async () => {
    const ref = `${tokenReg.host}/tok/app:v1`;
    await ok(a, ['tag', `${plain.host}/regtest/app:v1`, ref]);
    const wrong = await docker(a, ['login', tokenReg.host, '-u', 'bob', '--password-stdin'], 'bad\n');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /incorrect username or password/);
    assert.match(
      await ok(a, ['login', tokenReg.host, '-u', 'bob', '--password-stdin'], 'hunter2\n'),
      /Login Succeeded/,
    );
    const before = tokens.requests.length;
    assert.match(await ok(a, ['push', ref]), /v1: digest: sha256:/);
    const pushReqs = tokens.requests.slice(before);
    assert.ok(
      pushReqs.some(
        (q) =>
          q.includes('service=ckptd-test-registry') &&
          q.includes('scope=repository%3Atok%2Fapp%3Apull%2Cpush'),
      ),
      pushReqs.join('\n'),
    );
    // One token per scope, reused by every blob of the push.
    assert.ok(pushReqs.length <= 3, `token fetched ${pushReqs.length} times: ${pushReqs.join('\n')}`);
    await ok(a, ['rmi', ref]);
    const pulled = await ok(a, ['pull', ref]);
    assert.match(pulled, /Downloaded newer image/);
    assert.equal(await ok(a, ['run', '--rm', ref, 'cat', '/hello.txt']), 'hello from the registry test\n');
    const denied = await docker(b, ['pull', ref], undefined, 'cfg-empty');
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /pull access denied for .*tok\/app/);
  });

  test('commit -> push -> pull on a second ckptd+containerd -> run shows the committed file', async () => {
    await ok(a, [
      'run',
      '--name',
      'committer',
      `${plain.host}/regtest/app:v1`,
      'sh',
      '-c',
      'echo committed-on-A > /made.txt',
    ]);
    const ref = `${plain.host}/regtest/committed:v1`;
    await ok(a, ['commit', 'committer', ref]);
    await ok(a, ['rm', 'committer']);
    await ok(a, ['push', ref]);
    const pulled = await ok(b, ['pull', ref]);
    assert.match(pulled, /Downloaded newer image/);
    assert.equal(
      await ok(b, ['run', '--rm', ref, 'cat', '/made.txt', '/hello.txt']),
      'committed-on-A\nhello from the registry test\n',
    );
  });

  test('a pull cut midway resumes with Range from the ingest offset', async () => {
    const proxy = await startProxy(plain, { cutBlobAfter: 1 << 20, cutTimes: 1 });
    try {
      const ref = `${proxy.host}/regtest/app:v1`;
      await ok(b, ['rmi', '-f', `${plain.host}/regtest/committed:v1`]);
      const out = await ok(b, ['pull', ref]);
      assert.equal(proxy.cuts, 1);
      assert.match(out, /Downloaded newer image/);
      assert.equal(await ok(b, ['run', '--rm', ref, 'cat', '/hello.txt']), 'hello from the registry test\n');
    } finally {
      proxy.close();
    }
  });

  test('a pull cut midway every time fails in-band and leaves no image, lease, ingest or layer', async () => {
    await ok(a, ['image', 'prune', '-af']);
    assert.ok(await waitGone(`sha256:${bigLayerDigestHex}`), 'the big layer stayed after prune');
    const proxy = await startProxy(plain, { cutBlobAfter: 1 << 20 });
    try {
      const name = `${proxy.host}/regtest/app`;
      const r = await httpRequest(
        a.socket,
        'POST',
        `/images/create?fromImage=${encodeURIComponent(name)}&tag=v1`,
      );
      assert.equal(r.status, 200);
      const last = JSON.parse(r.body.trim().split('\n').at(-1)!) as {
        error?: string;
        errorDetail?: { message: string };
      };
      assert.ok(last.error, r.body);
      assert.equal(last.errorDetail?.message, last.error);
      assert.equal((await docker(a, ['image', 'inspect', `${name}:v1`])).code, 1);
      assert.ok(await waitGone(`sha256:${bigLayerDigestHex}`), 'a layer of the failed pull stayed');
      assert.deepEqual(await leftovers(), { leases: 0, ingests: 0 });
      const cli = await docker(a, ['pull', `${name}:v1`]);
      assert.notEqual(cli.code, 0);
      assert.match(cli.stderr, /connection reset|unexpected EOF|socket hang up/);
      assert.deepEqual(await leftovers(), { leases: 0, ingests: 0 });
    } finally {
      proxy.close();
    }
  });

  test('a pull whose registry is killed leaves nothing of the image behind', async () => {
    const dying = await startRegistry(join(work, 'dying-pull'));
    cleanups.push(() => dying.kill());
    const ref = `${dying.host}/dying/app:v1`;
    await ok(a, ['pull', `${plain.host}/regtest/app:v1`]);
    await ok(a, ['tag', `${plain.host}/regtest/app:v1`, ref]);
    await ok(a, ['push', ref]);
    await ok(a, ['rmi', '-f', ref, `${plain.host}/regtest/app:v1`]);
    await ok(a, ['image', 'prune', '-af']);
    const layer = await (async () => {
      const manifest = await new Promise<string>((resolve, reject) => {
        http
          .get(
            {
              host: '127.0.0.1',
              port: dying.port,
              path: '/v2/dying/app/manifests/v1',
              headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
            },
            (res) => {
              let s = '';
              res.on('data', (c: Buffer) => (s += c.toString()));
              res.on('end', () => resolve(s));
            },
          )
          .on('error', reject);
      });
      return (JSON.parse(manifest) as { layers: { digest: string; size: number }[] }).layers.find(
        (l) => l.size > 1 << 20,
      )!.digest;
    })();
    const proxy = await startProxy(dying, { cutBlobAfter: 1 << 20 });
    const cut = setInterval(() => {
      if (proxy.cuts > 0) void dying.kill();
    }, 20);
    try {
      const r = await docker(a, ['pull', `${proxy.host}/dying/app:v1`]);
      assert.notEqual(r.code, 0);
      assert.equal((await docker(a, ['image', 'inspect', `${proxy.host}/dying/app:v1`])).code, 1);
      assert.ok(await waitGone(layer), `layer ${layer} left in the content store`);
      assert.deepEqual(await leftovers(), { leases: 0, ingests: 0 });
    } finally {
      clearInterval(cut);
      proxy.close();
    }
  });

  test('a push to a registry that dies fails cleanly and keeps the image', async () => {
    const dying = await startRegistry(join(work, 'dying-push'));
    cleanups.push(() => dying.kill());
    const proxy = await startProxy(dying, { dieOnUploadAfter: 1 << 20 });
    try {
      const ref = `${proxy.host}/dies/app:v1`;
      await ok(a, ['pull', `${plain.host}/regtest/app:v1`]);
      await ok(a, ['tag', `${plain.host}/regtest/app:v1`, ref]);
      const r = await docker(a, ['push', ref]);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr + r.stdout, /connection refused|connection reset|socket hang up|EOF/);
      assert.equal(await ok(a, ['run', '--rm', ref, 'cat', '/hello.txt']), 'hello from the registry test\n');
      assert.deepEqual(await leftovers(), { leases: 0, ingests: 0 });
    } finally {
      proxy.close();
    }
  });

  test("a schema 1 manifest is refused with dockerd's deprecation notice", async () => {
    const server = http.createServer((req, res) => {
      if (req.url === '/v2/') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      if (req.url?.startsWith('/v2/old/app/manifests/')) {
        const body = JSON.stringify({
          schemaVersion: 1,
          name: 'old/app',
          tag: 'v1',
          architecture: 'amd64',
          fsLayers: [],
          history: [],
        });
        res.writeHead(200, {
          'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws',
          'content-length': String(body.length),
        });
        res.end(body);
        return;
      }
      res.writeHead(404);
      res.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as AddressInfo).port;
      const r = await docker(a, ['pull', `127.0.0.1:${port}/old/app:v1`]);
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /\[DEPRECATION NOTICE\] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support is disabled/,
      );
      assert.deepEqual(await leftovers(), { leases: 0, ingests: 0 });
    } finally {
      server.close();
    }
  });

  test('migration through the registry: a counter checkpointed to an image on A, pushed, run on B continues from its value with its files', async () => {
    const base = `${plain.host}/regtest/app:v1`;
    await ok(a, ['pull', base]); // in the registry since the first test; A's was pruned
    const counter =
      'echo moved > /tmp/file; i=0; while true; do i=$((i+1)); echo $i > /tmp/c.t; mv /tmp/c.t /tmp/c; sleep 0.1; done';
    await ok(a, ['run', '-d', '--network', 'none', '--name', 'mover', base, 'sh', '-c', counter]);
    let before = 0;
    for (let i = 0; i < 100 && before < 10; i++) {
      before = Number((await docker(a, ['exec', 'mover', 'cat', '/tmp/c'])).stdout.trim() || 0);
      await new Promise((r) => setTimeout(r, 100));
    }
    const ref = `${plain.host}/regtest/mover-checkpoint:v1`;
    const ck = await httpRequest(
      a.socket,
      'POST',
      `/v1.47/containers/mover/checkpoint?image=${encodeURIComponent(ref)}`,
    );
    assert.equal(ck.status, 201, ck.body);
    await ok(a, ['push', ref]);
    // B has neither the checkpoint image nor its base: the CLI pulls the first, ckptd the second
    await docker(b, ['rmi', '-f', base, ref]);
    await ok(b, ['run', '-d', '--network', 'none', '--name', 'moved', ref]);
    // restored, not started afresh: the first value read on B is already past the one seen on A
    let first = 0;
    for (let i = 0; i < 50 && first === 0; i++) {
      first = Number((await docker(b, ['exec', 'moved', 'cat', '/tmp/c'])).stdout.trim() || 0);
      if (first === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(first >= before, `continued from ${before}: first value on B ${first}`);
    assert.equal((await ok(b, ['exec', 'moved', 'cat', '/tmp/file'])).trim(), 'moved');
    assert.match(await ok(b, ['images', '--format', '{{.Repository}}:{{.Tag}}']), /regtest\/app:v1/);
    await ok(a, ['rm', '-f', 'mover']);
    await ok(b, ['rm', '-f', 'moved']);
    await ok(b, ['rmi', '-f', ref, base]);
  });
});
