import type { EventsDefinition } from '../gen/containerd/services/events/v1/Events.js';
import type { Envelope__Output } from '../gen/containerd/services/events/v1/Envelope.js';
import type { ContainerCreate__Output } from '../gen/containerd/events/ContainerCreate.js';
import type { ContainerDelete__Output } from '../gen/containerd/events/ContainerDelete.js';
import type { ContainerUpdate__Output } from '../gen/containerd/events/ContainerUpdate.js';
import type { ContentDelete__Output } from '../gen/containerd/events/ContentDelete.js';
import type { NamespaceCreate__Output } from '../gen/containerd/events/NamespaceCreate.js';
import type { NamespaceDelete__Output } from '../gen/containerd/events/NamespaceDelete.js';
import type { NamespaceUpdate__Output } from '../gen/containerd/events/NamespaceUpdate.js';
import type { SnapshotCommit__Output } from '../gen/containerd/events/SnapshotCommit.js';
import type { SnapshotPrepare__Output } from '../gen/containerd/events/SnapshotPrepare.js';
import type { SnapshotRemove__Output } from '../gen/containerd/events/SnapshotRemove.js';
import type { TaskCheckpointed__Output } from '../gen/containerd/events/TaskCheckpointed.js';
import type { TaskCreate__Output } from '../gen/containerd/events/TaskCreate.js';
import type { TaskDelete__Output } from '../gen/containerd/events/TaskDelete.js';
import type { TaskExecAdded__Output } from '../gen/containerd/events/TaskExecAdded.js';
import type { TaskExecStarted__Output } from '../gen/containerd/events/TaskExecStarted.js';
import type { TaskExit__Output } from '../gen/containerd/events/TaskExit.js';
import type { TaskOOM__Output } from '../gen/containerd/events/TaskOOM.js';
import type { TaskPaused__Output } from '../gen/containerd/events/TaskPaused.js';
import type { TaskResumed__Output } from '../gen/containerd/events/TaskResumed.js';
import type { TaskStart__Output } from '../gen/containerd/events/TaskStart.js';
import type { ImageCreate__Output } from '../gen/containerd/services/images/v1/ImageCreate.js';
import type { ImageDelete__Output } from '../gen/containerd/services/images/v1/ImageDelete.js';
import type { ImageUpdate__Output } from '../gen/containerd/services/images/v1/ImageUpdate.js';
import { ServiceAdapter } from './adapter.js';
import { unpackMessage } from './any.js';
import type { CallContext } from './connection.js';
import { serviceDefinition } from './proto.js';
import { timestampToDate, timestampToNanos } from './timestamp.js';

const svc = serviceDefinition<EventsDefinition>('containerd.services.events.v1.Events');

/**
 * EventPayloads maps each event type_url containerd 1.6 publishes to its decoded payload
 * (topics: /tasks/*, /containers/*, /images/*, /namespaces/*, /snapshot/*, /content/delete).
 */
export interface EventPayloads {
  'containerd.events.TaskCreate': TaskCreate__Output;
  'containerd.events.TaskStart': TaskStart__Output;
  'containerd.events.TaskDelete': TaskDelete__Output;
  'containerd.events.TaskExit': TaskExit__Output;
  'containerd.events.TaskOOM': TaskOOM__Output;
  'containerd.events.TaskExecAdded': TaskExecAdded__Output;
  'containerd.events.TaskExecStarted': TaskExecStarted__Output;
  'containerd.events.TaskPaused': TaskPaused__Output;
  'containerd.events.TaskResumed': TaskResumed__Output;
  'containerd.events.TaskCheckpointed': TaskCheckpointed__Output;
  'containerd.events.ContainerCreate': ContainerCreate__Output;
  'containerd.events.ContainerUpdate': ContainerUpdate__Output;
  'containerd.events.ContainerDelete': ContainerDelete__Output;
  'containerd.events.ContentDelete': ContentDelete__Output;
  'containerd.events.NamespaceCreate': NamespaceCreate__Output;
  'containerd.events.NamespaceUpdate': NamespaceUpdate__Output;
  'containerd.events.NamespaceDelete': NamespaceDelete__Output;
  'containerd.events.SnapshotPrepare': SnapshotPrepare__Output;
  'containerd.events.SnapshotCommit': SnapshotCommit__Output;
  'containerd.events.SnapshotRemove': SnapshotRemove__Output;
  'containerd.services.images.v1.ImageCreate': ImageCreate__Output;
  'containerd.services.images.v1.ImageUpdate': ImageUpdate__Output;
  'containerd.services.images.v1.ImageDelete': ImageDelete__Output;
}

/** EventEnvelope is one containerd event with its payload decoded from the Any. */
export interface EventEnvelope {
  /** timestamp of the event (millisecond precision; see timestampNano). */
  timestamp: Date;
  /** timestampNano is the exact event time in nanoseconds since the epoch. */
  timestampNano: bigint;
  namespace: string;
  /** topic, e.g. `/tasks/exit`, `/images/create`. */
  topic: string;
  event: {
    typeUrl: string;
    /** value is the decoded payload, undefined for a type not declared in protos/. */
    value: Record<string, unknown> | undefined;
  };
}

/** isEvent narrows an envelope to a known payload type by its type_url. */
export function isEvent<K extends keyof EventPayloads>(
  env: EventEnvelope,
  typeUrl: K,
): env is EventEnvelope & { event: { typeUrl: K; value: EventPayloads[K] } } {
  return env.event.typeUrl === typeUrl && env.event.value !== undefined;
}

/** decodeEnvelope turns a raw Envelope into an EventEnvelope (payload decoded when known). */
export function decodeEnvelope(env: Envelope__Output): EventEnvelope {
  return {
    timestamp: timestampToDate(env.timestamp),
    timestampNano: timestampToNanos(env.timestamp),
    namespace: env.namespace,
    topic: env.topic,
    event: {
      typeUrl: env.event?.type_url ?? '',
      value: env.event ? unpackMessage(env.event) : undefined,
    },
  };
}

/** EventService adapts containerd.services.events.v1.Events (Subscribe only). */
export class EventService extends ServiceAdapter {
  /**
   * subscribe streams containerd's events matching any of the filters (e.g.
   * `topic~="/tasks/"`, `namespace==default`). containerd delivers events of every namespace:
   * filter on `namespace==...` to narrow. The iterable throws an EngineError when the stream
   * breaks (containerd restarted: UnavailableError) and then ends; the caller resubscribes.
   * Leaving the loop or aborting ctx.signal cancels the subscription.
   */
  async *subscribe(filters: string[] = [], ctx?: CallContext): AsyncGenerator<EventEnvelope> {
    for await (const env of this.conn.iterate(svc.Subscribe, { filters }, this.ctx(ctx))) {
      yield decodeEnvelope(env);
    }
  }
}
