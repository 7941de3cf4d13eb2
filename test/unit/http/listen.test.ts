import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { mkdir, stat, writeFile, readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { ConflictError, FailedPreconditionError, InvalidArgumentError } from '../../../src/errors/index.js';
import { listen, resolveSocketGroup, type Listener } from '../../../src/http/listen.js';
import { makeApp, readBody, tempDir, type TestApp } from './helpers.js';

const silent = pino({ level: 'silent' });

/** currentUmask reads the umask without the deprecated no-argument call. */
function currentUmask(): number {
  const m = process.umask(0o022);
  process.umask(m);
  return m;
}

function ping(socketPath: string, agent?: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: '/_ping', headers: { host: 'docker' }, agent }, (res) => {
      readBody(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject);
    });
    req.once('error', reject);
    req.end();
  });
}

describe('listen() on unix sockets', () => {
  let t: TestApp;
  let dir: string;
  let cleanup: () => Promise<void>;
  let listener: Listener | undefined;
  let groupFile: string;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    t = await makeApp();
    groupFile = join(dir, 'group');
    await writeFile(groupFile, 'root:x:0:\ndocker:x:4242:alice\nckptdtest:x:4343:\n');
  });
  afterEach(async () => {
    listener?.closeAllConnections();
    await listener?.close();
    listener = undefined;
    await t.app.close();
    await cleanup();
  });

  it('creates the socket 0660 owned by the docker group when it exists', async () => {
    const sock = join(dir, 'd.sock');
    listener = await listen(t.app, [{ kind: 'unix', path: sock }], { logger: silent, groupFile });
    const st = await stat(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, 4242);
    assert.equal(st.uid, process.getuid?.());
    assert.deepEqual(await ping(sock), { status: 200, body: 'OK' });
  });

  it('falls back to root (gid 0) when there is no docker group', async () => {
    await writeFile(groupFile, 'root:x:0:\n');
    const sock = join(dir, 'd.sock');
    listener = await listen(t.app, [{ kind: 'unix', path: sock }], { logger: silent, groupFile });
    const st = await stat(sock);
    assert.equal(st.gid, 0);
    assert.equal(st.mode & 0o777, 0o660);
  });

  it('uses an explicit group by name or gid', async () => {
    const sock = join(dir, 'd.sock');
    listener = await listen(t.app, [{ kind: 'unix', path: sock }], {
      logger: silent,
      groupFile,
      group: 'ckptdtest',
    });
    assert.equal((await stat(sock)).gid, 4343);
    assert.deepEqual(await resolveSocketGroup('4444', groupFile), { name: '4444', gid: 4444 });
  });

  it('refuses an unknown explicit group before creating anything', async () => {
    const sock = join(dir, 'd.sock');
    await assert.rejects(
      listen(t.app, [{ kind: 'unix', path: sock }], { logger: silent, groupFile, group: 'nosuchgroup' }),
      (err: unknown) =>
        err instanceof InvalidArgumentError && /group "nosuchgroup" not found/.test(err.message),
    );
    await assert.rejects(stat(sock), { code: 'ENOENT' });
  });

  it('the socket is never world- or group-accessible before its owner is set, and the umask is restored', async () => {
    const sock = join(dir, 'd.sock');
    const umaskBefore = currentUmask();
    const seen: { umask: number; mode: number }[] = [];
    const original = net.Server.prototype.listen;
    // Observe the bind itself: the socket file exists as soon as the synchronous listen() returns.
    net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
      const umask = currentUmask();
      const ret = (original as (...a: unknown[]) => net.Server).apply(this, args);
      seen.push({ umask, mode: lstatSync(sock).mode & 0o777 });
      return ret;
    } as typeof original;
    try {
      listener = await listen(t.app, [{ kind: 'unix', path: sock }], { logger: silent, groupFile });
    } finally {
      net.Server.prototype.listen = original;
    }
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.mode, 0o600, 'born owner-only');
    assert.equal((seen[0]?.umask ?? 0) & 0o077, 0o077, 'strict umask during bind');
    assert.equal((await stat(sock)).mode & 0o007, 0, 'never world-accessible');
    assert.equal(currentUmask(), umaskBefore, 'umask restored');
  });

  it('creates a missing parent directory', async () => {
    const sock = join(dir, 'run', 'ckptd', 'd.sock');
    listener = await listen(t.app, [{ kind: 'unix', path: sock }], { logger: silent, groupFile });
    assert.ok((await stat(sock)).isSocket());
  });

  it('replaces a stale socket nobody answers on', async () => {
    const sock = join(dir, 'd.sock');
    // A socket file bound by a process that is gone (bound, never listening: connect is refused).
    execFileSync('python3', [
      '-c',
      `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(sock)})`,
    ]);
    assert.ok(lstatSync(sock).isSocket());
    listener = await listen(t.app, [{ kind: 'unix', path: sock }], { logger: silent, groupFile });
    assert.deepEqual(await ping(sock), { status: 200, body: 'OK' });
  });

  it('refuses to take over a socket another daemon answers on', async () => {
    const sock = join(dir, 'd.sock');
    const other = net.createServer((c) => c.end());
    await new Promise<void>((r) => other.listen(sock, r));
    try {
      await assert.rejects(
        listen(t.app, [{ kind: 'unix', path: sock }], { logger: silent, groupFile }),
        (err: unknown) =>
          err instanceof ConflictError && err.message === `another daemon is listening on ${sock}`,
      );
      assert.ok(lstatSync(sock).isSocket(), 'the live socket is left alone');
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it('never deletes a path that is not a socket', async () => {
    const path = join(dir, 'not-a-socket');
    await writeFile(path, 'precious');
    await assert.rejects(
      listen(t.app, [{ kind: 'unix', path }], { logger: silent, groupFile }),
      (err: unknown) => err instanceof FailedPreconditionError && /is not a socket/.test(err.message),
    );
    assert.equal(await readFile(path, 'utf8'), 'precious');
  });

  it('close() stops accepting, drops idle keep-alive connections promptly and removes the socket', async () => {
    const sock = join(dir, 'd.sock');
    listener = await listen(t.app, [{ kind: 'unix', path: sock }], { logger: silent, groupFile });
    const agent = new http.Agent({ keepAlive: true });
    assert.equal((await ping(sock, agent)).status, 200);
    const started = Date.now();
    await listener.close();
    listener = undefined;
    assert.ok(Date.now() - started < 2000, 'did not wait for the keep-alive timeout');
    await assert.rejects(stat(sock), { code: 'ENOENT' });
    agent.destroy();
  });

  it('serves several addresses at once, TCP with a warning', async () => {
    const sock = join(dir, 'a.sock');
    const logs: { level: number; msg: string }[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (s: string) => logs.push(JSON.parse(s) as { level: number; msg: string }) },
    );
    await mkdir(dir, { recursive: true });
    listener = await listen(
      t.app,
      [
        { kind: 'unix', path: sock },
        { kind: 'tcp', host: '127.0.0.1', port: 0 },
      ],
      { logger, groupFile },
    );
    assert.equal(listener.addresses.length, 2);
    assert.equal(listener.addresses[0], `unix://${sock}`);
    const tcp = listener.addresses[1] ?? '';
    assert.match(tcp, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(await ping(sock), { status: 200, body: 'OK' });
    const res = await fetch(`${tcp.replace('tcp://', 'http://')}/v1.47/_ping`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('api-version'), '1.47');
    assert.ok(
      logs.some((l) => l.level === 40 && /without TLS is insecure and gives root access/.test(l.msg)),
    );
  });
});

describe('HTTP parsing limits on a real socket (no handler runs)', () => {
  let t: TestApp;
  let cleanup: () => Promise<void>;
  let listener: Listener;
  let sock: string;
  let handled = 0;

  beforeEach(async () => {
    let dir: string;
    ({ dir, cleanup } = await tempDir());
    sock = join(dir, 'd.sock');
    handled = 0;
    t = await makeApp({ extraRoutes: (a) => a.post('/test/count', async () => ({ n: ++handled })) });
    listener = await listen(t.app, [{ kind: 'unix', path: sock }], { logger: silent, group: '0' });
  });
  afterEach(async () => {
    listener.closeAllConnections();
    await listener.close();
    await t.app.close();
    await cleanup();
  });

  function raw(bytes: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const c = net.createConnection({ path: sock });
      let out = '';
      c.on('data', (d) => (out += d.toString('latin1')));
      c.on('end', () => resolve(out));
      c.on('close', () => resolve(out));
      // Node >= 22 may reset the connection after its error response while a long request is
      // still being written: what was received is the answer.
      c.on('error', (err) => (out ? resolve(out) : reject(err)));
      c.write(bytes);
    });
  }

  const cases: [string, string, RegExp][] = [
    [
      'Content-Length with Transfer-Encoding (smuggling)',
      'POST /test/count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      /^HTTP\/1\.1 400 /,
    ],
    [
      'a 64 KiB header',
      `GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(65536)}\r\n\r\n`,
      /^HTTP\/1\.1 431 /,
    ],
    [
      'a bare CR in a header',
      'POST /test/count HTTP/1.1\r\nHost: x\rX: y\r\nContent-Length: 0\r\n\r\n',
      /^HTTP\/1\.1 400 /,
    ],
  ];
  for (const [what, bytes, want] of cases) {
    it(`${what} is rejected`, async () => {
      assert.match(await raw(bytes), want);
      assert.equal(handled, 0);
    });
  }
});
