import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConflictError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  NotModifiedError,
  PermissionDeniedError,
  UnavailableError,
  AlreadyExistsError,
  type EngineError,
} from '../../../src/errors/index.js';
import { API_VERSION, MIN_API_VERSION, compareVersions } from '../../../src/http/api-version.js';
import { makeApp, requestLines } from './helpers.js';

const DOCKER_HEADERS = {
  'api-version': '1.47',
  server: 'ckptd/9.9.9-test (linux)',
  ostype: 'linux',
  'docker-experimental': 'true',
};

function assertDockerHeaders(headers: Record<string, unknown>, what: string): void {
  for (const [k, v] of Object.entries(DOCKER_HEADERS)) assert.equal(headers[k], v, `${what}: header ${k}`);
  assert.match(String(headers['x-request-id']), /^[0-9a-f-]{36}$/, `${what}: x-request-id`);
}

describe('API version constants', () => {
  it('advertise 1.47 and accept down to 1.24', () => {
    assert.equal(API_VERSION, '1.47');
    assert.equal(MIN_API_VERSION, '1.24');
  });
  it('compareVersions compares numerically, field by field', () => {
    assert.equal(compareVersions('1.9', '1.10'), -1);
    assert.equal(compareVersions('1.47', '1.47'), 0);
    assert.equal(compareVersions('1.47.0', '1.47'), 0);
    assert.equal(compareVersions('2', '1.99'), 1);
  });
});

describe('version prefix', () => {
  for (const url of ['/_ping', '/v1.47/_ping', '/v1.24/version', '/v1.40/info', '/version']) {
    it(`${url} is served`, async () => {
      const { app } = await makeApp();
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, res.body);
    });
  }

  it('/v1.99/version is 400 "too new" in JSON', async () => {
    const { app, system } = await makeApp();
    const res = await app.inject({ method: 'GET', url: '/v1.99/version' });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), {
      message: 'client version 1.99 is too new. Maximum supported API version is 1.47',
    });
    assert.equal(system.versionCalls, 0);
  });

  it('/v1.12/version is 400 "too old", in plain text as dockerd answers pre-1.24 clients', async () => {
    const { app, system } = await makeApp();
    const res = await app.inject({ method: 'GET', url: '/v1.12/version' });
    assert.equal(res.statusCode, 400);
    assert.equal(
      res.body,
      'client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version\n',
    );
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.equal(system.versionCalls, 0);
    assertDockerHeaders(res.headers, 'too old');
  });

  it('/v1.23/_ping is refused too (1.24 is the floor)', async () => {
    const { app } = await makeApp();
    const res = await app.inject({ method: 'GET', url: '/v1.23/_ping' });
    assert.equal(res.statusCode, 400);
  });

  it('the negotiated version is on the request: prefix, or 1.47 without one', async () => {
    const { app } = await makeApp({
      extraRoutes: (a) => a.get('/test/apiversion', async (req) => ({ v: req.apiVersion })),
    });
    assert.deepEqual((await app.inject('/v1.30/test/apiversion')).json(), { v: '1.30' });
    assert.deepEqual((await app.inject('/test/apiversion')).json(), { v: '1.47' });
  });

  it('the query string survives the rewrite', async () => {
    const { app } = await makeApp({ extraRoutes: (a) => a.get('/test/query', async (req) => req.query) });
    assert.deepEqual((await app.inject('/v1.47/test/query?a=1&b=x')).json(), { a: '1', b: 'x' });
  });
});

describe('unknown routes', () => {
  for (const [method, url] of [
    ['GET', '/nope'],
    ['GET', '/v1.47/nope'],
    ['GET', '/v1.12/nope'],
    ['POST', '/_ping'],
    ['DELETE', '/version'],
    ['HEAD', '/version'],
    ['GET', '/version/'],
  ] as const) {
    it(`${method} ${url} -> 404 page not found with Docker headers`, async () => {
      const { app } = await makeApp();
      const res = await app.inject({ method, url });
      assert.equal(res.statusCode, 404);
      if (method !== 'HEAD') assert.deepEqual(res.json(), { message: 'page not found' });
      assertDockerHeaders(res.headers, `${method} ${url}`);
    });
  }

  it('a malformed URL is 400 with the Docker headers', async () => {
    const { app } = await makeApp();
    const res = await app.inject({ method: 'GET', url: '/containers/%zz/json' });
    assert.equal(res.statusCode, 400);
    assert.equal(typeof res.json().message, 'string');
    assertDockerHeaders(res.headers, 'bad url');
  });
});

describe('EngineError kinds map to dockerd statuses with the backend message', () => {
  const cases: [EngineError, number][] = [
    [new InvalidArgumentError('bad thing'), 400],
    [new NotFoundError('No such container: abc'), 404],
    [new ConflictError('Container abc is not running'), 409],
    [new AlreadyExistsError('name taken'), 409],
    [new FailedPreconditionError('precondition'), 400],
    [new PermissionDeniedError('read-only'), 403],
    [new NotImplementedError('not here'), 501],
    [new UnavailableError('containerd is not reachable at /run/containerd/containerd.sock'), 503],
    [new InternalError('commit: write layer: boom'), 500],
  ];
  for (const [err, status] of cases) {
    it(`${err.kind} -> ${status}`, async () => {
      const { app, system } = await makeApp();
      system.versionError = err;
      const res = await app.inject('/version');
      assert.equal(res.statusCode, status);
      assert.deepEqual(res.json(), { message: err.message });
      assertDockerHeaders(res.headers, err.kind);
    });
  }

  it('NotModified -> 304 without a body', async () => {
    const { app, system } = await makeApp();
    system.versionError = new NotModifiedError('already started');
    const res = await app.inject('/version');
    assert.equal(res.statusCode, 304);
    assert.equal(res.body, '');
  });

  it('a foreign error -> 500 with its message', async () => {
    const { app, system } = await makeApp();
    system.infoError = new TypeError('cannot read x of undefined');
    const res = await app.inject('/info');
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.json(), { message: 'cannot read x of undefined' });
  });
});

describe('request bodies', () => {
  const bodyRoutes = (a: import('fastify').FastifyInstance) => {
    a.post('/test/json', async (req) => ({ body: req.body === undefined ? 'undefined' : req.body }));
    a.post('/test/raw', async (req) => {
      const stream = req.body as AsyncIterable<Buffer>;
      let n = 0;
      for await (const chunk of stream) n += chunk.length;
      return { bytes: n };
    });
    a.post(
      '/test/schema',
      { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } } } } },
      async (req) => req.query,
    );
  };

  it('an empty application/json body is accepted as no body', async () => {
    const { app } = await makeApp({ extraRoutes: bodyRoutes });
    const res = await app.inject({
      method: 'POST',
      url: '/test/json',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { body: 'undefined' });
  });

  it('a JSON body is parsed', async () => {
    const { app } = await makeApp({ extraRoutes: bodyRoutes });
    const res = await app.inject({ method: 'POST', url: '/test/json', payload: { Cmd: ['sh'] } });
    assert.deepEqual(res.json(), { body: { Cmd: ['sh'] } });
  });

  it('invalid JSON is 400 {"message"}', async () => {
    const { app } = await makeApp({ extraRoutes: bodyRoutes });
    const res = await app.inject({
      method: 'POST',
      url: '/test/json',
      headers: { 'content-type': 'application/json' },
      payload: '{"a":',
    });
    assert.equal(res.statusCode, 400);
    assert.equal(typeof res.json().message, 'string');
  });

  it('a JSON body over the limit is 413 {"message"}', async () => {
    const { app } = await makeApp({ bodyLimit: 64, extraRoutes: bodyRoutes });
    const res = await app.inject({ method: 'POST', url: '/test/json', payload: { pad: 'x'.repeat(200) } });
    assert.equal(res.statusCode, 413);
    assert.deepEqual(res.json(), {
      message: 'request body is too large: POST /test/json accepts at most 64 bytes',
    });
    assert.equal(res.headers.connection, 'close');
    assertDockerHeaders(res.headers, '413');
  });

  for (const ct of [
    'application/x-tar',
    'application/octet-stream',
    'application/x-gzip',
    'application/x-xz',
    'text/x-unknown',
  ]) {
    it(`${ct} bodies reach the handler as an unread stream (no size limit)`, async () => {
      const { app } = await makeApp({ bodyLimit: 64, extraRoutes: bodyRoutes });
      const res = await app.inject({
        method: 'POST',
        url: '/test/raw',
        headers: { 'content-type': ct },
        payload: Buffer.alloc(10_000, 1),
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { bytes: 10_000 });
    });
  }

  it('a schema validation failure is 400 with a clear message', async () => {
    const { app } = await makeApp({ extraRoutes: bodyRoutes });
    const res = await app.inject({ method: 'POST', url: '/test/schema?n=abc' });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /querystring\/n must be integer/);
  });
});

describe('request logging', () => {
  it('one line per request: id, method, route pattern, url, status, duration', async () => {
    const { app, logs } = await makeApp();
    const res = await app.inject('/v1.47/version');
    const lines = requestLines(logs);
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.ok(line);
    assert.equal(line.reqId, res.headers['x-request-id']);
    assert.equal(line.method, 'GET');
    assert.equal(line.route, '/version');
    assert.equal(line.url, '/v1.47/version');
    assert.equal(line.status, 200);
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(line.level, 30);
    // Fastify's own per-request lines are off.
    assert.equal(logs.filter((l) => l.msg === 'incoming request').length, 0);
  });

  it('5xx is logged at error level with the error', async () => {
    const { app, system, logs } = await makeApp();
    system.versionError = new UnavailableError('containerd down');
    await app.inject('/version');
    const lines = requestLines(logs);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.level, 50);
    assert.equal(lines[0]?.status, 503);
    assert.equal((lines[0]?.err as { message: string }).message, 'containerd down');
  });

  it('4xx is logged at info with the message, 404 with a null route', async () => {
    const { app, logs } = await makeApp();
    await app.inject('/v1.99/version');
    await app.inject('/nope');
    const [tooNew, notFound] = requestLines(logs);
    assert.equal(tooNew?.level, 30);
    assert.equal(tooNew?.status, 400);
    assert.match(String(tooNew?.error), /too new/);
    assert.equal(notFound?.route, null);
    assert.equal(notFound?.status, 404);
  });

  it('request ids are generated, never taken from the client', async () => {
    const { app } = await makeApp();
    const a = await app.inject({ url: '/_ping', headers: { 'request-id': 'evil', 'x-request-id': 'evil' } });
    const b = await app.inject('/_ping');
    assert.notEqual(a.headers['x-request-id'], 'evil');
    assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
  });
});

describe('OpenAPI', () => {
  it('/openapi.json serves the document and /docs the UI', async () => {
    const { app } = await makeApp();
    const doc = (await app.inject('/openapi.json')).json();
    assert.equal(doc.openapi, '3.0.3');
    assert.ok(doc.paths['/events'].get);
    assert.equal(doc.paths['/openapi.json'], undefined);
    const ui = await app.inject('/docs');
    assert.equal(ui.statusCode, 200);
    assert.match(ui.body, /swagger/i);
  });
});
