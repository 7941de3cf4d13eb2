/**
 * JSON schemas of the system routes, after Docker's own swagger (api/swagger.yaml, v1.47).
 * They document the API (OpenAPI); responses are serialized with JSON.stringify, never through
 * these schemas, so a backend field the schema omits still reaches the client.
 */

/** ERROR_RESPONSE is the body of every error reply, shared as `ErrorResponse`. */
export const ERROR_RESPONSE = {
  $id: 'ErrorResponse',
  type: 'object',
  description: 'Represents an error.',
  required: ['message'],
  properties: { message: { type: 'string', description: 'The error message.' } },
} as const;

const errorRef = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: 'ErrorResponse#' } } },
});

const PING_HEADERS = {
  'Api-Version': { type: 'string', description: 'Max API version the server supports' },
  'Builder-Version': { type: 'string', description: 'Default builder version: "1" (ckptd has no builder)' },
  'Docker-Experimental': { type: 'boolean', description: 'Whether experimental features are on' },
  Swarm: { type: 'string', description: 'Always "inactive"' },
  'Cache-Control': { type: 'string', default: 'no-cache, no-store, must-revalidate' },
  Pragma: { type: 'string', default: 'no-cache' },
} as const;

const VERSION_RESPONSE = {
  type: 'object',
  properties: {
    Platform: { type: 'object', properties: { Name: { type: 'string' } }, required: ['Name'] },
    Components: {
      type: 'array',
      items: {
        type: 'object',
        required: ['Name', 'Version'],
        properties: {
          Name: { type: 'string' },
          Version: { type: 'string' },
          Details: { type: 'object', additionalProperties: true, nullable: true },
        },
      },
    },
    Version: { type: 'string', description: 'ckptd version' },
    ApiVersion: { type: 'string', example: '1.47' },
    MinAPIVersion: { type: 'string', example: '1.24' },
    GitCommit: { type: 'string' },
    GoVersion: { type: 'string', description: 'Runtime version (Node.js for ckptd)' },
    Os: { type: 'string', example: 'linux' },
    Arch: { type: 'string', example: 'amd64' },
    KernelVersion: { type: 'string' },
    Experimental: { type: 'boolean' },
    BuildTime: { type: 'string' },
  },
} as const;

const INFO_RESPONSE = {
  type: 'object',
  description: 'Docker system.Info; ckptd fills the fields below and zero values for the rest.',
  additionalProperties: true,
  properties: {
    ID: { type: 'string' },
    Containers: { type: 'integer' },
    ContainersRunning: { type: 'integer' },
    ContainersPaused: { type: 'integer' },
    ContainersStopped: { type: 'integer' },
    Images: { type: 'integer' },
    Driver: { type: 'string' },
    DockerRootDir: { type: 'string' },
    KernelVersion: { type: 'string' },
    NCPU: { type: 'integer' },
    MemTotal: { type: 'integer' },
    CgroupVersion: { type: 'string' },
    ServerVersion: { type: 'string' },
  },
} as const;

const EVENT_MESSAGE = {
  type: 'object',
  description: 'One events.Message; the stream carries one per line.',
  properties: {
    Type: { type: 'string', example: 'container' },
    Action: { type: 'string', example: 'commit' },
    Actor: {
      type: 'object',
      properties: {
        ID: { type: 'string' },
        Attributes: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    scope: { type: 'string', enum: ['local', 'swarm'] },
    time: { type: 'integer' },
    timeNano: { type: 'integer' },
  },
} as const;

const TAGS = ['System'];

/** pingSchema documents GET /_ping. */
export const pingSchema = {
  operationId: 'SystemPing',
  tags: TAGS,
  summary: 'Ping',
  description: 'A dummy endpoint to check the server is accessible; never touches containerd.',
  response: {
    200: {
      description: 'no error',
      headers: PING_HEADERS,
      content: { 'text/plain': { schema: { type: 'string', example: 'OK' } } },
    },
    500: errorRef('server error'),
  },
} as const;

/** pingHeadSchema documents HEAD /_ping. */
export const pingHeadSchema = {
  operationId: 'SystemPingHead',
  tags: TAGS,
  summary: 'Ping (HEAD)',
  description: 'Like GET /_ping without a body; the docker CLI negotiates the API version with it.',
  response: {
    200: {
      description: 'no error',
      headers: PING_HEADERS,
      content: { 'text/plain': { schema: { type: 'string' } } },
    },
    500: errorRef('server error'),
  },
} as const;

/** versionSchema documents GET /version. */
export const versionSchema = {
  operationId: 'SystemVersion',
  tags: TAGS,
  summary: 'Get version',
  description: 'Returns the version of ckptd and of the components it runs on (containerd, runc, CRIU).',
  response: {
    200: { description: 'no error', content: { 'application/json': { schema: VERSION_RESPONSE } } },
    500: errorRef('server error'),
    503: errorRef('containerd unreachable'),
  },
} as const;

/** infoSchema documents GET /info. */
export const infoSchema = {
  operationId: 'SystemInfo',
  tags: TAGS,
  summary: 'Get system information',
  response: {
    200: { description: 'no error', content: { 'application/json': { schema: INFO_RESPONSE } } },
    500: errorRef('server error'),
    503: errorRef('containerd unreachable'),
  },
} as const;

/** eventsQuerySchema is GET /events' query string. */
export const eventsQuerySchema = {
  type: 'object',
  properties: {
    since: {
      type: 'string',
      description:
        'Show events created since this timestamp then stream new events: unix seconds with optional ' +
        'fraction (`1700000000.123456789`), RFC3339, or a Go duration back from now (`10m`).',
    },
    until: {
      type: 'string',
      description: 'Show events created until this timestamp then stop streaming (same forms).',
    },
    filters: {
      type: 'string',
      description:
        'JSON-encoded `map[string][]string` or `map[string]map[string]bool` of filters ' +
        '(type, event, container, image, label, ...), e.g. `{"type":["container"]}`.',
    },
  },
} as const;

/** eventsSchema documents GET /events. */
export const eventsSchema = {
  operationId: 'SystemEvents',
  tags: TAGS,
  summary: 'Monitor events',
  description:
    'Streams real-time events: headers are sent at once, then one JSON object per line until `until` ' +
    'passes or the client disconnects.',
  querystring: eventsQuerySchema,
  response: {
    200: { description: 'no error', content: { 'application/json': { schema: EVENT_MESSAGE } } },
    400: errorRef('bad parameter'),
    500: errorRef('server error'),
  },
} as const;
