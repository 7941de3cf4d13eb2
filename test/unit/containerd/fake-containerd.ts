// An in-process grpc-js server on a temp unix socket speaking ckptd's protos/, for unit tests
// of the containerd layer (no containerd needed). Tests register only the handlers they need;
// every other method answers UNIMPLEMENTED.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { serviceDefinition } from '../../../src/containerd/proto.js';

/** Handlers maps a full service name to (some of) its method implementations. */
export type Handlers = Record<string, grpc.UntypedServiceImplementation>;

/** FakeContainerd is a running fake server and its socket address. */
export interface FakeContainerd {
  /** address is a bare socket path, as ckptd's config gives it. */
  address: string;
  server: grpc.Server;
  stop(): Promise<void>;
}

const SERVICES = [
  'containerd.services.version.v1.Version',
  'containerd.services.introspection.v1.Introspection',
  'containerd.services.namespaces.v1.Namespaces',
  'containerd.services.containers.v1.Containers',
  'containerd.services.content.v1.Content',
  'containerd.services.snapshots.v1.Snapshots',
  'containerd.services.diff.v1.Diff',
  'containerd.services.images.v1.Images',
  'containerd.services.leases.v1.Leases',
  'containerd.services.tasks.v1.Tasks',
  'containerd.services.events.v1.Events',
];

/** startFake starts a fake containerd with the given handlers. */
export async function startFake(handlers: Handlers): Promise<FakeContainerd> {
  const dir = await mkdtemp(join(tmpdir(), 'ckptd-fake-'));
  const address = join(dir, 'containerd.sock');
  const server = new grpc.Server();
  for (const name of SERVICES) {
    const def = serviceDefinition<grpc.ServiceDefinition>(name);
    const impl: grpc.UntypedServiceImplementation = {};
    for (const method of Object.keys(def)) {
      impl[method] = handlers[name]?.[method] ?? unimplemented;
    }
    server.addService(def, impl);
  }
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${address}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return {
    address,
    server,
    async stop() {
      server.forceShutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function unimplemented(call: { emit?: unknown }, callback?: unknown): void {
  const err = { code: grpc.status.UNIMPLEMENTED, details: 'not implemented by the fake' };
  if (typeof callback === 'function') (callback as (e: unknown) => void)(err);
  else (call as unknown as { emit(ev: string, e: unknown): void }).emit('error', err);
}

/** grpcError builds the error object a handler passes to fail with a status code. */
export function grpcError(code: grpc.status, details: string): Partial<grpc.StatusObject> {
  return { code, details };
}
