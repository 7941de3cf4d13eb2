/**
 * JSON schemas of the image routes, after Docker's swagger (api/swagger.yaml, v1.47). They
 * document the API (OpenAPI); replies are serialized with JSON.stringify, never through them.
 */

const errorRef = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: 'ErrorResponse#' } } },
});

const TAGS = ['Image'];

const NAME_PARAM = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'Image name (`busybox`, `user/x:1`), ID or unique ID prefix' },
  },
} as const;

const IMAGE_SUMMARY = {
  type: 'object',
  properties: {
    Id: { type: 'string', description: 'Image ID: the digest of its config' },
    ParentId: { type: 'string' },
    RepoTags: { type: 'array', items: { type: 'string' } },
    RepoDigests: { type: 'array', items: { type: 'string' } },
    Created: { type: 'integer', description: 'Unix seconds, from the config' },
    Size: { type: 'integer', description: 'Sum of the unpacked layer sizes (snapshot usage)' },
    SharedSize: { type: 'integer', description: 'Always -1 (not computed)' },
    VirtualSize: { type: 'integer', description: 'Same as Size; API < 1.44 only' },
    Labels: { type: 'object', additionalProperties: { type: 'string' } },
    Containers: { type: 'integer', description: 'Always -1 (not computed)' },
  },
} as const;

const IMAGE_INSPECT = {
  type: 'object',
  additionalProperties: true,
  properties: {
    Id: { type: 'string' },
    RepoTags: { type: 'array', items: { type: 'string' } },
    RepoDigests: { type: 'array', items: { type: 'string' } },
    Parent: { type: 'string' },
    Comment: { type: 'string' },
    Created: { type: 'string', description: 'RFC 3339 with nanoseconds' },
    DockerVersion: { type: 'string' },
    Author: { type: 'string' },
    Config: { type: 'object', additionalProperties: true, nullable: true },
    Architecture: { type: 'string' },
    Os: { type: 'string' },
    Size: { type: 'integer' },
    GraphDriver: {
      type: 'object',
      properties: {
        Name: { type: 'string' },
        Data: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    RootFS: {
      type: 'object',
      properties: { Type: { type: 'string' }, Layers: { type: 'array', items: { type: 'string' } } },
    },
    Metadata: { type: 'object', properties: { LastTagTime: { type: 'string' } } },
  },
} as const;

const HISTORY_ITEM = {
  type: 'object',
  properties: {
    Id: { type: 'string' },
    Created: { type: 'integer' },
    CreatedBy: { type: 'string' },
    Tags: { type: 'array', items: { type: 'string' }, nullable: true },
    Size: { type: 'integer' },
    Comment: { type: 'string' },
  },
} as const;

/** imageListSchema documents GET /images/json. */
export const imageListSchema = {
  operationId: 'ImageList',
  tags: TAGS,
  summary: 'List images',
  description: 'One entry per image ID (config digest), newest first.',
  querystring: {
    type: 'object',
    properties: {
      all: { type: 'string', description: 'Accepted; there are no intermediate images' },
      filters: {
        type: 'string',
        description:
          'JSON map: `dangling`, `label`, `label!`, `before`, `since`, `until`, `reference` (glob on the familiar name, e.g. `busybox*`)',
      },
      digests: { type: 'string', description: 'Accepted; RepoDigests are always filled' },
      'shared-size': { type: 'string', description: 'Accepted; SharedSize is always -1' },
    },
  },
  response: {
    200: {
      description: 'no error',
      content: { 'application/json': { schema: { type: 'array', items: IMAGE_SUMMARY } } },
    },
    400: errorRef('bad parameter'),
    500: errorRef('server error'),
  },
} as const;

/** imageLoadSchema documents POST /images/load. */
export const imageLoadSchema = {
  operationId: 'ImageLoad',
  tags: TAGS,
  summary: 'Import images',
  description:
    'Loads a docker-save or OCI image-layout tar (plain, gzip, bzip2, xz or zstd), streamed into containerd. ' +
    'Always 200: a stream of JSON messages, `{"stream":"Loaded image: busybox:latest\\n"}` per tag ' +
    '(`Loaded image ID: sha256:…` when untagged); a failure is written in-band as ' +
    '`{"errorDetail":{"message":"…"},"error":"…"}` and nothing is tagged.',
  querystring: {
    type: 'object',
    properties: {
      quiet: { type: 'string', description: 'Suppress progress (default true); progress is never sent' },
    },
  },
  response: {
    200: {
      description: 'JSON message stream',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: {
              stream: { type: 'string' },
              error: { type: 'string' },
              errorDetail: { type: 'object', properties: { message: { type: 'string' } } },
            },
          },
        },
      },
    },
    500: errorRef('server error'),
  },
} as const;

/** imageInspectSchema documents GET /images/{name}/json. */
export const imageInspectSchema = {
  operationId: 'ImageInspect',
  tags: TAGS,
  summary: 'Inspect an image',
  params: NAME_PARAM,
  response: {
    200: { description: 'no error', content: { 'application/json': { schema: IMAGE_INSPECT } } },
    404: errorRef('No such image'),
    500: errorRef('server error'),
  },
} as const;

/** imageHistorySchema documents GET /images/{name}/history. */
export const imageHistorySchema = {
  operationId: 'ImageHistory',
  tags: TAGS,
  summary: 'Get the history of an image',
  description: 'Newest first; the top entry carries the image ID and tags, the others `<missing>`.',
  params: NAME_PARAM,
  response: {
    200: {
      description: 'no error',
      content: { 'application/json': { schema: { type: 'array', items: HISTORY_ITEM } } },
    },
    404: errorRef('No such image'),
    500: errorRef('server error'),
  },
} as const;

/** imageTagSchema documents POST /images/{name}/tag. */
export const imageTagSchema = {
  operationId: 'ImageTag',
  tags: TAGS,
  summary: 'Tag an image',
  params: NAME_PARAM,
  querystring: {
    type: 'object',
    properties: {
      repo: { type: 'string', description: 'Repository, e.g. `someuser/someimage`' },
      tag: { type: 'string', description: 'Tag (default `latest`)' },
    },
  },
  response: {
    201: { description: 'No error', content: { 'text/plain': { schema: { type: 'string' } } } },
    400: errorRef('Bad parameter'),
    404: errorRef('No such image'),
    500: errorRef('server error'),
  },
} as const;

/** imageDeleteSchema documents DELETE /images/{name}. */
export const imageDeleteSchema = {
  operationId: 'ImageDelete',
  tags: TAGS,
  summary: 'Remove an image',
  description:
    'By name: untags, and deletes the image with its last name. By ID: untags every name and deletes. ' +
    '409 when a container uses it or (by ID) it is named in several repositories, unless `force`.',
  params: NAME_PARAM,
  querystring: {
    type: 'object',
    properties: {
      force: {
        type: 'string',
        description: 'Remove even if in use by a stopped container or multiply named',
      },
      noprune: { type: 'string', description: 'Accepted and ignored (no parent images)' },
    },
  },
  response: {
    200: {
      description: 'The image was deleted',
      content: {
        'application/json': {
          schema: {
            type: 'array',
            items: {
              type: 'object',
              properties: { Untagged: { type: 'string' }, Deleted: { type: 'string' } },
            },
          },
        },
      },
    },
    404: errorRef('No such image'),
    409: errorRef('Conflict'),
    500: errorRef('server error'),
  },
} as const;

/** imagePruneSchema documents POST /images/prune. */
export const imagePruneSchema = {
  operationId: 'ImagePrune',
  tags: TAGS,
  summary: 'Delete unused images',
  description:
    'Deletes the images no container uses: dangling (untagged) ones, or all of them with the ' +
    'filter `dangling=false` (`docker image prune -a`). Filters: `dangling`, `until`, `label`, `label!`.',
  querystring: {
    type: 'object',
    properties: { filters: { type: 'string', description: 'JSON map of filters' } },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        ImagesDeleted: {
          type: 'array',
          nullable: true,
          items: {
            type: 'object',
            properties: { Untagged: { type: 'string' }, Deleted: { type: 'string' } },
          },
        },
        SpaceReclaimed: { type: 'integer' },
      },
    },
    400: errorRef('bad filter'),
    500: errorRef('server error'),
  },
} as const;
