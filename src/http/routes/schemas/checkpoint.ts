/**
 * JSON schemas of the checkpoint routes: Docker's experimental `/containers/{id}/checkpoints`
 * (swagger has none: docker/cli `client/checkpoint_*.go`, moby `router/checkpoint`) and ckptd's
 * own `/containers/{id}/checkpoint` and `/containers/{id}/restore` (after podman's libpod API).
 * They document; query values are strings parsed by the handlers.
 */

const errorRef = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: 'ErrorResponse#' } } },
});

const TAGS = ['Checkpoint'];

const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', description: 'ID, unique ID prefix, or name of the container' } },
} as const;

const dirQuery = {
  type: 'object',
  properties: {
    dir: {
      type: 'string',
      description:
        'Absolute directory holding the checkpoints (default `<data-root>/containers/<id>/checkpoints`); ' +
        'it must resolve under the data root or a `--checkpoint-dirs` directory (403 otherwise)',
    },
  },
} as const;

const CRIU_DUMP_STATS = {
  type: 'object',
  description: "CRIU's dump statistics (stats-dump): phase times in ms, page counts",
  additionalProperties: { type: 'number' },
} as const;

/** checkpointCreateSchema documents POST /containers/{id}/checkpoints (Docker). */
export const checkpointCreateSchema = {
  operationId: 'CheckpointCreate',
  tags: TAGS,
  summary: 'Create a checkpoint (Docker experimental API)',
  description:
    'CRIU dumps the container into `<CheckpointDir or the container dir>/<CheckpointID>` in the Podman/CRI-O ' +
    'layout. `Exit` (default true in the CLI) stops the container; otherwise it keeps running.',
  params: idParam,
  body: {
    type: 'object',
    properties: {
      CheckpointID: { type: 'string' },
      CheckpointDir: { type: 'string' },
      Exit: { type: 'boolean' },
    },
  },
  response: {
    201: { description: 'checkpoint created', type: 'null' },
    400: errorRef('bad checkpoint name or directory'),
    404: errorRef('no such container'),
    409: errorRef('container not running, or the checkpoint name is taken'),
    500: errorRef('CRIU failed (its reason from dump.log)'),
  },
} as const;

/** checkpointListSchema documents GET /containers/{id}/checkpoints (Docker). */
export const checkpointListSchema = {
  operationId: 'CheckpointList',
  tags: TAGS,
  summary: "List a container's checkpoints (Docker experimental API)",
  params: idParam,
  querystring: dirQuery,
  response: {
    200: {
      description: 'no error',
      type: 'array',
      items: { type: 'object', properties: { Name: { type: 'string' } } },
    },
    404: errorRef('no such container'),
  },
} as const;

/** checkpointDeleteSchema documents DELETE /containers/{id}/checkpoints/{checkpoint} (Docker). */
export const checkpointDeleteSchema = {
  operationId: 'CheckpointDelete',
  tags: TAGS,
  summary: 'Delete a checkpoint (Docker experimental API)',
  params: {
    type: 'object',
    required: ['id', 'checkpoint'],
    properties: { id: idParam.properties.id, checkpoint: { type: 'string' } },
  },
  querystring: dirQuery,
  response: {
    204: { description: 'no error', type: 'null' },
    400: errorRef('bad checkpoint name'),
    404: errorRef('no such container or checkpoint'),
  },
} as const;

/** containerCheckpointSchema documents ckptd's POST /containers/{id}/checkpoint. */
export const containerCheckpointSchema = {
  operationId: 'ContainerCheckpoint',
  tags: TAGS,
  summary: 'Checkpoint a container, optionally streaming the archive (ckptd)',
  description:
    'CRIU dumps straight into the checkpoint directory (containerd CheckpointOptions image_path); the rootfs ' +
    'changes are captured while the container is frozen or stopped. With `export=true` the response body is ' +
    'the checkpoint archive (Podman layout: config.dump, spec.dump, checkpoint/, rootfs-diff.tar, deleted.files, ' +
    'stats-dump, dump.log), streamed as it is produced; without a `name` the checkpoint is not kept.',
  params: idParam,
  querystring: {
    type: 'object',
    properties: {
      name: { type: 'string', description: 'Checkpoint name (required unless export=true)' },
      dir: {
        type: 'string',
        description:
          'Absolute parent directory of the checkpoint, under the data root or a `--checkpoint-dirs` directory (403 otherwise)',
      },
      leaveRunning: { type: 'string', description: 'Keep the container running (default false)' },
      tcpEstablished: { type: 'string', description: 'Checkpoint established TCP connections' },
      fileLocks: { type: 'string', description: 'Checkpoint file locks' },
      ignoreRootfs: { type: 'string', description: 'Do not capture the rootfs changes' },
      ignoreVolumes: {
        type: 'string',
        description:
          "With export=true: leave the container's volumes out of the archive (podman --ignore-volumes); by default each volume is `volumes/<name>.tar`",
      },
      export: { type: 'string', description: 'Stream the checkpoint archive as the response body' },
      image: {
        type: 'string',
        description:
          'Write the checkpoint as an OCI image tagged with this reference (Podman `--create-image` layout: one layer ' +
          'holding the archive content, io.podman.annotations.checkpoint.* and io.kubernetes.cri-o.annotations.checkpoint.* ' +
          'manifest annotations); `docker run`/`docker create` of it, or restore?image=, restores it',
      },
      compress: {
        type: 'string',
        enum: ['zstd', 'gzip', 'none'],
        description: 'Archive compression (default zstd; for image= the layer compression, default none)',
      },
      printStats: { type: 'string', description: "Return CRIU's dump statistics" },
    },
  },
  response: {
    200: {
      description: 'the archive (export=true): application/x-tar, application/zstd or application/gzip',
      content: {
        'application/x-tar': { schema: { type: 'string', format: 'binary' } },
        'application/zstd': { schema: { type: 'string', format: 'binary' } },
        'application/gzip': { schema: { type: 'string', format: 'binary' } },
      },
    },
    201: {
      description: 'checkpoint created',
      type: 'object',
      properties: {
        Id: { type: 'string' },
        Name: { type: 'string' },
        Image: { type: 'string', description: 'ID of the checkpoint image (image=)' },
        Stats: {
          type: 'object',
          properties: {
            criu: CRIU_DUMP_STATS,
            checkpointDurationMs: { type: 'number' },
            rootfsDiffDurationMs: { type: 'number' },
            rootfsDiffBytes: { type: 'number' },
            totalDurationMs: { type: 'number' },
            imageDurationMs: { type: 'number' },
          },
        },
      },
    },
    400: errorRef('bad parameter'),
    404: errorRef('no such container'),
    409: errorRef('container not running, or the checkpoint name is taken'),
    500: errorRef('CRIU failed (its reason from dump.log)'),
  },
} as const;

/** containerRestoreSchema documents ckptd's POST /containers/{id}/restore. */
export const containerRestoreSchema = {
  operationId: 'ContainerRestore',
  tags: TAGS,
  summary: 'Restore a container from a checkpoint or an imported archive (ckptd)',
  description:
    'With `checkpoint=NAME` the container `{id}` is restored in place (it must be stopped), or into a new ' +
    'container when `name` is given. With `import=true` the request body is a checkpoint archive (tar, gzip or ' +
    'zstd, detected), `{id}` is ignored, and a new container is created: from the base image named by ' +
    'config.dump (it must exist), with a runtime spec rebuilt by ckptd (no binds, network none), the rootfs ' +
    'diff applied, then the processes restored by CRIU. Before CRIU runs, its images (credentials and ' +
    'capabilities, seccomp, namespaces, mounts, tmpfs contents) are checked against that spec: an image asking ' +
    'for more is refused with 400 naming the image and field. A failed restore never falls back to a cold start ' +
    'and leaves no container behind.',
  params: idParam,
  querystring: {
    type: 'object',
    properties: {
      checkpoint: { type: 'string', description: 'Checkpoint name of container {id}' },
      dir: {
        type: 'string',
        description:
          'Absolute parent directory of the checkpoint, under the data root or a `--checkpoint-dirs` directory (403 otherwise)',
      },
      import: { type: 'string', description: 'The body is a checkpoint archive' },
      image: {
        type: 'string',
        description:
          'Restore a new container from this checkpoint image (ckptd, Podman or CRI-O layout; `{id}` is ignored, as with ' +
          'import); its base image must exist here; same checks as an import',
      },
      name: { type: 'string', description: 'Restore into a new container with this name' },
      tcpEstablished: {
        type: 'string',
        description: 'Refused (400): containerd 1.6 cannot restore established TCP connections',
      },
      ignoreRootfs: { type: 'string', description: 'Do not apply the rootfs changes' },
      ignoreVolumes: {
        type: 'string',
        description:
          "With import=true: create the archive's volumes empty, without their content. Either way a named volume that already exists is refused (409, as podman): mount it in hostConfig instead",
      },
      keep: {
        type: 'string',
        description: 'Keep an imported checkpoint as checkpoint `imported` of the new container',
      },
      printStats: { type: 'string', description: "Return CRIU's restore statistics" },
      hostConfig: {
        type: 'string',
        description:
          'JSON HostConfig of the new container (import or name), checked as create checks it; the only source of its host settings besides ckptd defaults (import) or the source container (name)',
      },
    },
  },
  response: {
    201: {
      description: 'the restored, running container',
      type: 'object',
      properties: { Id: { type: 'string' }, Stats: { type: 'object', additionalProperties: true } },
    },
    400: errorRef('bad parameter, or a malformed or hostile archive'),
    404: errorRef('no such container, checkpoint or base image'),
    409: errorRef('container running, or name taken'),
    500: errorRef('CRIU failed (its reason from restore.log)'),
  },
} as const;
