/**
 * JSON schemas of the volume routes, after Docker's swagger (v1.47) `VolumeList`,
 * `VolumeCreate`, `VolumeInspect`, `VolumeDelete`, `VolumePrune`. They document; query values
 * are strings parsed by the handlers with dockerd's rules.
 */

const errorRef = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: 'ErrorResponse#' } } },
});

const TAGS = ['Volume'];

const nameParam = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', description: 'Volume name' } },
} as const;

const stringMap = { type: 'object', nullable: true, additionalProperties: { type: 'string' } } as const;

const VOLUME = {
  type: 'object',
  properties: {
    Name: { type: 'string' },
    Driver: { type: 'string', description: 'always `local`' },
    Mountpoint: { type: 'string', description: '`<data-root>/volumes/<name>/_data`' },
    CreatedAt: { type: 'string', description: 'RFC 3339' },
    Labels: stringMap,
    Scope: { type: 'string', enum: ['local'] },
    Options: stringMap,
  },
} as const;

/** volumeListSchema documents GET /volumes. */
export const volumeListSchema = {
  operationId: 'VolumeList',
  tags: TAGS,
  summary: 'List volumes',
  description:
    'Filters: `dangling` (true/false), `name` (substring), `driver`, `label` (`key` or `key=value`).',
  querystring: {
    type: 'object',
    properties: { filters: { type: 'string', description: 'JSON map of filters' } },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        Volumes: { type: 'array', items: VOLUME },
        Warnings: { type: 'array', nullable: true, items: { type: 'string' } },
      },
    },
    400: errorRef('bad filter'),
    500: errorRef('server error'),
  },
} as const;

/** volumeCreateSchema documents POST /volumes/create. */
export const volumeCreateSchema = {
  operationId: 'VolumeCreate',
  tags: TAGS,
  summary: 'Create a volume',
  description:
    "Driver `local` only. DriverOpts as dockerd's local driver: `type`, `device`, `o` (e.g. " +
    '`type=tmpfs device=tmpfs o=size=64m`, or `type=none o=bind device=/host/dir`); `size` is ' +
    'refused (no quota support). An existing volume of that name is returned as is.',
  body: {
    type: 'object',
    properties: {
      Name: { type: 'string', description: 'Volume name (random when empty)' },
      Driver: { type: 'string', description: '`local` (default)' },
      DriverOpts: stringMap,
      Labels: stringMap,
    },
  },
  response: {
    201: { description: 'the volume', ...VOLUME },
    400: errorRef('bad name, option or label'),
    404: errorRef('no such volume driver'),
    500: errorRef('server error'),
  },
} as const;

/** volumeInspectSchema documents GET /volumes/{name}. */
export const volumeInspectSchema = {
  operationId: 'VolumeInspect',
  tags: TAGS,
  summary: 'Inspect a volume',
  params: nameParam,
  response: { 200: VOLUME, 404: errorRef('no such volume'), 500: errorRef('server error') },
} as const;

/** volumeDeleteSchema documents DELETE /volumes/{name}. */
export const volumeDeleteSchema = {
  operationId: 'VolumeDelete',
  tags: TAGS,
  summary: 'Remove a volume',
  params: nameParam,
  querystring: {
    type: 'object',
    properties: { force: { type: 'string', description: 'No error when the volume does not exist' } },
  },
  response: {
    204: { description: 'the volume was removed', type: 'null' },
    404: errorRef('no such volume'),
    409: errorRef('volume is in use'),
    500: errorRef('server error'),
  },
} as const;

/** volumePruneSchema documents POST /volumes/prune. */
export const volumePruneSchema = {
  operationId: 'VolumePrune',
  tags: TAGS,
  summary: 'Delete unused volumes',
  description:
    'Filters: `label`, `label!`, `all` (API >= 1.42: without `all=true` only anonymous volumes are removed).',
  querystring: {
    type: 'object',
    properties: { filters: { type: 'string', description: 'JSON map of filters' } },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        VolumesDeleted: { type: 'array', nullable: true, items: { type: 'string' } },
        SpaceReclaimed: { type: 'integer' },
      },
    },
    400: errorRef('bad filter'),
    500: errorRef('server error'),
  },
} as const;
