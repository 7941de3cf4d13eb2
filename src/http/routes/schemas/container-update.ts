/**
 * JSON schema of POST /containers/{id}/update (`docker update`), after Docker's swagger
 * (v1.47 `ContainerUpdate`). It documents; the engine checks every field.
 */

const errorRef = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: 'ErrorResponse#' } } },
});

const int = (description: string) => ({ type: 'integer', description }) as const;

/** containerUpdateSchema documents POST /containers/{id}/update. */
export const containerUpdateSchema = {
  operationId: 'ContainerUpdate',
  tags: ['Container'],
  summary: "Change a container's resource limits and restart policy",
  description:
    'The limits of a running container change at once (containerd Tasks.Update) and are kept for its ' +
    'next start. Fields `docker update` cannot change (Devices, Ulimits, CgroupParent, BlkioDevice*, ' +
    'MemorySwappiness, OomKillDisable, ...) are refused when set, as are KernelMemory and CpuRealtime*.',
  params: {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', description: 'ID, unique ID prefix, or name of the container' } },
  },
  body: {
    type: 'object',
    additionalProperties: true,
    properties: {
      Memory: int('Memory limit in bytes (at least 6 MB)'),
      MemorySwap: int('Memory plus swap in bytes; -1 for unlimited swap'),
      MemoryReservation: int('Memory soft limit in bytes'),
      NanoCpus: int('CPU quota in units of 1e-9 CPUs'),
      CpuShares: int('Relative CPU weight'),
      CpuPeriod: int('CFS period in microseconds (1000-1000000)'),
      CpuQuota: int('CFS quota in microseconds (at least 1000; -1 for none)'),
      CpusetCpus: { type: 'string', description: 'CPUs the container may use (`0-3`, `0,1`)' },
      CpusetMems: { type: 'string', description: 'Memory nodes the container may use' },
      PidsLimit: {
        type: 'integer',
        nullable: true,
        description: 'Maximum number of PIDs; 0 or -1 for unlimited',
      },
      BlkioWeight: int('Block I/O weight (10-1000), when the host supports it'),
      RestartPolicy: {
        type: 'object',
        properties: {
          Name: { type: 'string', enum: ['', 'no', 'always', 'unless-stopped', 'on-failure'] },
          MaximumRetryCount: { type: 'integer' },
        },
      },
    },
  },
  response: {
    200: {
      description: 'The container was updated',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['Warnings'],
            properties: { Warnings: { type: 'array', items: { type: 'string' } } },
          },
        },
      },
    },
    400: errorRef('bad parameter, or a field docker update cannot change'),
    404: errorRef('no such container'),
    409: errorRef('container being removed, or not created by ckptd'),
    500: errorRef('server error'),
  },
} as const;
