import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { ImagesBackend } from '../../../src/engine/images/backend.js';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../../src/errors/index.js';
import { registerImageRoutes } from '../../../src/http/routes/images.routes.js';
import { makeApp } from './helpers.js';

const ID = `sha256:${'c'.repeat(64)}`;

function fake(over: Partial<ImagesBackend> = {}): ImagesBackend & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  return {
    calls,
    async loadImage(input: Readable) {
      let n = 0;
      for await (const c of input) n += (c as Buffer).length;
      calls.push(['load', n]);
      return [{ id: ID, repoTags: ['busybox:latest'] }];
    },
    async images(opts) {
      calls.push(['images', opts.filters.toRecord()]);
      return [
        {
          Id: ID,
          ParentId: '',
          RepoTags: ['busybox:latest'],
          RepoDigests: [],
          Created: 1,
          Size: 2,
          SharedSize: -1,
          VirtualSize: 2,
          Labels: {},
          Containers: -1,
        },
      ];
    },
    async imageInspect(name) {
      calls.push(['inspect', name]);
      if (name === 'x') throw new NotFoundError('No such image: x');
      return { Id: ID, VirtualSize: 2, Container: '', ContainerConfig: {} } as never;
    },
    async imageHistory(name) {
      calls.push(['history', name]);
      return [];
    },
    async tagImage(source, repo, tag) {
      calls.push(['tag', source, repo, tag]);
      if (repo === 'Bad')
        throw new InvalidArgumentError('invalid reference format: repository name (Bad) must be lowercase');
    },
    async imageDelete(name, opts) {
      calls.push(['delete', name, opts]);
      if (name === 'used') throw new ConflictError('conflict: in use');
      return [{ Untagged: 'busybox:latest' }, { Deleted: ID }];
    },
    async imagesPrune(filters) {
      calls.push(['prune', filters.getBoolOrDefault('dangling', true)]);
      return { ImagesDeleted: [{ Deleted: ID }], SpaceReclaimed: 7 };
    },
    ...over,
  };
}

async function app(backend: ImagesBackend) {
  return (await makeApp({ extraRoutes: (a) => registerImageRoutes(a, backend) })).app;
}

describe('image routes', () => {
  it('POST /images/prune passes the filters; dangling=false is prune -a', async () => {
    const b = fake();
    const a = await app(b);
    const res = await a.inject({
      method: 'POST',
      url: `/v1.47/images/prune?filters=${encodeURIComponent('{"dangling":{"false":true}}')}`,
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { ImagesDeleted: [{ Deleted: ID }], SpaceReclaimed: 7 });
    assert.deepEqual(b.calls.at(-1), ['prune', false]);
    assert.equal(
      (await a.inject({ method: 'POST', url: '/images/prune?filters=%7B%22bad%22' })).statusCode,
      400,
    );
  });

  it('POST /images/load streams the body to the backend and answers a JSON message stream', async () => {
    const b = fake();
    const res = await (
      await app(b)
    ).inject({
      method: 'POST',
      url: '/v1.47/images/load?quiet=1',
      headers: { 'content-type': 'application/x-tar' },
      payload: Buffer.alloc(2048),
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.body, '{"stream":"Loaded image: busybox:latest\\n"}\n');
    assert.deepEqual(b.calls, [['load', 2048]]);
  });

  it('POST /images/load reports an untagged image by ID and failures in-band with 200', async () => {
    const untagged = fake({ loadImage: async () => [{ id: ID, repoTags: [] }] });
    const r1 = await (await app(untagged)).inject({ method: 'POST', url: '/images/load', payload: 'x' });
    assert.equal(r1.body, `{"stream":"Loaded image ID: ${ID}\\n"}\n`);
    const failing = fake({
      loadImage: async () => {
        throw new InvalidArgumentError('invalid diffID for layer 0');
      },
    });
    const r2 = await (await app(failing)).inject({ method: 'POST', url: '/images/load', payload: 'x' });
    assert.equal(r2.statusCode, 200);
    assert.deepEqual(JSON.parse(r2.body), {
      errorDetail: { message: 'invalid diffID for layer 0' },
      error: 'invalid diffID for layer 0',
    });
  });

  it('GET /images/json passes filters in both encodings and drops VirtualSize from 1.44', async () => {
    const b = fake();
    const a = await app(b);
    const res = await a.inject(
      `/v1.47/images/json?filters=${encodeURIComponent('{"reference":{"bb*":true}}')}`,
    );
    assert.equal(res.statusCode, 200);
    assert.equal(res.json()[0].VirtualSize, undefined);
    const old = await a.inject(`/v1.41/images/json?filters=${encodeURIComponent('{"dangling":["true"]}')}`);
    assert.equal(old.json()[0].VirtualSize, 2);
    assert.deepEqual(b.calls, [
      ['images', { reference: ['bb*'] }],
      ['images', { dangling: ['true'] }],
    ]);
  });

  it('GET /images/{name}/json works for names with slashes and tags; 404 in Docker words', async () => {
    const b = fake();
    const a = await app(b);
    assert.equal((await a.inject('/v1.47/images/user/repo:1/json')).statusCode, 200);
    assert.equal((await a.inject('/v1.47/images/busybox:latest/json')).statusCode, 200);
    const nf = await a.inject('/v1.47/images/x/json');
    assert.equal(nf.statusCode, 404);
    assert.equal(nf.headers['content-type'], 'application/json');
    assert.deepEqual(nf.json(), { message: 'No such image: x' });
    assert.deepEqual(b.calls.slice(0, 2), [
      ['inspect', 'user/repo:1'],
      ['inspect', 'busybox:latest'],
    ]);
  });

  it('inspect drops Container/ContainerConfig from 1.45 and keeps them before', async () => {
    const a = await app(fake());
    assert.equal((await a.inject('/v1.47/images/a/json')).json().ContainerConfig, undefined);
    assert.deepEqual((await a.inject('/v1.43/images/a/json')).json().ContainerConfig, {});
  });

  it('POST /images/{name}/tag answers 201, 400 for a bad repo', async () => {
    const b = fake();
    const a = await app(b);
    const res = await a.inject({ method: 'POST', url: '/v1.47/images/user/src/tag?repo=dst&tag=2' });
    assert.equal(res.statusCode, 201);
    assert.deepEqual(b.calls[0], ['tag', 'user/src', 'dst', '2']);
    const bad = await a.inject({ method: 'POST', url: '/v1.47/images/src/tag?repo=Bad' });
    assert.equal(bad.statusCode, 400);
  });

  it('DELETE /images/{name} answers the list, 409 on conflict; force parsed as Docker bool', async () => {
    const b = fake();
    const a = await app(b);
    const res = await a.inject({ method: 'DELETE', url: '/v1.47/images/user/repo?force=1' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), [{ Untagged: 'busybox:latest' }, { Deleted: ID }]);
    assert.deepEqual(b.calls[0], ['delete', 'user/repo', { force: true, noprune: false }]);
    assert.equal((await a.inject({ method: 'DELETE', url: '/images/used' })).statusCode, 409);
  });

  it('unknown image sub-paths are 404 page not found', async () => {
    const a = await app(fake());
    const res = await a.inject('/v1.47/images/a/b/unknown');
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { message: 'page not found' });
  });
});
