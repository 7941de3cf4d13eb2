// Registries over TLS: Debian's docker-registry serving HTTPS with a test CA's certificate, and a
// second one that also requires a client certificate signed by that CA. ckptd reads dockerd's
// certs.d layout (<dir>/<host:port>/ca.crt, client.cert, client.key) from --registry-certs-dir,
// on every pull/push. The registries listen on this host's non-loopback address: a loopback
// registry is insecure by default (dockerd's 127.0.0.0/8), where TLS is not verified.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startCkptd, type CkptdProcess } from '../helpers/ckptd.js';
import { startContainerd, type RunningContainerd } from '../helpers/containerd.js';
import { buildTestImage } from '../helpers/images.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-registry-tls';

/** hostAddress is a non-loopback IPv4 address of this host (undefined when there is none). */
function hostAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

async function freePort(addr: string): Promise<number> {
  const s = http.createServer();
  s.listen(0, addr);
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  s.close();
  return port;
}

interface Registry {
  host: string;
  kill(): Promise<void>;
}

async function startTlsRegistry(
  dir: string,
  addr: string,
  pki: string,
  requireClientCert: boolean,
): Promise<Registry> {
  await mkdir(dir, { recursive: true });
  const port = await freePort(addr);
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
      `  addr: ${addr}:${port}`,
      '  tls:',
      `    certificate: ${join(pki, 'server.crt')}`,
      `    key: ${join(pki, 'server.key')}`,
      ...(requireClientCert ? ['    clientcas:', `      - ${join(pki, 'ca.crt')}`] : []),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', cfg], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    // Any TLS answer (even a handshake refused for want of a client certificate) means it listens.
    const up = await new Promise<boolean>((resolve) => {
      const r = https.get({ host: addr, port, path: '/v2/', rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(true);
      });
      r.on('error', (e: NodeJS.ErrnoException) => resolve(e.code !== 'ECONNREFUSED'));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: `${addr}:${port}`,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    },
  };
}

/** makePki writes ca.{crt,key}, server.{crt,key} (for addr, 127.0.0.1, localhost), client.{cert,key}. */
async function makePki(dir: string, addr: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const f = (n: string): string => join(dir, n);
  const ssl = (args: string[]): Promise<unknown> => execFileP('openssl', args);
  await ssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=ckptd test CA'].concat([
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.crt'),
    ]),
  );
  await writeFile(
    f('server.ext'),
    `subjectAltName=IP:${addr},IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n`,
  );
  await writeFile(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', addr],
    ['client', 'ckptd test client'],
  ] as const) {
    await ssl(
      ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`)].concat([
        '-out',
        f(`${name}.csr`),
      ]),
    );
    await ssl(
      ['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key')].concat([
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        f(`${name}.ext`),
        '-out',
        f(`${name}.crt`),
      ]),
    );
  }
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const addr = hostAddress();

describe(
  'registries over TLS: certs.d CA and client certificates',
  { timeout: 600_000, skip: addr === undefined ? 'no non-loopback IPv4 address' : false },
  () => {
    let work = '';
    let pki = '';
    let certsDir = '';
    let ctd: RunningContainerd;
    let ck: CkptdProcess;
    let tlsReg: Registry;
    let mtlsReg: Registry;

    const docker = (args: string[]): Promise<Run> =>
      new Promise((resolve) => {
        const child = execFile(
          'timeout',
          ['-k', '5', '180', 'docker', ...args],
          {
            env: { ...process.env, DOCKER_HOST: `unix://${ck.socket}`, DOCKER_CONFIG: join(work, 'cfg') },
            maxBuffer: 16 << 20,
          },
          (err, stdout, stderr) =>
            resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
        child.stdin?.end('');
      });
    const ok = async (args: string[]): Promise<string> => {
      const r = await docker(args);
      assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${r.stderr}\n${r.stdout}`);
      return r.stdout;
    };
    const trust = async (host: string, files: [string, string][]): Promise<void> => {
      const dir = join(certsDir, host);
      await mkdir(dir, { recursive: true });
      for (const [from, to] of files) await copyFile(join(pki, from), join(dir, to));
    };

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'ckptd-registry-tls-'));
      pki = join(work, 'pki');
      certsDir = join(work, 'certs.d');
      await mkdir(join(work, 'cfg'));
      await mkdir(certsDir);
      await makePki(pki, addr!);
      ctd = await startContainerd();
      ck = await startCkptd([
        '--containerd',
        ctd.address,
        '--containerd-namespace',
        NS,
        '--registry-certs-dir',
        certsDir,
      ]);
      const tarPath = join(work, 'img.tar');
      await buildTestImage(tarPath, {
        name: 'tlstest/app:latest',
        extraLayers: [[{ path: 'tls.txt', content: 'pulled over TLS\n' }]],
      });
      await ok(['load', '-i', tarPath]);
      tlsReg = await startTlsRegistry(join(work, 'tls'), addr!, pki, false);
      mtlsReg = await startTlsRegistry(join(work, 'mtls'), addr!, pki, true);
    });

    after(async () => {
      await tlsReg?.kill();
      await mtlsReg?.kill();
      await ck?.cleanup();
      await ctd?.stop();
      await rm(work, { recursive: true, force: true });
    });

    test('without the CA in certs.d a pull fails with an x509 error; with ca.crt push, pull and run work', async () => {
      const ref = `${tlsReg.host}/tlstest/app:v1`;
      const denied = await docker(['pull', ref]);
      assert.notEqual(denied.code, 0);
      assert.match(
        denied.stderr,
        new RegExp(`Get "https://${tlsReg.host}/v2/.*": x509: certificate signed by unknown authority`),
      );
      await ok(['tag', 'tlstest/app:latest', ref]);
      const pushDenied = await docker(['push', ref]);
      assert.notEqual(pushDenied.code, 0);
      assert.match(pushDenied.stderr + pushDenied.stdout, /x509: certificate signed by unknown authority/);

      // dockerd's layout: /etc/docker/certs.d/<host:port>/ca.crt, read again on the next operation.
      await trust(tlsReg.host, [['ca.crt', 'ca.crt']]);
      assert.match(await ok(['push', ref]), /digest: sha256:[0-9a-f]{64}/);
      await ok(['rmi', ref, 'tlstest/app:latest']);
      const pulled = await ok(['pull', ref]);
      assert.match(pulled, new RegExp(`Status: Downloaded newer image for ${tlsReg.host}/tlstest/app:v1`));
      assert.equal(await ok(['run', '--rm', ref, 'cat', '/tls.txt']), 'pulled over TLS\n');
    });

    test('a registry requiring client certificates: refused without client.cert/client.key, works with them', async () => {
      const ref = `${mtlsReg.host}/tlstest/app:v1`;
      await ok(['tag', `${tlsReg.host}/tlstest/app:v1`, ref]);
      await trust(mtlsReg.host, [['ca.crt', 'ca.crt']]);
      const refused = await docker(['push', ref]);
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr + refused.stdout,
        /remote error: tls: (certificate required|bad certificate)|connection reset by peer/,
      );
      // A client.cert without its key is refused, as dockerd does.
      await trust(mtlsReg.host, [['client.crt', 'client.cert']]);
      const halfPair = await docker(['pull', ref]);
      assert.notEqual(halfPair.code, 0);
      assert.match(halfPair.stderr, /missing key client\.key for client certificate client\.cert/);
      await trust(mtlsReg.host, [['client.key', 'client.key']]);
      assert.match(await ok(['push', ref]), /digest: sha256:[0-9a-f]{64}/);
      await ok(['rmi', ref]);
      await ok(['rmi', `${tlsReg.host}/tlstest/app:v1`]);
      const pulled = await ok(['pull', ref]);
      assert.match(pulled, new RegExp(`Status: Downloaded newer image for ${mtlsReg.host}/tlstest/app:v1`));
      assert.equal(await ok(['run', '--rm', ref, 'cat', '/tls.txt']), 'pulled over TLS\n');
    });
  },
);
