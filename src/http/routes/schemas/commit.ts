/**
 * JSON schemas of the commit, changes and export routes, after Docker's swagger (v1.47)
 * `ImageCommit`, `ContainerChanges`, `ContainerExport`. They document; query values are
 * strings parsed by the handlers with dockerd's rules.
 */

const errorRef = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: 'ErrorResponse#' } } },
});

const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', description: 'ID, unique ID prefix, or name of the container' } },
} as const;

const commitQueryProperties = {
  repo: { type: 'string', description: 'Repository name for the created image' },
  tag: { type: 'string', description: 'Tag name for the created image (default `latest` with a repo)' },
  comment: { type: 'string', description: 'Commit message' },
  author: {
    type: 'string',
    description: 'Author of the image (e.g. `John Hannibal Smith <hannibal@a-team.com>`)',
  },
  pause: {
    type: 'string',
    description: 'Pause the container while its filesystem is read (default true; the CLI sends `pause=0`)',
  },
  changes: {
    description:
      'Dockerfile instruction to apply (repeatable, or newline-separated): CMD ENTRYPOINT ENV EXPOSE HEALTHCHECK LABEL ONBUILD STOPSIGNAL USER VOLUME WORKDIR',
    anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
  },
  compression: {
    type: 'string',
    enum: ['none', 'gzip', 'zstd'],
    description: 'ckptd: compression of the new layer (default none: local layers stay uncompressed)',
  },
  squash: { type: 'string', description: 'ckptd: produce a single-layer image holding the whole rootfs' },
} as const;

const commitResponse = {
  201: {
    description: 'no error',
    type: 'object',
    properties: { Id: { type: 'string', description: 'ID (config digest) of the new image' } },
  },
  400: errorRef('bad parameter (invalid change, tag, compression)'),
  404: errorRef('no such container'),
  409: errorRef('container being removed, or its image is gone'),
  500: errorRef('server error'),
} as const;

const commitBody = {
  description: "Container config overriding the container's own (null: use the container's)",
  type: 'object',
  nullable: true,
  additionalProperties: true,
} as const;

/** imageCommitSchema documents POST /commit. */
export const imageCommitSchema = {
  operationId: 'ImageCommit',
  tags: ['Image'],
  summary: 'Create a new image from a container',
  querystring: {
    type: 'object',
    properties: {
      container: { type: 'string', description: 'The ID or name of the container to commit' },
      ...commitQueryProperties,
    },
  },
  body: commitBody,
  response: commitResponse,
} as const;

/** containerCommitSchema documents POST /containers/{id}/commit (ckptd's own route). */
export const containerCommitSchema = {
  operationId: 'ContainerCommit',
  tags: ['Container'],
  summary: 'Create a new image from a container (ckptd: the container in the path)',
  params: idParam,
  querystring: { type: 'object', properties: commitQueryProperties },
  body: commitBody,
  response: commitResponse,
} as const;

/** containerChangesSchema documents GET /containers/{id}/changes. */
export const containerChangesSchema = {
  operationId: 'ContainerChanges',
  tags: ['Container'],
  summary: "Get changes on a container's filesystem",
  description: 'Kind: 0 modified, 1 added, 2 deleted.',
  params: idParam,
  response: {
    200: {
      description: 'The list of changes',
      type: 'array',
      items: {
        type: 'object',
        required: ['Path', 'Kind'],
        properties: { Path: { type: 'string' }, Kind: { type: 'integer', enum: [0, 1, 2] } },
      },
    },
    404: errorRef('no such container'),
    500: errorRef('server error'),
  },
} as const;

/** containerExportSchema documents GET /containers/{id}/export. */
export const containerExportSchema = {
  operationId: 'ContainerExport',
  tags: ['Container'],
  summary: 'Export a container',
  description: "The container's whole root filesystem as an uncompressed tar, streamed.",
  params: idParam,
  response: {
    200: {
      description: 'no error',
      content: { 'application/x-tar': { schema: { type: 'string', format: 'binary' } } },
    },
    404: errorRef('no such container'),
    409: errorRef('container being removed'),
    500: errorRef('server error'),
  },
} as const;
