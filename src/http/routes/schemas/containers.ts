/**
 * JSON schemas of the container lifecycle routes, after Docker's swagger (api/swagger.yaml,
 * v1.47). They document; replies are serialized with JSON.stringify, and query strings are
 * parsed by the handlers with dockerd's rules (so every query property is a string here).
 */

const errorRef = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: 'ErrorResponse#' } } },
});

const TAGS = ['Container'];

const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', description: 'ID, unique ID prefix, or name of the container' } },
} as const;

const noContent = (description = 'no error') => ({ description, type: 'null' });

const CONTAINER_CONFIG = {
  type: 'object',
  additionalProperties: true,
  properties: {
    Hostname: { type: 'string' },
    User: { type: 'string' },
    AttachStdin: { type: 'boolean' },
    AttachStdout: { type: 'boolean' },
    AttachStderr: { type: 'boolean' },
    Tty: { type: 'boolean' },
    OpenStdin: { type: 'boolean' },
    StdinOnce: { type: 'boolean' },
    Env: { type: 'array', items: { type: 'string' }, nullable: true },
    Cmd: { description: 'Command: an array of strings, a single string, or null' },
    Entrypoint: { description: 'Entrypoint: an array of strings, a single string, or null; [""] clears it' },
    Image: { type: 'string' },
    WorkingDir: { type: 'string' },
    Labels: { type: 'object', additionalProperties: { type: 'string' }, nullable: true },
    StopSignal: { type: 'string' },
    StopTimeout: { type: 'integer', nullable: true },
  },
} as const;

const HOST_CONFIG = {
  type: 'object',
  additionalProperties: true,
  properties: {
    NetworkMode: {
      type: 'string',
      description: '`none` or `host`; absent, empty or `default` (the CLI without --network) means `none`.',
    },
    Binds: {
      type: 'array',
      items: { type: 'string' },
      nullable: true,
      description: '`host-src:container-dest[:ro|rw]`; a missing host-src is created as a directory.',
    },
    ReadonlyRootfs: { type: 'boolean' },
    AutoRemove: { type: 'boolean' },
  },
} as const;

const STATE = {
  type: 'object',
  properties: {
    Status: {
      type: 'string',
      enum: ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'],
    },
    Running: { type: 'boolean' },
    Paused: { type: 'boolean' },
    Restarting: { type: 'boolean' },
    OOMKilled: { type: 'boolean' },
    Dead: { type: 'boolean' },
    Pid: { type: 'integer' },
    ExitCode: { type: 'integer' },
    Error: { type: 'string' },
    StartedAt: { type: 'string' },
    FinishedAt: { type: 'string' },
  },
} as const;

const MOUNT_POINT = {
  type: 'object',
  properties: {
    Type: { type: 'string' },
    Source: { type: 'string' },
    Destination: { type: 'string' },
    Mode: { type: 'string' },
    RW: { type: 'boolean' },
    Propagation: { type: 'string' },
  },
} as const;

const SUMMARY = {
  type: 'object',
  properties: {
    Id: { type: 'string' },
    Names: { type: 'array', items: { type: 'string' } },
    Image: { type: 'string' },
    ImageID: { type: 'string' },
    Command: { type: 'string' },
    Created: { type: 'integer' },
    Ports: { type: 'array', items: { type: 'object' } },
    Labels: { type: 'object', additionalProperties: { type: 'string' } },
    State: { type: 'string' },
    Status: { type: 'string', example: 'Up 3 seconds' },
    HostConfig: { type: 'object', properties: { NetworkMode: { type: 'string' } } },
    NetworkSettings: { type: 'object', additionalProperties: true },
    Mounts: { type: 'array', items: MOUNT_POINT },
  },
} as const;

const INSPECT = {
  type: 'object',
  additionalProperties: true,
  properties: {
    Id: { type: 'string' },
    Created: { type: 'string' },
    Path: { type: 'string' },
    Args: { type: 'array', items: { type: 'string' } },
    State: STATE,
    Image: { type: 'string', description: 'image ID (config digest)' },
    Name: { type: 'string', example: '/web' },
    RestartCount: { type: 'integer' },
    Driver: { type: 'string', description: 'the containerd snapshotter' },
    Platform: { type: 'string' },
    HostConfig: HOST_CONFIG,
    Config: CONTAINER_CONFIG,
    Mounts: { type: 'array', items: MOUNT_POINT },
    NetworkSettings: { type: 'object', additionalProperties: true },
    GraphDriver: { type: 'object', additionalProperties: true },
  },
} as const;

const stopQuery = {
  type: 'object',
  properties: {
    t: {
      type: 'string',
      description: 'Seconds to wait before killing the container (-1: forever; default StopTimeout or 10)',
    },
    signal: { type: 'string', description: 'Signal to send first (default StopSignal or SIGTERM)' },
  },
} as const;

/** containerCreateSchema documents POST /containers/create. */
export const containerCreateSchema = {
  operationId: 'ContainerCreate',
  tags: TAGS,
  summary: 'Create a container',
  querystring: {
    type: 'object',
    properties: {
      name: {
        type: 'string',
        description: 'Container name, `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`; random when absent',
      },
      platform: { type: 'string' },
    },
  },
  body: {
    type: 'object',
    description: 'Container Config plus HostConfig (and NetworkingConfig, ignored)',
    additionalProperties: true,
    properties: { ...CONTAINER_CONFIG.properties, HostConfig: HOST_CONFIG },
  },
  response: {
    201: {
      description: 'Container created',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['Id', 'Warnings'],
            properties: { Id: { type: 'string' }, Warnings: { type: 'array', items: { type: 'string' } } },
          },
        },
      },
    },
    400: errorRef('bad parameter (name, network mode, config)'),
    404: errorRef('no such image'),
    409: errorRef('name already in use'),
    500: errorRef('server error'),
  },
} as const;

/** containerListSchema documents GET /containers/json. */
export const containerListSchema = {
  operationId: 'ContainerList',
  tags: TAGS,
  summary: 'List containers',
  querystring: {
    type: 'object',
    properties: {
      all: { type: 'string', description: 'Show all containers (default: running ones only)' },
      limit: { type: 'string', description: 'Show the n most recently created containers, any state' },
      size: { type: 'string', description: 'Return SizeRw and SizeRootFs (always 0 in ckptd)' },
      filters: {
        type: 'string',
        description:
          'JSON filters (both encodings): ancestor, exited, id, label, name, status ' +
          '(created|restarting|running|removing|paused|exited|dead); other Docker keys are accepted and ignored.',
      },
    },
  },
  response: {
    200: {
      description: 'no error',
      content: { 'application/json': { schema: { type: 'array', items: SUMMARY } } },
    },
    400: errorRef('bad parameter'),
    500: errorRef('server error'),
  },
} as const;

/** containerInspectSchema documents GET /containers/{id}/json. */
export const containerInspectSchema = {
  operationId: 'ContainerInspect',
  tags: TAGS,
  summary: 'Inspect a container',
  params: idParam,
  querystring: { type: 'object', properties: { size: { type: 'string' } } },
  response: {
    200: { description: 'no error', content: { 'application/json': { schema: INSPECT } } },
    404: errorRef('no such container'),
    500: errorRef('server error'),
  },
} as const;

/** containerStartSchema documents POST /containers/{id}/start. */
export const containerStartSchema = {
  operationId: 'ContainerStart',
  tags: TAGS,
  summary: 'Start a container',
  params: idParam,
  querystring: { type: 'object', properties: { detachKeys: { type: 'string' } } },
  response: {
    204: noContent(),
    304: noContent('container already started'),
    404: errorRef('no such container'),
    409: errorRef('container paused'),
    500: errorRef('server error'),
  },
} as const;

/** containerStopSchema documents POST /containers/{id}/stop. */
export const containerStopSchema = {
  operationId: 'ContainerStop',
  tags: TAGS,
  summary: 'Stop a container',
  params: idParam,
  querystring: stopQuery,
  response: {
    204: noContent(),
    304: noContent('container already stopped'),
    400: errorRef('bad parameter'),
    404: errorRef('no such container'),
    500: errorRef('server error'),
  },
} as const;

/** containerRestartSchema documents POST /containers/{id}/restart. */
export const containerRestartSchema = {
  operationId: 'ContainerRestart',
  tags: TAGS,
  summary: 'Restart a container',
  params: idParam,
  querystring: stopQuery,
  response: {
    204: noContent(),
    400: errorRef('bad parameter'),
    404: errorRef('no such container'),
    500: errorRef('server error'),
  },
} as const;

/** containerKillSchema documents POST /containers/{id}/kill. */
export const containerKillSchema = {
  operationId: 'ContainerKill',
  tags: TAGS,
  summary: 'Kill a container',
  params: idParam,
  querystring: {
    type: 'object',
    properties: { signal: { type: 'string', description: 'Signal name or number (default SIGKILL)' } },
  },
  response: {
    204: noContent(),
    400: errorRef('bad signal'),
    404: errorRef('no such container'),
    409: errorRef('container is not running'),
    500: errorRef('server error'),
  },
} as const;

/** containerWaitSchema documents POST /containers/{id}/wait. */
export const containerWaitSchema = {
  operationId: 'ContainerWait',
  tags: TAGS,
  summary: 'Wait for a container',
  description:
    'Headers are sent at once (the docker CLI waits for them before starting the container); the ' +
    'body follows when the condition is met.',
  params: idParam,
  querystring: {
    type: 'object',
    properties: {
      condition: { type: 'string', description: '`not-running` (default), `next-exit` or `removed`' },
    },
  },
  response: {
    200: {
      description: 'The container met the condition',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['StatusCode'],
            properties: {
              StatusCode: { type: 'integer' },
              Error: {
                type: 'object',
                nullable: true,
                properties: { Message: { type: 'string' } },
              },
            },
          },
        },
      },
    },
    400: errorRef('bad parameter'),
    404: errorRef('no such container'),
    500: errorRef('server error'),
  },
} as const;

const simple = (operationId: string, summary: string, conflict: string) =>
  ({
    operationId,
    tags: TAGS,
    summary,
    params: idParam,
    response: {
      204: noContent(),
      404: errorRef('no such container'),
      409: errorRef(conflict),
      500: errorRef('server error'),
    },
  }) as const;

/** containerPauseSchema documents POST /containers/{id}/pause. */
export const containerPauseSchema = simple(
  'ContainerPause',
  'Pause a container',
  'container not running or already paused',
);
/** containerUnpauseSchema documents POST /containers/{id}/unpause. */
export const containerUnpauseSchema = simple(
  'ContainerUnpause',
  'Unpause a container',
  'container not paused',
);

/** containerRenameSchema documents POST /containers/{id}/rename. */
export const containerRenameSchema = {
  operationId: 'ContainerRename',
  tags: TAGS,
  summary: 'Rename a container',
  params: idParam,
  querystring: {
    type: 'object',
    properties: { name: { type: 'string', description: 'New name for the container' } },
  },
  response: {
    204: noContent(),
    400: errorRef('bad parameter (empty, invalid or unchanged name)'),
    404: errorRef('no such container'),
    409: errorRef('name already in use'),
    500: errorRef('server error'),
  },
} as const;

/** containerTopSchema documents GET /containers/{id}/top. */
export const containerTopSchema = {
  operationId: 'ContainerTop',
  tags: TAGS,
  summary: "List the processes running inside a container (the host's ps, filtered to its PIDs)",
  params: idParam,
  querystring: {
    type: 'object',
    properties: { ps_args: { type: 'string', description: 'Arguments to pass to ps (default -ef)' } },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        Titles: { type: 'array', items: { type: 'string' } },
        Processes: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
      },
    },
    400: errorRef('bad ps_args'),
    404: errorRef('no such container'),
    409: errorRef('container not running'),
    500: errorRef('server error'),
  },
} as const;

/** containerPruneSchema documents POST /containers/prune. */
export const containerPruneSchema = {
  operationId: 'ContainerPrune',
  tags: TAGS,
  summary: "Delete ckptd's stopped containers",
  description:
    'Filters: `until`, `label`, `label!`. Containers other containerd clients made are left alone.',
  querystring: {
    type: 'object',
    properties: { filters: { type: 'string', description: 'JSON map of filters' } },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        ContainersDeleted: { type: 'array', nullable: true, items: { type: 'string' } },
        SpaceReclaimed: { type: 'integer' },
      },
    },
    400: errorRef('bad filter'),
    500: errorRef('server error'),
  },
} as const;

/** containerStatsSchema documents GET /containers/{id}/stats. */
export const containerStatsSchema = {
  operationId: 'ContainerStats',
  tags: TAGS,
  summary: "A container's resource usage (from its cgroup)",
  description:
    'With `stream` (default) one JSON object per second, newline-delimited; otherwise one object, ' +
    'two samples a second apart for the cpu ratio unless `one-shot`.',
  params: idParam,
  querystring: {
    type: 'object',
    properties: {
      stream: { type: 'string', description: 'Stream the stats (default true)' },
      'one-shot': { type: 'string', description: 'With stream=false: one sample, no wait' },
    },
  },
  response: {
    200: { type: 'object', additionalProperties: true },
    400: errorRef('bad parameter'),
    404: errorRef('no such container'),
    500: errorRef('server error'),
  },
} as const;

/** containerDeleteSchema documents DELETE /containers/{id}. */
export const containerDeleteSchema = {
  operationId: 'ContainerDelete',
  tags: TAGS,
  summary: 'Remove a container',
  params: idParam,
  querystring: {
    type: 'object',
    properties: {
      v: { type: 'string', description: 'Remove anonymous volumes (ckptd has none)' },
      force: { type: 'string', description: 'Kill a running container first' },
      link: { type: 'string' },
    },
  },
  response: {
    204: noContent(),
    400: errorRef('bad parameter'),
    404: errorRef('no such container'),
    409: errorRef('container is running'),
    500: errorRef('server error'),
  },
} as const;
