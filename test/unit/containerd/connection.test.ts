import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ContainerdClient } from '../../../src/containerd/client.js';
import {
  AlreadyExistsError,
  CancelledError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  PermissionDeniedError,
  UnavailableError,
} from '../../../src/errors/index.js';
import { grpcError, startFake, type FakeContainerd } from './fake-containerd.js';

type Unary = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => void;

describe('containerd connection', () => {
  let fake: FakeContainerd;
  let client: ContainerdClient;
  const seen: { metadata?: grpc.Metadata; deadline?: grpc.Deadline } = {};
  let imagesGet: Unary = (_call, cb) => cb(null, { image: { name: 'x' } });
  const hung = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  let streamCancelled = false;

  before(async () => {
    fake = await startFake({
      'containerd.services.version.v1.Version': {
        Version: ((call, cb) => {
          seen.metadata = call.metadata;
          seen.deadline = call.getDeadline();
          cb(null, { version: '1.6.20', revision: 'abc' });
        }) as Unary,
      },
      'containerd.services.images.v1.Images': { Get: ((call, cb) => imagesGet(call, cb)) as Unary },
      'containerd.services.events.v1.Events': {
        Subscribe: ((call: grpc.ServerWritableStream<unknown, unknown>) => {
          seen.deadline = call.getDeadline();
          hung.add(call);
          call.on('cancelled', () => (streamCancelled = true));
          call.write({ namespace: 'ns', topic: '/x', timestamp: { seconds: 1, nanos: 5 } });
        }) as grpc.handleServerStreamingCall<unknown, unknown>,
      },
    });
    client = new ContainerdClient({ address: fake.address, namespace: 'ckptd-test' });
  });
  after(async () => {
    client.close();
    for (const c of hung) c.end();
    await fake.stop();
  });

  test('sends the default namespace as containerd-namespace metadata', async () => {
    await client.version.version();
    assert.deepEqual(seen.metadata?.get('containerd-namespace'), ['ckptd-test']);
    assert.deepEqual(seen.metadata?.get('containerd-lease'), []);
  });

  test('sends the context namespace and lease as metadata', async () => {
    await client.version.version({ namespace: 'other', lease: 'lease-1' });
    assert.deepEqual(seen.metadata?.get('containerd-namespace'), ['other']);
    assert.deepEqual(seen.metadata?.get('containerd-lease'), ['lease-1']);
  });

  test('withNamespace views send their own namespace on the same channel', async () => {
    const view = client.withNamespace('view-ns');
    assert.equal(view.connection, client.connection);
    await view.version.version();
    assert.deepEqual(seen.metadata?.get('containerd-namespace'), ['view-ns']);
    view.close(); // a view does not own the channel
    await client.version.version();
  });

  test('applies a default deadline of about 30 s to unary calls', async () => {
    const t0 = Date.now();
    await client.version.version();
    const d = Number(seen.deadline);
    assert.ok(d > t0 + 25_000 && d < t0 + 35_000, `deadline ${d - t0} ms ahead`);
  });

  test('applies ctx.deadlineMs: a hung call fails after it', async () => {
    imagesGet = () => {}; // never answers
    const t0 = Date.now();
    await assert.rejects(client.images.get('x', { deadlineMs: 200 }), (err: Error) => {
      assert.ok(err instanceof InternalError, err.name);
      assert.match(err.message, /deadline/i);
      return true;
    });
    assert.ok(Date.now() - t0 < 2000);
  });

  test('streams get no default deadline', async () => {
    const ac = new AbortController();
    const it = client.events.subscribe([], { signal: ac.signal });
    await it.next();
    assert.equal(seen.deadline, Infinity);
    ac.abort();
  });

  test('aborting the signal cancels a stream and rejects with CancelledError', async () => {
    const ac = new AbortController();
    const it = client.events.subscribe([], { signal: ac.signal });
    const first = await it.next();
    assert.equal(first.value?.topic, '/x');
    assert.equal(first.value?.timestampNano, 1_000_000_005n);
    setTimeout(() => ac.abort(new Error('client went away')), 50);
    await assert.rejects(it.next(), (err: Error) => {
      assert.ok(err instanceof CancelledError, err.name);
      assert.match(err.message, /client went away/);
      return true;
    });
    await waitFor(() => streamCancelled);
  });

  test('aborting the signal cancels a unary call', async () => {
    imagesGet = () => {};
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(client.images.get('x', { signal: ac.signal }), CancelledError);
  });

  test('an already aborted signal rejects without calling containerd', async () => {
    let called = false;
    imagesGet = (_c, cb) => {
      called = true;
      cb(null, {});
    };
    await assert.rejects(client.images.get('x', { signal: AbortSignal.abort() }), CancelledError);
    assert.equal(called, false);
  });

  test('maps gRPC status codes to EngineError classes, keeping the grpc error as cause', async () => {
    const table: [grpc.status, new (...a: never[]) => Error][] = [
      [grpc.status.INVALID_ARGUMENT, InvalidArgumentError],
      [grpc.status.NOT_FOUND, NotFoundError],
      [grpc.status.ALREADY_EXISTS, AlreadyExistsError],
      [grpc.status.FAILED_PRECONDITION, FailedPreconditionError],
      [grpc.status.PERMISSION_DENIED, PermissionDeniedError],
      [grpc.status.UNIMPLEMENTED, NotImplementedError],
      [grpc.status.UNAVAILABLE, UnavailableError],
      [grpc.status.CANCELLED, CancelledError],
      [grpc.status.UNKNOWN, InternalError],
      [grpc.status.DATA_LOSS, InternalError],
      [grpc.status.OUT_OF_RANGE, InternalError],
    ];
    for (const [code, Cls] of table) {
      imagesGet = (_c, cb) => cb(grpcError(code, `image "x": boom ${code}`));
      await assert.rejects(client.images.get('x'), (err: Error) => {
        assert.ok(err instanceof Cls, `${grpc.status[code]} -> ${err.name}`);
        assert.match(err.message, new RegExp(`boom ${code}`));
        assert.equal((err.cause as grpc.ServiceError).code, code);
        return true;
      });
    }
  });
});

describe('containerd connection without containerd', () => {
  test('rejects with UnavailableError naming the address, quickly, when nothing listens', async () => {
    const client = new ContainerdClient({ address: '/nonexistent/ckptd/containerd.sock', namespace: 'x' });
    try {
      const t0 = Date.now();
      await assert.rejects(client.version.version(), (err: Error) => {
        assert.ok(err instanceof UnavailableError, err.name);
        assert.match(
          err.message,
          /containerd is not available at unix:\/\/\/nonexistent\/ckptd\/containerd\.sock/,
        );
        return true;
      });
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    } finally {
      client.close();
    }
  });

  test('rejects calls after close()', async () => {
    const client = new ContainerdClient({ address: '/nonexistent/x.sock', namespace: 'x' });
    client.close();
    await assert.rejects(client.version.version(), InternalError);
  });
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}
