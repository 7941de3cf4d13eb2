/**
 * JSON schemas of the network and disk usage routes, after Docker's swagger (v1.47)
 * `NetworkList`, `NetworkInspect`, `NetworkCreate`, `NetworkConnect`, `NetworkDisconnect`,
 * `NetworkDelete`, `NetworkPrune`, `SystemDataUsage`. They document; replies are serialized
 * with JSON.stringify, never through them.
 */

const errorRef = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: 'ErrorResponse#' } } },
});

const TAGS = ['Network'];

const idParam = {
  type: 'object',
  required: ['id'],
  properties: {
    id: { type: 'string', description: 'Network name, ID or unique ID prefix (`none`, `host`)' },
  },
} as const;

const NETWORK = {
  type: 'object',
  additionalProperties: true,
  description: 'types.NetworkResource: ckptd has the predefined `none` (driver null) and `host` networks',
  properties: {
    Name: { type: 'string' },
    Id: { type: 'string' },
    Created: { type: 'string' },
    Scope: { type: 'string', example: 'local' },
    Driver: { type: 'string', example: 'host' },
    Containers: {
      type: 'object',
      description: 'Running containers on the network (inspect only), by container ID',
      additionalProperties: true,
    },
  },
} as const;

const CONTAINER_BODY = {
  type: 'object',
  properties: {
    Container: { type: 'string', description: 'Container name or ID' },
    EndpointConfig: { type: 'object', additionalProperties: true, nullable: true },
    Force: { type: 'boolean' },
  },
} as const;

/** networkListSchema documents GET /networks. */
export const networkListSchema = {
  operationId: 'NetworkList',
  summary: 'List networks',
  description: 'The predefined `none` and `host` networks, as dockerd lists them with `--bridge=none`.',
  tags: TAGS,
  querystring: {
    type: 'object',
    properties: {
      filters: {
        type: 'string',
        description: 'JSON map of filters: dangling, driver, id, label, name, scope, type (custom|builtin)',
      },
    },
  },
  response: {
    200: { description: 'No error', type: 'array', items: NETWORK },
    500: errorRef('server error'),
  },
} as const;

/** networkInspectSchema documents GET /networks/{id}. */
export const networkInspectSchema = {
  operationId: 'NetworkInspect',
  summary: 'Inspect a network',
  tags: TAGS,
  params: idParam,
  querystring: {
    type: 'object',
    properties: {
      verbose: { type: 'string', description: 'Accepted; a local network has no more detail' },
      scope: { type: 'string', description: 'Only a network of this scope (`local`) is found' },
    },
  },
  response: { 200: { ...NETWORK, description: 'No error' }, 404: errorRef('network not found') },
} as const;

/** networkCreateSchema documents POST /networks/create (refused). */
export const networkCreateSchema = {
  operationId: 'NetworkCreate',
  summary: 'Create a network (refused)',
  description:
    'ckptd has only the predefined networks: a predefined name is refused as dockerd refuses it (403), any other with 501.',
  tags: TAGS,
  body: { type: 'object', additionalProperties: true, properties: { Name: { type: 'string' } } },
  response: {
    403: errorRef('predefined network name'),
    501: errorRef('user-defined networks are not supported'),
  },
} as const;

/** networkConnectSchema documents POST /networks/{id}/connect (refused). */
export const networkConnectSchema = {
  operationId: 'NetworkConnect',
  summary: 'Connect a container to a network (refused)',
  description: "A ckptd container keeps the network it was created with; refused in dockerd's words.",
  tags: TAGS,
  params: idParam,
  body: CONTAINER_BODY,
  response: {
    400: errorRef('host network, or a container of another network to none'),
    403: errorRef('the container is already on the network'),
    404: errorRef('no such network or container'),
  },
} as const;

/** networkDisconnectSchema documents POST /networks/{id}/disconnect (refused). */
export const networkDisconnectSchema = {
  operationId: 'NetworkDisconnect',
  summary: 'Disconnect a container from a network (refused)',
  tags: TAGS,
  params: idParam,
  body: CONTAINER_BODY,
  response: {
    400: errorRef('host network'),
    403: errorRef('the container is not on the network'),
    404: errorRef('no such network or container'),
    501: errorRef('a container keeps its network'),
  },
} as const;

/** networkDeleteSchema documents DELETE /networks/{id} (refused: predefined). */
export const networkDeleteSchema = {
  operationId: 'NetworkDelete',
  summary: 'Remove a network (refused)',
  tags: TAGS,
  params: idParam,
  response: { 403: errorRef('a pre-defined network cannot be removed'), 404: errorRef('no such network') },
} as const;

/** networkPruneSchema documents POST /networks/prune. */
export const networkPruneSchema = {
  operationId: 'NetworkPrune',
  summary: 'Delete unused networks',
  description: 'Only user-defined networks are pruned; ckptd has none, so nothing is deleted.',
  tags: TAGS,
  querystring: {
    type: 'object',
    properties: { filters: { type: 'string', description: 'JSON map of filters: until, label, label!' } },
  },
  response: {
    200: {
      description: 'No error',
      type: 'object',
      properties: { NetworksDeleted: { type: 'array', items: { type: 'string' }, nullable: true } },
    },
  },
} as const;

/** systemDataUsageSchema documents GET /system/df. */
export const systemDataUsageSchema = {
  operationId: 'SystemDataUsage',
  summary: 'Get data usage information',
  description:
    'Images (unpacked sizes, shared size, container count), containers (SizeRw, SizeRootFs), volumes, ' +
    'build cache (always empty: ckptd builds nothing). Types not asked for with `type` are null.',
  tags: ['System'],
  querystring: {
    type: 'object',
    properties: {
      type: {
        description: 'Object types to compute: container, image, volume, build-cache (repeatable)',
        anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
      },
    },
  },
  response: {
    200: {
      description: 'No error',
      type: 'object',
      additionalProperties: true,
      properties: {
        LayersSize: { type: 'integer' },
        Images: { type: 'array', items: { type: 'object', additionalProperties: true }, nullable: true },
        Containers: { type: 'array', items: { type: 'object', additionalProperties: true }, nullable: true },
        Volumes: { type: 'array', items: { type: 'object', additionalProperties: true }, nullable: true },
        BuildCache: { type: 'array', items: { type: 'object', additionalProperties: true }, nullable: true },
      },
    },
    400: errorRef('unknown object type'),
  },
} as const;
