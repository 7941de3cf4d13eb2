/**
 * The containerd layer: a typed client over containerd 1.6's gRPC API. It knows gRPC and
 * nothing of Docker; gRPC failures leave it as EngineErrors.
 */
export { ContainerdClient } from './client.js';
export type { ContainerdClientOptions, ContainerdLogger, WithLeaseOptions } from './client.js';
export { DEFAULT_LEASE_EXPIRE_MS, LEASE_DELETE_TIMEOUT_MS } from './client.js';
export { Connection, DEFAULT_UNARY_DEADLINE_MS, MAX_MESSAGE_BYTES, normalizeAddress } from './connection.js';
export type { CallContext } from './connection.js';
export { fromGrpcError, isContainerdGone } from './errors.js';
export { ContentWriter, WRITE_CHUNK_BYTES } from './content.js';
export type { ContentInfo, ContentStatus, ReadOptions, WriterOptions } from './content.js';
export { decodeEnvelope, isEvent } from './events.js';
export type { EventEnvelope, EventPayloads } from './events.js';
export { GC_EXPIRE_LABEL, GC_FLAT_LABEL } from './leases.js';
export type { Lease, LeaseResource } from './leases.js';
export type { Container, NewContainer } from './containers.js';
export type { Image, NewImage } from './images.js';
export type { Mount, SnapshotInfo, SnapshotUsage } from './snapshots.js';
export type { Descriptor, DescriptorInit, DiffOptions, MountInit } from './diff.js';
export type {
  CheckpointTaskInit,
  CreateTaskInit,
  DeletedTask,
  ExecInit,
  ExitStatus,
  TaskProcess,
} from './tasks.js';
export type { Namespace } from './namespaces.js';
export type { Plugin } from './introspection.js';
export type { ContainerdVersion } from './version.js';
export * from './any.js';
export { dateToTimestamp, timestampToDate, timestampToNanos } from './timestamp.js';
