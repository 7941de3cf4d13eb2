/**
 * The Docker Engine routes ckptd does not implement, answered as dockerd answers them where
 * dockerd's answer holds for ckptd too, and otherwise with a 501 naming the feature: never a
 * bare `page not found` for a route the docker CLI or an SDK knows.
 * - swarm (swarm, services, nodes, tasks, secrets, configs): 503 as dockerd on a node whose
 *   swarm is inactive (moby `daemon/cluster/errors.go`); joining or initialising one is 501.
 * - plugins: ckptd has none; the list is empty and a named plugin is not found (dockerd's
 *   words); installing or creating one is 501.
 * - build, sessions, BuildKit's gRPC, image search, registry distribution lookups, websocket
 *   attach: 501. `POST /build/prune` answers that there was nothing to prune: there is no cache.
 * Route bodies are never read (`stream` in body-policy.ts): the refusal does not depend on them.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { NotFoundError, NotImplementedError, UnavailableError } from '../../errors/index.js';

/** ERR_SWARM_NOT_MANAGER is dockerd's answer on a node that is not in a swarm (errNoManager). */
export const ERR_SWARM_NOT_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

/** ERR_NO_SWARM is dockerd's answer to leaving a swarm the node is not in (errNoSwarm). */
export const ERR_NO_SWARM = 'This node is not part of a swarm';

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

const notImplemented =
  (feature: string): Handler =>
  async () => {
    throw new NotImplementedError(`${feature} is not supported by ckptd`);
  };

const notManager: Handler = async () => {
  throw new UnavailableError(ERR_SWARM_NOT_MANAGER);
};

const pluginNotFound: Handler = async (request) => {
  const name = (request.params as { name?: string }).name ?? '';
  throw new NotFoundError(`plugin ${JSON.stringify(name)} not found`);
};

const SWARM_DOC = {
  tags: ['Swarm'],
  description: 'ckptd runs no swarm: answered as a dockerd whose swarm is inactive (503)',
};
const NI_DOC = (tag: string, what: string) => ({
  tags: [tag],
  description: `Not supported by ckptd (501): ${what}`,
});

const ERROR_ONLY = {
  default: {
    description: 'Error',
    content: { 'application/json': { schema: { $ref: 'ErrorResponse#' } } },
  },
} as const;

/** OPERATION_IDS are Docker's swagger names of the refused routes (`METHOD url` -> operationId). */
const OPERATION_IDS: Record<string, string> = {
  'GET /swarm': 'SwarmInspect',
  'POST /swarm/init': 'SwarmInit',
  'POST /swarm/join': 'SwarmJoin',
  'POST /swarm/leave': 'SwarmLeave',
  'POST /swarm/update': 'SwarmUpdate',
  'GET /swarm/unlockkey': 'SwarmUnlockkey',
  'POST /swarm/unlock': 'SwarmUnlock',
  'GET /plugins': 'PluginList',
  'GET /plugins/privileges': 'GetPluginPrivileges',
  'POST /plugins/pull': 'PluginPull',
  'POST /plugins/create': 'PluginCreate',
  'GET /plugins/:name/json': 'PluginInspect',
  'DELETE /plugins/:name': 'PluginDelete',
  'POST /build': 'ImageBuild',
  'POST /build/cancel': 'BuildCancel',
  'POST /build/prune': 'BuildPrune',
  'POST /session': 'Session',
  'POST /grpc': 'Grpc',
  'GET /images/search': 'ImageSearch',
  'GET /distribution/*': 'DistributionInspect',
  'GET /containers/:id/attach/ws': 'ContainerAttachWebsocket',
};

const KIND_NAMES: Record<string, string> = {
  services: 'Service',
  nodes: 'Node',
  tasks: 'Task',
  secrets: 'Secret',
  configs: 'Config',
  plugins: 'Plugin',
};

/** operationId names a refused route as Docker's swagger does (ServiceList, NodeInspect, PluginEnable...). */
function operationId(method: string, url: string): string {
  const known = OPERATION_IDS[`${method} ${url}`];
  if (known) return known;
  const [, kind = '', second, third] = url.split('/');
  const base = KIND_NAMES[kind] ?? kind;
  const cap = (w: string) => w.charAt(0).toUpperCase() + w.slice(1);
  if (second === undefined) return `${base}List`;
  if (second === 'create') return `${base}Create`;
  if (third !== undefined) return `${base}${cap(third)}`;
  return method === 'DELETE' ? `${base}Delete` : `${base}Inspect`;
}

/** unsupportedRoutes lists the refused Docker routes. */
export function unsupportedRoutes(): RouteOptions[] {
  const routes: RouteOptions[] = [];
  const add = (method: string, url: string, handler: Handler, doc: object) =>
    routes.push({
      method,
      url,
      handler,
      schema: { ...doc, operationId: operationId(method, url), response: ERROR_ONLY },
    });
  // swarm
  add('GET', '/swarm', notManager, SWARM_DOC);
  add('POST', '/swarm/init', notImplemented('swarm mode (docker swarm init)'), NI_DOC('Swarm', 'swarm mode'));
  add('POST', '/swarm/join', notImplemented('swarm mode (docker swarm join)'), NI_DOC('Swarm', 'swarm mode'));
  add(
    'POST',
    '/swarm/leave',
    async () => {
      throw new UnavailableError(ERR_NO_SWARM);
    },
    SWARM_DOC,
  );
  add('POST', '/swarm/update', notManager, SWARM_DOC);
  add('GET', '/swarm/unlockkey', notManager, SWARM_DOC);
  add('POST', '/swarm/unlock', notManager, SWARM_DOC);
  for (const kind of ['services', 'nodes', 'tasks', 'secrets', 'configs']) {
    add('GET', `/${kind}`, notManager, SWARM_DOC);
    add('GET', `/${kind}/:id`, notManager, SWARM_DOC);
  }
  for (const kind of ['services', 'secrets', 'configs'])
    add('POST', `/${kind}/create`, notManager, SWARM_DOC);
  for (const kind of ['services', 'nodes', 'secrets', 'configs']) {
    add('DELETE', `/${kind}/:id`, notManager, SWARM_DOC);
    add('POST', `/${kind}/:id/update`, notManager, SWARM_DOC);
  }
  add('GET', '/services/:id/logs', notManager, SWARM_DOC);
  add('GET', '/tasks/:id/logs', notManager, SWARM_DOC);
  // plugins: there are none
  const PLUGIN_DOC = { tags: ['Plugin'], description: 'ckptd has no plugins' };
  add('GET', '/plugins', async () => [], PLUGIN_DOC);
  add(
    'GET',
    '/plugins/privileges',
    notImplemented('plugins (docker plugin install)'),
    NI_DOC('Plugin', 'plugins'),
  );
  add(
    'POST',
    '/plugins/pull',
    notImplemented('plugins (docker plugin install)'),
    NI_DOC('Plugin', 'plugins'),
  );
  add(
    'POST',
    '/plugins/create',
    notImplemented('plugins (docker plugin create)'),
    NI_DOC('Plugin', 'plugins'),
  );
  add('GET', '/plugins/:name/json', pluginNotFound, PLUGIN_DOC);
  add('DELETE', '/plugins/:name', pluginNotFound, PLUGIN_DOC);
  for (const action of ['enable', 'disable', 'upgrade', 'push', 'set'])
    add('POST', `/plugins/:name/${action}`, pluginNotFound, PLUGIN_DOC);
  // build and BuildKit
  add('POST', '/build', notImplemented('image build (docker build)'), NI_DOC('Image', 'image build'));
  add('POST', '/build/cancel', notImplemented('image build (docker build)'), NI_DOC('Image', 'image build'));
  add('POST', '/build/prune', async () => ({ CachesDeleted: null, SpaceReclaimed: 0 }), {
    tags: ['Image'],
    description: 'ckptd has no build cache: nothing is deleted',
  });
  add(
    'POST',
    '/session',
    notImplemented('interactive build sessions (POST /session)'),
    NI_DOC('Session', 'sessions'),
  );
  add('POST', '/grpc', notImplemented('BuildKit (POST /grpc)'), NI_DOC('Session', 'BuildKit'));
  // registry lookups
  add(
    'GET',
    '/images/search',
    notImplemented('image search (docker search)'),
    NI_DOC('Image', 'image search'),
  );
  add(
    'GET',
    '/distribution/*',
    notImplemented('registry distribution lookups (GET /distribution/{name}/json)'),
    NI_DOC('Distribution', 'registry lookups'),
  );
  // websocket attach
  add(
    'GET',
    '/containers/:id/attach/ws',
    notImplemented('websocket attach (use POST /containers/{id}/attach)'),
    NI_DOC('Container', 'websocket attach'),
  );
  return routes;
}

/** UNSUPPORTED_ROUTE_KEYS are the refused routes as body-policy.ts keys them (`METHOD url`). */
export const UNSUPPORTED_ROUTE_KEYS: readonly string[] = unsupportedRoutes().flatMap((r) =>
  [r.method].flat().map((m) => `${m} ${r.url}`),
);

/** registerUnsupportedRoutes adds the refused Docker routes to `app`. */
export function registerUnsupportedRoutes(app: FastifyInstance): void {
  for (const route of unsupportedRoutes()) app.route(route);
}
