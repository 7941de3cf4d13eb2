import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NetworkService, type AttachedContainer } from '../../../src/engine/networks.js';
import { SystemDfService } from '../../../src/engine/system-df.js';
import type { ImageFacts } from '../../../src/engine/images/views.js';
import type { ContainerSummary } from '../../../src/engine/containers/index.js';
import { NotFoundError } from '../../../src/errors/index.js';
import { registerNetworkRoutes } from '../../../src/http/routes/networks.routes.js';
import { registerUnsupportedRoutes } from '../../../src/http/routes/unsupported.routes.js';
import { makeApp, type TestApp } from './helpers.js';

const running: AttachedContainer[] = [
  { id: 'a'.repeat(64), name: 'n1', networkMode: 'none' },
  { id: 'b'.repeat(64), name: 'h1', networkMode: 'host' },
];

const layer = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const facts = (id: string, diffIds: string[], sizes: number[]): ImageFacts => ({
  id,
  names: [`docker.io/library/${id.slice(7, 10)}:latest`],
  manifestDigests: [],
  config: {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: diffIds },
  } as ImageFacts['config'],
  size: sizes.reduce((a, b) => a + b, 0),
  layerSizes: sizes,
});

describe('networks and system df routes', () => {
  let t: TestApp;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ckptd-net-unit-'));
    const networks = new NetworkService({
      dataRoot: dir,
      containers: {
        running: async () => running,
        find: async (ref) => {
          const c = running.find((r) => r.name === ref);
          if (!c) throw new NotFoundError(`No such container: ${ref}`);
          return c;
        },
      },
    });
    const df = new SystemDfService({
      images: {
        imageFacts: async () => [
          facts('sha256:aaa', [layer(1), layer(2)], [100, 5]),
          facts('sha256:bbb', [layer(1)], [100]),
        ],
      },
      containers: {
        containers: async () =>
          [
            { Id: 'c1', ImageID: 'sha256:aaa', SizeRootFs: 105 },
            { Id: 'c2', ImageID: 'sha256:aaa', SizeRootFs: 105 },
          ] as unknown as ContainerSummary[],
      },
      volumes: { volumesDiskUsage: async () => [] },
    });
    t = await makeApp({
      extraRoutes: (app) => {
        registerNetworkRoutes(app, networks, df);
        registerUnsupportedRoutes(app);
      },
    });
  });
  after(async () => {
    await t.app.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = async (url: string, method = 'GET', payload?: unknown) => {
    const res = await t.app.inject({
      method: method as 'GET',
      url,
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
    return { status: res.statusCode, body: res.body === '' ? undefined : (JSON.parse(res.body) as unknown) };
  };

  it('lists none and host as dockerd 20.10 with --bridge=none, with IDs kept under the data root', async () => {
    const { status, body } = await get('/v1.47/networks');
    assert.equal(status, 200);
    const list = body as { Name: string; Driver: string; Scope: string; Id: string; Containers: object }[];
    assert.deepEqual(
      list.map((n) => [n.Name, n.Driver, n.Scope, n.Containers]),
      [
        ['none', 'null', 'local', {}],
        ['host', 'host', 'local', {}],
      ],
    );
    const stored = JSON.parse(await readFile(join(dir, 'networks.json'), 'utf8')) as Record<
      string,
      { id: string }
    >;
    assert.deepEqual(
      list.map((n) => n.Id),
      [stored.none!.id, stored.host!.id],
    );
  });

  it('filters as moby: name regexp, driver, type, dangling', async () => {
    const names = async (filters: object) =>
      (
        (await get(`/networks?filters=${encodeURIComponent(JSON.stringify(filters))}`)).body as {
          Name: string;
        }[]
      ).map((n) => n.Name);
    assert.deepEqual(await names({ name: { '^ho': true } }), ['host']);
    assert.deepEqual(await names({ driver: { null: true } }), ['none']);
    assert.deepEqual(await names({ type: { custom: true } }), []);
    assert.deepEqual(await names({ type: { builtin: true } }), ['none', 'host']);
    assert.deepEqual(await names({ dangling: { true: true } }), []);
    assert.equal((await get(`/networks?filters=${encodeURIComponent('{"foo":{"x":true}}')}`)).status, 400);
  });

  it('inspects by name, ID and ID prefix, with its running containers; 404 in dockerd words', async () => {
    const host = (await get('/networks/host')).body as {
      Id: string;
      Containers: Record<string, { Name: string }>;
    };
    assert.deepEqual(Object.keys(host.Containers), ['b'.repeat(64)]);
    assert.equal(host.Containers['b'.repeat(64)]!.Name, 'h1');
    assert.equal(((await get(`/networks/${host.Id}`)).body as { Name: string }).Name, 'host');
    assert.equal(((await get(`/networks/${host.Id.slice(0, 6)}`)).body as { Name: string }).Name, 'host');
    assert.deepEqual(await get('/networks/nosuch'), {
      status: 404,
      body: { message: 'network nosuch not found' },
    });
    assert.equal((await get('/networks/host?scope=swarm')).status, 404);
  });

  it('refuses changes as dockerd does for predefined networks', async () => {
    assert.deepEqual(await get('/networks/host', 'DELETE'), {
      status: 403,
      body: { message: 'host is a pre-defined network and cannot be removed' },
    });
    assert.deepEqual(await get('/networks/create', 'POST', { Name: 'none' }), {
      status: 403,
      body: { message: 'operation is not permitted on predefined none network ' },
    });
    const created = await get('/networks/create', 'POST', { Name: 'mynet' });
    assert.equal(created.status, 501);
    assert.match((created.body as { message: string }).message, /network create is not supported/);
    assert.deepEqual(await get('/networks/host/connect', 'POST', { Container: 'n1' }), {
      status: 400,
      body: { message: 'container cannot be disconnected from host network or connected to host network' },
    });
    assert.deepEqual(await get('/networks/none/connect', 'POST', { Container: 'n1' }), {
      status: 403,
      body: { message: 'endpoint with name n1 already exists in network none' },
    });
    assert.equal((await get('/networks/none/disconnect', 'POST', { Container: 'n1' })).status, 501);
    assert.equal((await get('/networks/none/connect', 'POST', { Container: 'zz' })).status, 404);
    assert.deepEqual(await get('/networks/prune', 'POST'), { status: 200, body: { NetworksDeleted: null } });
  });

  it('GET /system/df: shared sizes, container counts, LayersSize counted once; type selects', async () => {
    const { status, body } = await get('/v1.47/system/df');
    assert.equal(status, 200);
    const du = body as {
      LayersSize: number;
      Images: { Id: string; Size: number; SharedSize: number; Containers: number; VirtualSize?: number }[];
      Containers: unknown[];
      Volumes: unknown[];
      BuildCache: unknown[];
    };
    assert.equal(du.LayersSize, 105);
    assert.deepEqual(
      du.Images.map((i) => [i.Id, i.Size, i.SharedSize, i.Containers, i.VirtualSize]),
      [
        ['sha256:aaa', 105, 100, 2, undefined],
        ['sha256:bbb', 100, 100, 0, undefined],
      ],
    );
    assert.equal(du.Containers.length, 2);
    assert.deepEqual([du.Volumes, du.BuildCache], [[], []]);
    const only = (await get('/v1.47/system/df?type=volume')).body as Record<string, unknown>;
    assert.deepEqual(only, { Images: null, Containers: null, Volumes: [], BuildCache: null });
    assert.deepEqual(await get('/v1.47/system/df?type=foo'), {
      status: 400,
      body: { message: 'unknown object type: foo' },
    });
    // before 1.42 there is no type: everything; before 1.44 images keep VirtualSize
    const old = (await get('/v1.41/system/df?type=foo')).body as { Images: { VirtualSize: number }[] };
    assert.equal(old.Images[0]!.VirtualSize, 105);
  });

  it('known Docker routes ckptd lacks answer 503 (swarm) or 501 naming the feature, never page not found', async () => {
    const swarm = await get('/v1.47/swarm');
    assert.equal(swarm.status, 503);
    assert.match((swarm.body as { message: string }).message, /^This node is not a swarm manager/);
    assert.equal((await get('/services/x/update', 'POST')).status, 503);
    assert.deepEqual(await get('/swarm/leave', 'POST'), {
      status: 503,
      body: { message: 'This node is not part of a swarm' },
    });
    assert.deepEqual(await get('/build', 'POST'), {
      status: 501,
      body: { message: 'image build (docker build) is not supported by ckptd' },
    });
    assert.deepEqual(await get('/plugins'), { status: 200, body: [] });
    assert.deepEqual(await get('/plugins/foo/json'), {
      status: 404,
      body: { message: 'plugin "foo" not found' },
    });
    assert.equal((await get('/distribution/library/busybox/json')).status, 501);
    assert.equal((await get('/images/search?term=x')).status, 501);
    assert.deepEqual(await get('/nosuch'), { status: 404, body: { message: 'page not found' } });
  });
});
