/**
 * The HTTP fuzz target: whole requests — any route of the Docker API ckptd serves, hostile path
 * parameters, known and unknown query parameters with odd values, bodies of JSON, garbage or the
 * wrong content type — against the real server (routing, schemas, body policy, parameter
 * parsing) over backends that know no object. Whatever comes in, the answer is a Docker error
 * below 500 (or a success) with a JSON `message`, never a 500 from parsing.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../src/errors/index.js';
import { registerArchiveRoutes } from '../../src/http/routes/archive.routes.js';
import { registerCheckpointRoutes } from '../../src/http/routes/checkpoint.routes.js';
import { registerCommitRoutes } from '../../src/http/routes/commit.routes.js';
import { registerContainerIoRoutes } from '../../src/http/routes/container-io.routes.js';
import { registerContainersRoutes } from '../../src/http/routes/containers.routes.js';
import { registerImageRoutes } from '../../src/http/routes/images.routes.js';
import { makeApp } from '../unit/http/helpers.js';
import { Finding, type FuzzTarget } from './targets.js';

/** nobody is a backend that knows no container, image, exec or checkpoint. */
const nobody = new Proxy(
  {},
  {
    get: (_t, prop) =>
      prop === 'then'
        ? undefined
        : () => {
            // a handler may start a call it does not await (a hook, a cleanup): not a finding
            const p = Promise.reject(new NotFoundError('fuzz: no such object'));
            p.catch(() => undefined);
            // streaming methods (stats, events) return async iterables: this one fails at once too
            return Object.assign(p, {
              [Symbol.asyncIterator]: () => ({
                next: () => Promise.reject(new NotFoundError('fuzz: no such object')),
                return: () => Promise.resolve({ done: true, value: undefined }),
              }),
            });
          },
  },
) as never;

interface Route {
  method: string;
  url: string;
}

async function app(): Promise<{ app: FastifyInstance; routes: Route[] }> {
  const routes: Route[] = [
    { method: 'GET', url: '/_ping' },
    { method: 'GET', url: '/version' },
    { method: 'GET', url: '/info' },
    { method: 'GET', url: '/events' },
  ];
  const { app } = await makeApp({
    extraRoutes: (a) => {
      a.addHook('onRoute', (r) => {
        for (const m of [r.method].flat())
          if (m !== 'HEAD' || r.url.includes('archive')) routes.push({ method: m, url: r.url });
      });
      registerImageRoutes(a, nobody);
      registerContainersRoutes(a, nobody);
      registerContainerIoRoutes(a, nobody, nobody);
      registerCommitRoutes(a, nobody);
      registerCheckpointRoutes(a, nobody);
      registerArchiveRoutes(a, nobody);
    },
  });
  await app.ready();
  return { app, routes };
}

const PARAM_VALUES = [
  'x',
  '..',
  '%2e%2e',
  'a%2Fb',
  '%00',
  '%ff',
  'sha256:' + 'a'.repeat(64),
  '-1',
  'a'.repeat(300),
  '%E2%80%AE',
  '*',
  ' ',
];
const QUERY_KEYS = [
  'name',
  'all',
  'force',
  'v',
  'link',
  't',
  'signal',
  'filters',
  'size',
  'limit',
  'path',
  'container',
  'repo',
  'tag',
  'changes',
  'pause',
  'checkpoint',
  'checkpoint-dir',
  'dir',
  'leaveRunning',
  'stdout',
  'stderr',
  'follow',
  'tail',
  'since',
  'until',
  'timestamps',
  'platform',
  'h',
  'w',
  'condition',
  'noOverwriteDirNonDir',
  'copyUIDGID',
  'quiet',
  'names',
  'hostConfig',
  'compress',
  'zzz',
];
const QUERY_VALUES = [
  '',
  '1',
  '0',
  'true',
  'false',
  '-1',
  '1e309',
  'NaN',
  '{}',
  '[]',
  '{"a":["b"]}',
  '{"label":{"x":true}}',
  '%7B',
  'SIGFOO',
  '99999999999999999999',
  'a'.repeat(200),
  '%00',
];
const BODIES: (string | Buffer | undefined)[] = [
  undefined,
  '',
  '{}',
  'null',
  '[]',
  '"x"',
  '{"Image":"x","HostConfig":{"Privileged":"yes"}}',
  '{"Cmd":"not-an-array","Env":[1,2]}',
  '{"HostConfig":{"Memory":-1,"Binds":["../../:/x"]}}',
  '{"__proto__":{"polluted":1}}',
  '{"a":' + '['.repeat(200) + ']'.repeat(200) + '}',
  Buffer.from([0x1f, 0x8b, 0, 1, 2]),
  Buffer.alloc(1024, 0),
];
const CONTENT_TYPES = [
  'application/json',
  'application/x-tar',
  'text/plain',
  'application/json; charset=utf-8',
  undefined,
];

const requestArb = fc.record({
  route: fc.nat(),
  params: fc.array(fc.oneof(fc.constantFrom(...PARAM_VALUES), fc.stringMatching(/^[\w.%-]{0,20}$/)), {
    minLength: 4,
    maxLength: 4,
  }),
  query: fc.dictionary(
    fc.constantFrom(...QUERY_KEYS),
    fc.oneof(fc.constantFrom(...QUERY_VALUES), fc.string({ maxLength: 10 })),
    { maxKeys: 4 },
  ),
  body: fc.oneof(
    fc.constantFrom(...BODIES),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  ),
  contentType: fc.constantFrom(...CONTENT_TYPES),
  version: fc.constantFrom('', '/v1.47', '/v1.24', '/v1.41', '/v1.99', '/v0.1'),
});

let shared: Promise<{ app: FastifyInstance; routes: Route[] }> | undefined;

export const httpTarget: FuzzTarget = {
  name: 'HTTP requests',
  assert: async (params, onRun) => {
    shared ??= app();
    const { app: a, routes } = await shared;
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        onRun();
        const route = routes[r.route % routes.length]!;
        let i = 0;
        const path = route.url.replace(/:[A-Za-z]+/g, () => r.params[i++ % r.params.length]!);
        const qs = Object.entries(r.query)
          .map(([k, v]) => `${k}=${v.startsWith('%') ? v : encodeURIComponent(v)}`)
          .join('&');
        const res = await a.inject({
          method: route.method as 'GET',
          url: `${r.version}${path}${qs ? `?${qs}` : ''}`,
          ...(r.body !== undefined ? { payload: r.body } : {}),
          headers: r.contentType ? { 'content-type': r.contentType } : {},
        });
        const what = `${route.method} ${r.version}${path}?${qs}`;
        if (res.statusCode >= 500 && res.statusCode !== 501)
          throw new Finding(`${what}: ${res.statusCode} ${res.body}`);
        // moby answers errors of clients older than 1.24 in plain text, as ckptd does
        if (res.statusCode >= 400 && route.method !== 'HEAD' && r.version !== '/v0.1') {
          let msg: unknown;
          try {
            msg = (JSON.parse(res.body) as { message?: unknown }).message;
          } catch {
            msg = undefined;
          }
          if (typeof msg !== 'string' || msg === '')
            throw new Finding(`${what}: ${res.statusCode} without a JSON message: ${res.body.slice(0, 200)}`);
        }
      }),
      params,
    );
  },
};
