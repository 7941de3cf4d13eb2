/**
 * JSON schemas of the archive routes, after Docker's swagger (v1.47) `ContainerArchiveInfo`,
 * `ContainerArchive`, `PutContainerArchive`, `ImageGet`, `ImageGetAll`. They document; query
 * values are strings parsed by the handlers with dockerd's rules.
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

const pathQuery = {
  type: 'object',
  required: ['path'],
  properties: { path: { type: 'string', description: 'Resource in the container’s filesystem' } },
} as const;

const statHeader = {
  'X-Docker-Container-Path-Stat': {
    type: 'string',
    description: 'base64-encoded JSON {name,size,mode (Go os.FileMode bits),mtime,linkTarget}',
  },
} as const;

/** containerArchiveInfoSchema documents HEAD /containers/{id}/archive. */
export const containerArchiveInfoSchema = {
  summary: 'Get information about files in a container',
  operationId: 'ContainerArchiveInfo',
  tags: ['Container'],
  params: idParam,
  querystring: pathQuery,
  response: {
    200: { description: 'no error', headers: statHeader, type: 'null' },
    400: errorRef('bad parameter'),
    404: errorRef('container or path does not exist'),
    500: errorRef('server error'),
  },
} as const;

/** containerArchiveSchema documents GET /containers/{id}/archive. */
export const containerArchiveSchema = {
  summary: 'Get an archive of a filesystem resource in a container',
  operationId: 'ContainerArchive',
  tags: ['Container'],
  params: idParam,
  querystring: pathQuery,
  response: {
    200: {
      description: 'a tar of the resource, rebased to its basename',
      headers: statHeader,
      content: { 'application/x-tar': { schema: { type: 'string', format: 'binary' } } },
    },
    400: errorRef('bad parameter'),
    404: errorRef('container or path does not exist'),
    500: errorRef('server error'),
  },
} as const;

/** putContainerArchiveSchema documents PUT /containers/{id}/archive. */
export const putContainerArchiveSchema = {
  summary: 'Extract an archive of files or folders to a directory in a container',
  operationId: 'PutContainerArchive',
  tags: ['Container'],
  params: idParam,
  querystring: {
    type: 'object',
    required: ['path'],
    properties: {
      path: { type: 'string', description: 'Path to a directory in the container to extract into' },
      noOverwriteDirNonDir: {
        type: 'string',
        description: 'Error if unpacking would replace a directory with a non-directory or vice versa',
      },
      copyUIDGID: { type: 'string', description: "Give the files the container's user uid/gid" },
    },
  },
  response: {
    200: { description: 'the content was extracted', type: 'null' },
    400: errorRef('bad parameter, bad archive, or the path is not a directory'),
    403: errorRef('permission denied: the container rootfs is read-only'),
    404: errorRef('no such container or path'),
    500: errorRef('server error'),
  },
} as const;

const saveResponse = {
  200: {
    description: 'a docker-save tar (OCI layout plus manifest.json and repositories)',
    content: { 'application/x-tar': { schema: { type: 'string', format: 'binary' } } },
  },
  404: errorRef('no such image'),
  500: errorRef('server error'),
} as const;

/** imageGetSchema documents GET /images/{name}/get. */
export const imageGetSchema = {
  summary: 'Export an image',
  operationId: 'ImageGet',
  tags: ['Image'],
  params: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
  response: saveResponse,
} as const;

/** imageGetAllSchema documents GET /images/get. */
export const imageGetAllSchema = {
  summary: 'Export several images',
  operationId: 'ImageGetAll',
  tags: ['Image'],
  querystring: {
    type: 'object',
    properties: {
      names: {
        description: 'Image names to export (repeatable)',
        anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
      },
    },
  },
  response: saveResponse,
} as const;
