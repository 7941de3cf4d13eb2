/** OpenAPI schemas of the registry routes (pull, push, login). */
const TAGS = ['Image'];

const progressStream = {
  description: 'JSON progress stream (Docker jsonmessage); a failure after the headers is in-band',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          status: { type: 'string' },
          id: { type: 'string' },
          progress: { type: 'string' },
          progressDetail: { type: 'object', additionalProperties: true },
          aux: { type: 'object', additionalProperties: true },
          error: { type: 'string' },
          errorDetail: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
};

const authHeader = {
  type: 'object',
  properties: {
    'x-registry-auth': {
      type: 'string',
      description: 'base64url JSON {username, password, serveraddress} or {identitytoken}',
    },
  },
};

/** imageCreateSchema documents POST /images/create. */
export const imageCreateSchema = {
  operationId: 'ImageCreate',
  tags: TAGS,
  summary: 'Pull an image',
  description:
    'Pulls `fromImage` (with `tag`, a tag or a digest) from its registry: OCI and Docker schema 2 ' +
    'manifests and indexes (an index resolves to `platform`, default linux/amd64); schema 1 is ' +
    'refused. Layers stream into containerd 3 at a time and are unpacked; the image is named ' +
    'only when all is done. Errors before the first progress line are plain API errors. ' +
    '`fromSrc` (docker import), `repo`, `message` and `changes` are refused (501/400).',
  headers: authHeader,
  querystring: {
    type: 'object',
    properties: {
      fromImage: { type: 'string' },
      fromSrc: { type: 'string', description: 'refused: docker import is not supported (501)' },
      repo: { type: 'string', description: 'only with fromSrc: refused' },
      tag: { type: 'string', description: 'tag or digest; empty (all tags) is refused' },
      message: { type: 'string', description: 'only with fromSrc: refused' },
      changes: { description: 'only with fromSrc: refused' },
      platform: { type: 'string', description: 'os[/arch[/variant]]' },
    },
  },
  response: { 200: progressStream },
};

/** imagePushSchema documents POST /images/{name}/push. */
export const imagePushSchema = {
  operationId: 'ImagePush',
  tags: TAGS,
  summary: 'Push an image',
  description:
    'Pushes name:tag to its registry: blobs the repository has are skipped, blobs known in ' +
    'another repository of the registry are mounted, the others stream from the content store ' +
    '(one PUT up to 32 MiB, PATCH chunks beyond); the manifest goes last.',
  headers: authHeader,
  params: { type: 'object', properties: { name: { type: 'string' } } },
  querystring: {
    type: 'object',
    properties: {
      tag: { type: 'string', description: 'tag to push; required unless the name has one' },
      platform: { type: 'string', description: 'refused when set' },
    },
  },
  response: { 200: progressStream },
};

/** authSchema documents POST /auth. */
export const authSchema = {
  operationId: 'SystemAuth',
  tags: ['System'],
  summary: 'Check registry credentials',
  description:
    'Checks the credentials against the registry (GET /v2/ and its Basic or Bearer challenge). ' +
    '`{"Status":"Login Succeeded","IdentityToken":""}`; wrong credentials are a 401.',
  body: {
    type: 'object',
    properties: {
      username: { type: 'string' },
      password: { type: 'string' },
      email: { type: 'string' },
      serveraddress: { type: 'string' },
      identitytoken: { type: 'string' },
      auth: { type: 'string' },
    },
  },
  response: {
    200: {
      description: 'Login succeeded',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: { Status: { type: 'string' }, IdentityToken: { type: 'string' } },
          },
        },
      },
    },
  },
};
