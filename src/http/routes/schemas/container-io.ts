/**
 * JSON schemas of the container IO routes (logs, attach, resize, exec), after Docker's swagger
 * (api/swagger.yaml, v1.47). They document; query strings are parsed by the handlers with
 * dockerd's rules, so every query property is a string here.
 */

const errorRef = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: 'ErrorResponse#' } } },
});

const idParam = (what: string) =>
  ({
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', description: what } },
  }) as const;
const containerId = idParam('ID, unique ID prefix, or name of the container');
const execId = idParam('Exec instance ID');

const STREAM_BODY = {
  'application/vnd.docker.raw-stream': { schema: { type: 'string', format: 'binary' } },
  'application/vnd.docker.multiplexed-stream': { schema: { type: 'string', format: 'binary' } },
};

const HIJACK_DESCRIPTION =
  'The connection is hijacked: with `Connection: Upgrade` and `Upgrade: tcp` the answer is ' +
  '`101 UPGRADED`, else `200 OK`; then the raw socket carries the output (multiplexed with 8-byte ' +
  'headers `[stream,0,0,0,uint32 BE length]` unless the process has a TTY) and the client input.';

const resizeQuery = {
  type: 'object',
  properties: {
    h: { type: 'string', description: 'Height of the TTY session in characters' },
    w: { type: 'string', description: 'Width of the TTY session in characters' },
  },
} as const;

/** containerLogsSchema documents GET /containers/{id}/logs. */
export const containerLogsSchema = {
  operationId: 'ContainerLogs',
  tags: ['Container'],
  summary: 'Get container logs',
  description:
    'From the json-file log ckptd writes. Multiplexed framing without a TTY (content type ' +
    '`application/vnd.docker.multiplexed-stream` from API 1.42), raw with one.',
  params: containerId,
  querystring: {
    type: 'object',
    properties: {
      follow: { type: 'string', description: 'Keep streaming until the container stops' },
      stdout: { type: 'string' },
      stderr: { type: 'string' },
      since: { type: 'string', description: 'UNIX timestamp (may have a fraction) or RFC 3339 time' },
      until: { type: 'string' },
      timestamps: { type: 'string' },
      tail: { type: 'string', description: '`all` (default) or a number of lines from the end' },
    },
  },
  response: {
    200: { description: 'logs returned as a stream', content: STREAM_BODY },
    400: errorRef('neither stdout nor stderr chosen, or a bad parameter'),
    404: errorRef('no such container'),
    500: errorRef('server error'),
  },
} as const;

/** containerAttachSchema documents POST /containers/{id}/attach. */
export const containerAttachSchema = {
  operationId: 'ContainerAttach',
  tags: ['Container'],
  summary: 'Attach to a container',
  description: HIJACK_DESCRIPTION,
  params: containerId,
  querystring: {
    type: 'object',
    properties: {
      detachKeys: { type: 'string', description: 'Accepted; ckptd does not scan input for detach keys' },
      logs: { type: 'string', description: 'Replay the log first' },
      stream: { type: 'string', description: 'Stream live output' },
      stdin: { type: 'string' },
      stdout: { type: 'string' },
      stderr: { type: 'string' },
    },
  },
  response: {
    101: { description: 'no error, hints proxy about hijacking', content: STREAM_BODY },
    200: { description: 'no error, no upgrade header found', content: STREAM_BODY },
    400: errorRef('bad parameter'),
    404: errorRef('no such container'),
    500: errorRef('server error'),
  },
} as const;

/** containerResizeSchema documents POST /containers/{id}/resize. */
export const containerResizeSchema = {
  operationId: 'ContainerResize',
  tags: ['Container'],
  summary: "Resize a container's TTY",
  params: containerId,
  querystring: resizeQuery,
  response: {
    200: { description: 'no error', content: {} },
    404: errorRef('no such container'),
    409: errorRef('container not running'),
    500: errorRef('server error'),
  },
} as const;

/** execCreateSchema documents POST /containers/{id}/exec. */
export const execCreateSchema = {
  operationId: 'ContainerExec',
  tags: ['Exec'],
  summary: 'Create an exec instance',
  params: containerId,
  body: {
    type: 'object',
    additionalProperties: true,
    properties: {
      AttachStdin: { type: 'boolean' },
      AttachStdout: { type: 'boolean' },
      AttachStderr: { type: 'boolean' },
      DetachKeys: { type: 'string' },
      Tty: { type: 'boolean' },
      Env: { type: 'array', items: { type: 'string' }, nullable: true },
      Cmd: { type: 'array', items: { type: 'string' } },
      Privileged: { type: 'boolean' },
      User: { type: 'string' },
      WorkingDir: { type: 'string' },
      ConsoleSize: { type: 'array', items: { type: 'integer', minimum: 0 }, nullable: true },
    },
  },
  response: {
    201: {
      description: 'no error',
      content: {
        'application/json': {
          schema: { type: 'object', required: ['Id'], properties: { Id: { type: 'string' } } },
        },
      },
    },
    400: errorRef('bad parameter'),
    404: errorRef('no such container'),
    409: errorRef('container is not running'),
    500: errorRef('server error'),
  },
} as const;

/** execStartSchema documents POST /exec/{id}/start. */
export const execStartSchema = {
  operationId: 'ExecStart',
  tags: ['Exec'],
  summary: 'Start an exec instance',
  description: `${HIJACK_DESCRIPTION} With \`Detach\` the answer is an empty 200.`,
  params: execId,
  body: {
    type: 'object',
    additionalProperties: true,
    properties: {
      Detach: { type: 'boolean' },
      Tty: { type: 'boolean' },
      ConsoleSize: { type: 'array', items: { type: 'integer', minimum: 0 }, nullable: true },
    },
  },
  response: {
    101: { description: 'no error, hijacked stream', content: STREAM_BODY },
    200: { description: 'no error (detached, or no upgrade header)', content: STREAM_BODY },
    404: errorRef('no such exec instance'),
    409: errorRef('container is not running, or the exec already ran'),
    500: errorRef('server error'),
  },
} as const;

/** execResizeSchema documents POST /exec/{id}/resize. */
export const execResizeSchema = {
  operationId: 'ExecResize',
  tags: ['Exec'],
  summary: 'Resize an exec instance',
  params: execId,
  querystring: resizeQuery,
  response: {
    200: { description: 'no error', content: {} },
    404: errorRef('no such exec instance'),
    409: errorRef('exec not running'),
    500: errorRef('server error'),
  },
} as const;

/** execInspectSchema documents GET /exec/{id}/json. */
export const execInspectSchema = {
  operationId: 'ExecInspect',
  tags: ['Exec'],
  summary: 'Inspect an exec instance',
  params: execId,
  response: {
    200: {
      description: 'no error',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: {
              ID: { type: 'string' },
              Running: { type: 'boolean' },
              ExitCode: { type: 'integer', nullable: true },
              ProcessConfig: {
                type: 'object',
                properties: {
                  tty: { type: 'boolean' },
                  entrypoint: { type: 'string' },
                  arguments: { type: 'array', items: { type: 'string' } },
                  privileged: { type: 'boolean' },
                  user: { type: 'string' },
                },
              },
              OpenStdin: { type: 'boolean' },
              OpenStderr: { type: 'boolean' },
              OpenStdout: { type: 'boolean' },
              CanRemove: { type: 'boolean' },
              ContainerID: { type: 'string' },
              DetachKeys: { type: 'string' },
              Pid: { type: 'integer' },
            },
          },
        },
      },
    },
    404: errorRef('no such exec instance'),
    500: errorRef('server error'),
  },
} as const;
