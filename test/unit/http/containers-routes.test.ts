import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import type {
  ContainerInspect,
  ContainerSummary,
  ContainersBackend,
  ContainerWaiter,
  CreateContainerRequest,
  ListContainersOptions,
  RemoveOptions,
  StopOptions,
} from '../../../src/engine/containers/index.js';
import type { WaitCondition } from '../../../src/engine/containers/shape.js';
import { ConflictError, NotFoundError, NotModifiedError } from '../../../src/errors/index.js';
import type { Filters } from '../../../src/oci/filters.js';
import { registerContainersRoutes } from '../../../src/http/routes/containers.routes.js';
import { makeApp } from './helpers.js';

/** FakeContainers records calls and answers from scripts. */
class FakeContainers implements ContainersBackend {
  calls: [string, ...unknown[]][] = [];
  waitResult: Promise<{ StatusCode: number; Error: null }> = Promise.resolve({ StatusCode: 0, Error: null });
  running = new Set<string>(['run1']);

  #known(ref: string): void {
    if (!['c1', 'run1'].includes(ref)) throw new NotFoundError(`No such container: ${ref}`);
  }
  async containerCreate(name: string | undefined, req: CreateContainerRequest) {
    this.calls.push(['create', name, req]);
    if (name === 'taken') throw new ConflictError('Conflict. The container name "/taken" is already in use');
    return { Id: 'a'.repeat(64), Warnings: [] };
  }
  async containerStart(ref: string) {
    this.#known(ref);
    this.calls.push(['start', ref]);
    if (this.running.has(ref)) throw new NotModifiedError('running');
  }
  async containerStop(ref: string, opts?: StopOptions) {
    this.#known(ref);
    this.calls.push(['stop', ref, opts]);
  }
  async containerKill(ref: string, signal?: string) {
    this.#known(ref);
    this.calls.push(['kill', ref, signal]);
    if (!this.running.has(ref)) throw new ConflictError(`Container ${ref} is not running`);
  }
  async containerRestart(ref: string, opts?: StopOptions) {
    this.calls.push(['restart', ref, opts]);
  }
  async containerWait(ref: string, condition: WaitCondition): Promise<ContainerWaiter> {
    this.#known(ref);
    this.calls.push(['wait', ref, condition]);
    return { result: this.waitResult };
  }
  async containerPause(ref: string) {
    this.calls.push(['pause', ref]);
  }
  async containerUnpause(ref: string) {
    this.calls.push(['unpause', ref]);
  }
  async containerRename(ref: string, name: string) {
    this.#known(ref);
    this.calls.push(['rename', ref, name]);
  }
  async containersPrune(filters: Filters) {
    this.calls.push(['prune', filters.get('label')]);
    return { ContainersDeleted: ['c1'], SpaceReclaimed: 0 };
  }
  async *containerStats(ref: string, opts: { stream: boolean; oneShot: boolean }) {
    this.#known(ref);
    this.calls.push(['stats', ref, opts]);
    yield { id: ref, n: 1 };
    if (opts.stream) yield { id: ref, n: 2 };
  }
  async containerTop(ref: string, psArgs?: string) {
    this.#known(ref);
    this.calls.push(['top', ref, psArgs]);
    return { Titles: ['PID', 'CMD'], Processes: [['1', 'sleep 9']] };
  }
  async containerRemove(ref: string, opts?: RemoveOptions) {
    this.#known(ref);
    this.calls.push(['remove', ref, opts]);
  }
  async containers(opts: ListContainersOptions): Promise<ContainerSummary[]> {
    this.calls.push(['list', { ...opts, filters: opts.filters?.toRecord() }]);
    return [];
  }
  async containerInspect(ref: string): Promise<ContainerInspect> {
    this.#known(ref);
    return { Id: ref } as ContainerInspect;
  }
  async containerUpdate(ref: string, body: Record<string, unknown>) {
    this.#known(ref);
    this.calls.push(['update', ref, body]);
    return { Warnings: [] };
  }
}

async function setup() {
  const backend = new FakeContainers();
  const t = await makeApp({ extraRoutes: (app) => registerContainersRoutes(app, backend) });
  return { ...t, backend };
}

describe('container routes', () => {
  test('POST /containers/create passes name and body, answers 201 {Id, Warnings}', async () => {
    const { app, backend } = await setup();
    const res = await app.inject({
      method: 'POST',
      url: '/v1.47/containers/create?name=web',
      payload: { Image: 'busybox', Cmd: 'sh', HostConfig: { NetworkMode: 'none' } },
    });
    assert.equal(res.statusCode, 201);
    assert.deepEqual(res.json(), { Id: 'a'.repeat(64), Warnings: [] });
    assert.deepEqual(backend.calls[0], [
      'create',
      'web',
      { Image: 'busybox', Cmd: 'sh', HostConfig: { NetworkMode: 'none' } },
    ]);
  });

  test('POST /containers/{id}/update passes the body and answers 200 {"Warnings":[]}; 404 when missing', async () => {
    const { app, backend } = await setup();
    let res = await app.inject({
      method: 'POST',
      url: '/v1.47/containers/c1/update',
      payload: { Memory: 134217728, RestartPolicy: { Name: 'always' } },
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { Warnings: [] });
    assert.deepEqual(backend.calls[0], [
      'update',
      'c1',
      { Memory: 134217728, RestartPolicy: { Name: 'always' } },
    ]);
    res = await app.inject({ method: 'POST', url: '/containers/nope/update', payload: {} });
    assert.equal(res.statusCode, 404);
  });

  test('create without a body is a 400; a taken name a 409, both {"message"}', async () => {
    const { app } = await setup();
    let res = await app.inject({
      method: 'POST',
      url: '/containers/create',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.statusCode, 400);
    assert.ok(res.json<{ message: string }>().message.length > 0);
    res = await app.inject({ method: 'POST', url: '/containers/create?name=taken', payload: { Image: 'x' } });
    assert.equal(res.statusCode, 409);
    assert.ok(res.json<{ message: string }>().message.startsWith('Conflict.'));
  });

  test('rename passes the new name (204); top passes ps_args and answers {Titles, Processes}', async () => {
    const { app, backend } = await setup();
    assert.equal(
      (await app.inject({ method: 'POST', url: '/v1.47/containers/c1/rename?name=new' })).statusCode,
      204,
    );
    const top = await app.inject({ method: 'GET', url: '/v1.47/containers/run1/top?ps_args=aux' });
    assert.equal(top.statusCode, 200);
    assert.deepEqual(top.json(), { Titles: ['PID', 'CMD'], Processes: [['1', 'sleep 9']] });
    assert.equal((await app.inject({ method: 'GET', url: '/containers/run1/top' })).statusCode, 200);
    assert.deepEqual(backend.calls, [
      ['rename', 'c1', 'new'],
      ['top', 'run1', 'aux'],
      ['top', 'run1', undefined],
    ]);
    backend.calls.length = 0;
    assert.equal((await app.inject({ method: 'GET', url: '/containers/x/top' })).statusCode, 404);
    const one = await app.inject({ method: 'GET', url: '/v1.47/containers/run1/stats?stream=false' });
    assert.deepEqual(one.json(), { id: 'run1', n: 1 });
    const lines = await app.inject({ method: 'GET', url: '/v1.47/containers/run1/stats' });
    assert.deepEqual(
      lines.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
      [
        { id: 'run1', n: 1 },
        { id: 'run1', n: 2 },
      ],
    );
    assert.equal((await app.inject({ method: 'GET', url: '/containers/x/stats' })).statusCode, 404);
    assert.equal(
      (await app.inject({ method: 'GET', url: '/containers/run1/stats?stream=true&one-shot=true' }))
        .statusCode,
      400,
    );
    const prune = await app.inject({
      method: 'POST',
      url: `/v1.47/containers/prune?filters=${encodeURIComponent('{"label":{"a=b":true}}')}`,
    });
    assert.equal(prune.statusCode, 200);
    assert.deepEqual(prune.json(), { ContainersDeleted: ['c1'], SpaceReclaimed: 0 });
    assert.deepEqual(backend.calls.at(-1), ['prune', ['a=b']]);
  });

  test('start answers 204, 304 when running, 404 {"message"} when missing', async () => {
    const { app } = await setup();
    assert.equal((await app.inject({ method: 'POST', url: '/containers/c1/start' })).statusCode, 204);
    const r304 = await app.inject({ method: 'POST', url: '/containers/run1/start' });
    assert.equal(r304.statusCode, 304);
    assert.equal(r304.body, '');
    const r404 = await app.inject({ method: 'POST', url: '/containers/x/start' });
    assert.equal(r404.statusCode, 404);
    assert.deepEqual(r404.json(), { message: 'No such container: x' });
  });

  test('stop and restart parse t and signal; a bad t is a 400', async () => {
    const { app, backend } = await setup();
    assert.equal(
      (await app.inject({ method: 'POST', url: '/containers/c1/stop?t=3&signal=SIGUSR1' })).statusCode,
      204,
    );
    assert.deepEqual(backend.calls.at(-1), ['stop', 'c1', { timeout: 3, signal: 'SIGUSR1' }]);
    assert.equal((await app.inject({ method: 'POST', url: '/containers/c1/restart?t=-1' })).statusCode, 204);
    assert.deepEqual(backend.calls.at(-1), ['restart', 'c1', { timeout: -1 }]);
    assert.equal((await app.inject({ method: 'POST', url: '/containers/c1/stop?t=soon' })).statusCode, 400);
  });

  test('kill of a stopped container is 409 {"message"}', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'POST', url: '/containers/c1/kill?signal=HUP' });
    assert.equal(res.statusCode, 409);
    assert.deepEqual(res.json(), { message: 'Container c1 is not running' });
  });

  test('wait sends headers before the result and then {"StatusCode","Error"}', async () => {
    const { app, backend } = await setup();
    let release!: () => void;
    backend.waitResult = new Promise((r) => (release = () => r({ StatusCode: 3, Error: null })));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const addr = app.server.address() as { port: number };
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request({
          port: addr.port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/containers/c1/wait?condition=next-exit',
        });
        req.on('response', resolve);
        req.on('error', reject);
        req.end();
      });
      assert.equal(res.statusCode, 200, 'headers arrive while the container still runs');
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.headers['api-version'], '1.47');
      release();
      let body = '';
      for await (const c of res) body += String(c);
      assert.deepEqual(JSON.parse(body), { StatusCode: 3, Error: null });
      assert.deepEqual(backend.calls.at(-1), ['wait', 'c1', 'next-exit']);
    } finally {
      await app.close();
    }
  });

  test('wait with a bad condition is a 400, on a missing container a 404', async () => {
    const { app } = await setup();
    const bad = await app.inject({ method: 'POST', url: '/containers/c1/wait?condition=later' });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json(), { message: 'invalid condition: "later"' });
    assert.equal((await app.inject({ method: 'POST', url: '/containers/zz/wait' })).statusCode, 404);
  });

  test('DELETE parses force and v; GET /containers/json parses all, limit and both filter encodings', async () => {
    const { app, backend } = await setup();
    assert.equal(
      (await app.inject({ method: 'DELETE', url: '/containers/c1?force=1&v=true' })).statusCode,
      204,
    );
    assert.deepEqual(backend.calls.at(-1), ['remove', 'c1', { force: true, removeVolumes: true }]);
    const cli = encodeURIComponent('{"status":{"exited":true}}');
    assert.equal(
      (await app.inject({ method: 'GET', url: `/containers/json?all=1&limit=2&filters=${cli}` })).statusCode,
      200,
    );
    assert.deepEqual(backend.calls.at(-1), [
      'list',
      { all: true, size: false, limit: 2, filters: { status: ['exited'] } },
    ]);
    const py = encodeURIComponent('{"label":["a=b"]}');
    await app.inject({ method: 'GET', url: `/containers/json?filters=${py}` });
    assert.deepEqual(backend.calls.at(-1), [
      'list',
      { all: false, size: false, filters: { label: ['a=b'] } },
    ]);
    assert.equal((await app.inject({ method: 'GET', url: '/containers/json?filters=nope' })).statusCode, 400);
  });
});
