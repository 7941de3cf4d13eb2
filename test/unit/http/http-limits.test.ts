/**
 * Request-body policy (body-policy.ts) and connection limits (limits.ts) on the real server:
 * bodyless routes refuse bodies, JSON bodies are capped, slow bodies and headers time out,
 * connections are capped.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, it } from 'node:test';
import type { FastifyInstance, RouteOptions } from 'fastify';
import pino from 'pino';
import { registerNetworkRoutes } from '../../../src/http/routes/networks.routes.js';
import { registerUnsupportedRoutes } from '../../../src/http/routes/unsupported.routes.js';
import { ignorableBodyProblem, ROUTE_BODIES, routeKey } from '../../../src/http/body-policy.js';
import { listen, type Listener } from '../../../src/http/listen.js';
import type { HttpLimits } from '../../../src/http/limits.js';
import { registerArchiveRoutes } from '../../../src/http/routes/archive.routes.js';
import { registerCheckpointRoutes } from '../../../src/http/routes/checkpoint.routes.js';
import { registerCommitRoutes } from '../../../src/http/routes/commit.routes.js';
import { registerContainerIoRoutes } from '../../../src/http/routes/container-io.routes.js';
import { registerContainersRoutes } from '../../../src/http/routes/containers.routes.js';
import { registerImageRoutes } from '../../../src/http/routes/images.routes.js';
import { buildServer } from '../../../src/http/server.js';
import { FakeSystem } from './fake-system.js';
import { makeApp, tempDir, waitFor, type LogLine, type TestApp } from './helpers.js';

describe('ignorableBodyProblem', () => {
  it('passes blank, null, {} and objects repeating the query (docker-modem)', () => {
    assert.equal(ignorableBodyProblem('', {}), undefined);
    assert.equal(ignorableBodyProblem(' \n', {}), undefined);
    assert.equal(ignorableBodyProblem('null', {}), undefined);
    assert.equal(ignorableBodyProblem('{}\n', {}), undefined);
    assert.equal(ignorableBodyProblem('{"t":10}', { t: '10' }), undefined);
    assert.equal(
      ignorableBodyProblem('{"signal":"SIGKILL","x":true}', { signal: 'SIGKILL', x: 'true' }),
      undefined,
    );
    assert.equal(
      ignorableBodyProblem('{"filters":{"label":["a"]}}', { filters: '{"label":["a"]}' }),
      undefined,
    );
  });
  it('refuses anything else, naming why', () => {
    assert.match(String(ignorableBodyProblem('hello', {})), /not JSON/);
    assert.match(String(ignorableBodyProblem('[1]', {})), /not a JSON object/);
    assert.match(String(ignorableBodyProblem('{"t":10}', {})), /"t" is not a query parameter/);
    assert.match(String(ignorableBodyProblem('{"t":10}', { t: '5' })), /"t" differs/);
    assert.match(String(ignorableBodyProblem('{"t":10}', { t: ['10', '10'] })), /"t" differs/);
  });
});

describe('every route of the daemon has a body policy', () => {
  it('ROUTE_BODIES lists each registered method and url', async () => {
    const seen: string[] = [];
    const stub = {} as never;
    const app = await buildServer({
      system: new FakeSystem(),
      logger: pino({ level: 'silent' }),
      version: '0',
      routes: [
        (a) => {
          a.addHook('onRoute', (r: RouteOptions) => {
            for (const m of [r.method].flat()) seen.push(routeKey(m, r.url));
          });
        },
        (a) => registerImageRoutes(a, stub),
        (a) => registerContainersRoutes(a, stub),
        (a) => registerContainerIoRoutes(a, stub, stub),
        (a) => registerCommitRoutes(a, stub),
        (a) => registerCheckpointRoutes(a, stub),
        (a) => registerArchiveRoutes(a, stub),
        (a) => registerNetworkRoutes(a, stub, stub),
        (a) => registerUnsupportedRoutes(a),
      ],
    });
    await app.ready();
    await app.close();
    assert.ok(seen.length > 40, `only ${seen.length} routes seen`);
    const missing = seen.filter((k) => !(k in ROUTE_BODIES));
    assert.deepEqual(missing, [], 'add these routes to ROUTE_BODIES (src/http/body-policy.ts)');
    for (const k of ['GET /_ping', 'HEAD /_ping', 'GET /version', 'GET /info', 'GET /events'])
      assert.ok(k in ROUTE_BODIES, k);
  });
});

/** testRoutes stand in for real routes at the same urls (the policy is keyed by url). */
function testRoutes(a: FastifyInstance): void {
  const echo = async () => ({ ok: true });
  a.post('/containers/:id/stop', echo);
  a.get('/containers/:id/json', echo);
  a.post('/containers/create', async (req) => ({ body: req.body as unknown }));
  // A streaming route whose handler reads slowly: backpressure must not count as a slow client.
  a.post('/images/load', async (req) => {
    let n = 0;
    await pipeline(
      req.raw,
      new Writable({
        highWaterMark: 1024,
        write(chunk: Buffer, _e, cb) {
          n += chunk.length;
          setTimeout(cb, 40);
        },
      }),
    );
    return { bytes: n };
  });
}

describe('bodyless and JSON routes', () => {
  let t: TestApp;
  afterEach(async () => t.app.close());

  const post = (url: string, payload?: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload }) });

  it('a bodyless route takes no body, {} or the query repeated as JSON', async () => {
    t = await makeApp({ extraRoutes: testRoutes });
    const json = { 'content-type': 'application/json' };
    for (const [url, body, h] of [
      ['/containers/x/stop', undefined, {}],
      ['/containers/x/stop', '', json],
      ['/containers/x/stop', '{}', json],
      ['/containers/x/stop', 'null', json],
      ['/containers/x/stop?t=5', '{"t":5}', json],
      ['/containers/x/stop', '', { 'content-type': 'text/plain' }],
    ] as const) {
      const res = await post(url, body, h);
      assert.equal(res.statusCode, 200, `${url} ${body}: ${res.body}`);
      assert.equal(res.json().ok, true);
    }
  });

  it('a bodyless route refuses any other body with a 400 naming the route', async () => {
    t = await makeApp({ extraRoutes: testRoutes });
    let res = await post('/containers/x/stop?t=5', '{"t":7}', { 'content-type': 'application/json' });
    assert.equal(res.statusCode, 400);
    assert.equal(
      res.json().message,
      'POST /containers/{id}/stop takes no request body (body field "t" differs from query parameter "t"); send its options as query parameters',
    );
    res = await post('/containers/x/stop', 'hello', { 'content-type': 'text/plain' });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /takes no request body \(the body is not JSON\)/);
    res = await t.app.inject({ method: 'GET', url: '/containers/x/json', payload: 'abc' });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /^GET \/containers\/\{id\}\/json takes no request body/);
  });

  it('a JSON route refuses another Content-Type like moby and decodes a body without one', async () => {
    t = await makeApp({ extraRoutes: testRoutes });
    let res = await post('/containers/create', '{"Image":"a"}', { 'content-type': 'text/plain' });
    assert.equal(res.statusCode, 400);
    assert.equal(
      res.json().message,
      "unsupported Content-Type header (text/plain): must be 'application/json'",
    );
    res = await t.app.inject({
      method: 'POST',
      url: '/containers/create',
      payload: Buffer.from('{"Image":"a"}'),
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { body: { Image: 'a' } });
  });
});

describe('read timeout and connection cap on a real socket', () => {
  let t: TestApp;
  let listener: Listener;
  let sock: string;
  let cleanup: () => Promise<void>;
  let logs: LogLine[];
  const open: net.Socket[] = [];

  async function serve(limits: Partial<HttpLimits>): Promise<void> {
    let dir: string;
    ({ dir, cleanup } = await tempDir());
    sock = join(dir, 'd.sock');
    t = await makeApp({ extraRoutes: testRoutes });
    logs = t.logs;
    listener = await listen(t.app, [{ kind: 'unix', path: sock }], { logger: t.logger, group: '0', limits });
  }
  afterEach(async () => {
    for (const c of open.splice(0)) c.destroy();
    listener.closeAllConnections();
    await listener.close();
    await t.app.close();
    await cleanup();
  });

  /** connect opens a raw connection that records what it receives and when it closes. */
  function connect(): Promise<{ c: net.Socket; out: () => string; closed: Promise<number> }> {
    return new Promise((resolve, reject) => {
      const c = net.createConnection({ path: sock });
      open.push(c);
      let out = '';
      const start = Date.now();
      const closed = new Promise<number>((r) => c.once('close', () => r(Date.now() - start)));
      c.on('data', (d) => (out += d.toString('latin1')));
      c.on('error', () => undefined);
      c.once('connect', () => resolve({ c, out: () => out, closed }));
      c.once('error', reject);
    });
  }

  it('a body that stalls gets 408 and the connection closes; so do stalled headers', async () => {
    await serve({ readTimeoutMs: 400 });
    const body = await connect();
    body.c.write(
      'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"Im',
    );
    const headers = await connect();
    headers.c.write('GET /version HTTP/1.1\r\nHost: x\r\n');
    const bodyMs = await body.closed;
    assert.ok(bodyMs >= 350 && bodyMs < 1500, `closed after ${bodyMs} ms`);
    assert.match(body.out(), /^HTTP\/1\.1 408 /);
    assert.match(body.out(), /request body timed out: no data received for 0.4s \(read-timeout\)/);
    const headersMs = await headers.closed;
    assert.ok(headersMs < 1500, `headers: closed after ${headersMs} ms`);
    assert.ok(logs.some((l) => l.msg === 'request body timed out'));
  });

  it('a body that keeps coming, slower than the handler reads, is never cut', async () => {
    await serve({ readTimeoutMs: 300 });
    const { c, out, closed } = await connect();
    const total = 12 * 4096;
    c.write(`POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\nConnection: close\r\n\r\n`);
    // 12 chunks 150 ms apart (under the timeout), the handler draining 1 KiB per 40 ms
    // (backpressure): ~2 s in all, far beyond the timeout.
    for (let i = 0; i < 12; i++) {
      c.write(Buffer.alloc(4096, 1));
      await new Promise((r) => setTimeout(r, 150));
    }
    await closed;
    assert.match(out(), /^HTTP\/1\.1 200 /);
    assert.match(out(), /\{"bytes":49152\}/);
  });

  it('a bodyless route answers a large body at once without reading it, and closes', async () => {
    await serve({ readTimeoutMs: 5000 });
    const { c, out, closed } = await connect();
    c.write('POST /containers/x/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nxxxx');
    const ms = await closed;
    assert.ok(ms < 2000, `closed after ${ms} ms`);
    assert.match(out(), /^HTTP\/1\.1 400 /);
    assert.match(out(), /connection: close/i);
    assert.match(out(), /takes no request body \(1000000 bytes sent\)/);
  });

  it('connections beyond max-connections are closed at once and logged', async () => {
    await serve({ maxConnections: 3 });
    const kept = [await connect(), await connect(), await connect()];
    const extra = await connect();
    const ms = await extra.closed;
    assert.ok(ms < 1000);
    assert.equal(extra.out(), '');
    await waitFor(() =>
      logs.some((l) => /^connection refused: 3 connections open \(max-connections 3\)/.test(l.msg)),
    );
    kept[0]?.c.destroy();
    await kept[0]?.closed;
    await new Promise((r) => setTimeout(r, 50));
    const again = await connect();
    again.c.write('GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await again.closed;
    assert.match(again.out(), /^HTTP\/1\.1 200 /);
  });
});
