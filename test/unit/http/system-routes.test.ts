import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { CancelledError } from '../../../src/errors/index.js';
import { listen, type Listener } from '../../../src/http/listen.js';
import { FAKE_INFO, FAKE_VERSION, makeEvent } from './fake-system.js';
import { getOverSocket, makeApp, readBody, requestLines, tempDir, waitFor, type TestApp } from './helpers.js';

const PING_HEADERS = {
  'cache-control': 'no-cache, no-store, must-revalidate',
  pragma: 'no-cache',
  'builder-version': '1',
  swarm: 'inactive',
  'api-version': '1.47',
  ostype: 'linux',
  'docker-experimental': 'true',
};

describe('GET and HEAD /_ping', () => {
  it('GET answers OK as text/plain with the ping headers', async () => {
    const { app } = await makeApp();
    const res = await app.inject('/_ping');
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'OK');
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    for (const [k, v] of Object.entries(PING_HEADERS)) assert.equal(res.headers[k], v, k);
  });

  it('HEAD answers no body, Content-Length 0, text/plain, same headers', async () => {
    const { app } = await makeApp();
    const res = await app.inject({ method: 'HEAD', url: '/v1.47/_ping' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, '');
    assert.equal(res.headers['content-length'], '0');
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    for (const [k, v] of Object.entries(PING_HEADERS)) assert.equal(res.headers[k], v, k);
  });

  it('never calls the backend, so it answers while containerd is down', async () => {
    const { app, system } = await makeApp();
    system.versionError = new Error('down');
    system.infoError = new Error('down');
    assert.equal((await app.inject('/_ping')).statusCode, 200);
    assert.equal(system.versionCalls + system.infoCalls + system.eventsCalls.length, 0);
  });
});

describe('GET /version and /info', () => {
  it('/version returns the backend body unchanged', async () => {
    const { app } = await makeApp();
    const res = await app.inject('/v1.47/version');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), FAKE_VERSION);
  });

  it('/info returns the backend body unchanged, fields outside the schema included', async () => {
    const { app } = await makeApp();
    const res = await app.inject('/info');
    assert.deepEqual(res.json(), FAKE_INFO);
    assert.deepEqual(res.json().SecurityOptions, FAKE_INFO.SecurityOptions);
  });
});

describe('GET /events parameters', () => {
  it('since, until and CLI-style filters reach the backend parsed', async () => {
    const { app, system } = await makeApp();
    system.end();
    const filters = encodeURIComponent('{"type":{"container":true},"event":{"commit":true}}');
    const res = await app.inject(`/events?since=1700000000.5&until=1700000100&filters=${filters}`);
    assert.equal(res.statusCode, 200);
    const [call] = system.eventsCalls;
    assert.ok(call);
    assert.equal(call.opts.sinceNano, 1_700_000_000_500_000_000n);
    assert.equal(call.opts.untilNano, 1_700_000_100_000_000_000n);
    assert.deepEqual(call.opts.filters, { type: ['container'], event: ['commit'] });
  });

  it('docker-py style list filters are accepted; no since/until -> undefined', async () => {
    const { app, system } = await makeApp();
    system.end();
    await app.inject(`/events?filters=${encodeURIComponent('{"type":["container","image"]}')}`);
    const [call] = system.eventsCalls;
    assert.deepEqual(call?.opts, {
      sinceNano: undefined,
      untilNano: undefined,
      filters: { type: ['container', 'image'] },
    });
  });

  for (const [query, pattern] of [
    ['filters=%7Bnope', /invalid filter/],
    ['since=yesterday', /invalid since/],
    ['until=soon', /invalid until/],
    ['since=1700000100&until=1700000000', /cannot be after/],
  ] as const) {
    it(`${query} -> 400 before any header is streamed`, async () => {
      const { app, system } = await makeApp();
      const res = await app.inject(`/events?${query}`);
      assert.equal(res.statusCode, 400);
      assert.match(res.json().message, pattern);
      assert.equal(system.eventsCalls.length, 0);
    });
  }

  it('events already yielded come back one JSON object per line', async () => {
    const { app, system } = await makeApp();
    system.push(makeEvent('create', 'a'));
    system.push(makeEvent('commit', 'b'));
    system.end();
    const res = await app.inject('/events');
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['api-version'], '1.47');
    const lines = res.body.split('\n');
    assert.equal(lines.pop(), '');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l)),
      [makeEvent('create', 'a'), makeEvent('commit', 'b')],
    );
  });
});

describe('GET /events streaming over a real socket', () => {
  let t: TestApp;
  let listener: Listener;
  let sock: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    sock = join(tmp.dir, 'd.sock');
  });
  after(async () => cleanup());

  const start = async () => {
    t = await makeApp();
    listener = await listen(t.app, [{ kind: 'unix', path: sock }], { logger: pino({ level: 'silent' }) });
  };
  const stop = async (app: FastifyInstance) => {
    listener.closeAllConnections();
    await listener.close();
    await app.close();
  };
  afterEach(async () => stop(t.app));

  it('headers arrive before the first event, then lines arrive as yielded', async () => {
    await start();
    const { res: resP } = getOverSocket(sock, '/v1.47/events');
    const res = await resP; // resolves with no event queued: headers were flushed at once
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['docker-experimental'], 'true');
    const lines: string[] = [];
    let buf = '';
    res.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    t.system.push(makeEvent('start', 'one'));
    await waitFor(() => lines.length === 1);
    assert.equal(JSON.parse(lines[0] ?? '').Action, 'start');
    t.system.push(makeEvent('commit', 'two'));
    await waitFor(() => lines.length === 2);
    assert.equal(JSON.parse(lines[1] ?? '').Action, 'commit');
    t.system.end();
    await new Promise((r) => res.once('end', r));
    await waitFor(() => requestLines(t.logs).length === 1);
    assert.equal(requestLines(t.logs)[0]?.status, 200);
  });

  it('a slow reader gets backpressure: the source is not drained ahead of the socket', async () => {
    await start();
    const pad = 'x'.repeat(4096);
    const total = 5000; // ~20 MiB of events
    for (let i = 0; i < total; i++) {
      t.system.push({ ...makeEvent('exec_start', String(i)), Actor: { ID: String(i), Attributes: { pad } } });
    }
    t.system.end();
    const { res: resP } = getOverSocket(sock, '/events');
    const res = await resP;
    res.pause();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(
      t.system.pulled < total / 5,
      `pulled ${t.system.pulled} of ${total} while the client read nothing`,
    );
    const body = await readBody(res);
    assert.equal(body.split('\n').length - 1, total);
    assert.equal(t.system.pulled, total);
  });

  it('a client disconnect aborts the backend signal with "client disconnected"', async () => {
    await start();
    const { req, res: resP } = getOverSocket(sock, '/events');
    const res = await resP;
    assert.equal(res.statusCode, 200);
    req.destroy();
    const reason = await t.system.aborted;
    assert.ok(reason instanceof CancelledError);
    assert.equal(reason.message, 'client disconnected');
    await waitFor(() => requestLines(t.logs).length === 1);
    const [line] = requestLines(t.logs);
    assert.equal(line?.clientGone, true);
    assert.equal(line?.status, 200); // headers had gone out: logged as sent, flagged
  });

  it('daemon shutdown ends the stream cleanly', async () => {
    await start();
    const { res: resP } = getOverSocket(sock, '/events');
    const res = await resP;
    const body = readBody(res);
    t.shutdown.abort();
    assert.equal(await body, '');
    const reason = await t.system.aborted;
    assert.equal((reason as Error).message, 'daemon is shutting down');
  });

  it('a backend failure after the headers cuts the connection and is logged at error', async () => {
    await start();
    const { res: resP } = getOverSocket(sock, '/events');
    const res = await resP;
    const ended = new Promise<string>((resolve) => {
      res.on('error', () => resolve('error'));
      res.on('aborted', () => resolve('aborted'));
      res.on('end', () => resolve('end'));
      res.resume();
    });
    t.system.fail(new Error('event source broke'));
    assert.notEqual(await ended, 'end'); // no clean end: the client must not think the stream finished
    await waitFor(() => requestLines(t.logs).length === 1);
    const [line] = requestLines(t.logs);
    assert.equal(line?.level, 50);
    assert.equal((line?.err as { message: string }).message, 'event source broke');
  });

  it('a request whose client leaves before the reply is logged 499 and gets no body', async () => {
    await start();
    t.system.versionBlocks = true;
    const { req, res } = getOverSocket(sock, '/version');
    res.catch(() => undefined);
    await t.system.versionParked;
    req.destroy();
    await waitFor(() => requestLines(t.logs).length === 1);
    const [line] = requestLines(t.logs);
    assert.equal(line?.status, 499);
    assert.equal(line?.clientGone, true);
    assert.equal(line?.level, 30);
  });

  it('a short request keeps running at shutdown and gets 503 only when the shutdown timeout hits', async () => {
    await start();
    t.system.versionBlocks = true;
    const { res: resP } = getOverSocket(sock, '/version');
    let answered = false;
    void resP.then(() => (answered = true));
    await t.system.versionParked;
    t.shutdown.abort();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(answered, false, 'a short request is not aborted by the start of a graceful shutdown');
    t.force.abort();
    const res = await resP;
    assert.equal(res.statusCode, 503);
    assert.deepEqual(JSON.parse(await readBody(res)), { message: 'daemon is shutting down' });
  });
});
