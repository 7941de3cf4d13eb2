import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ContainerdClient, type ContainerdLogger } from '../../../src/containerd/client.js';
import type { CallContext } from '../../../src/containerd/connection.js';
import { GC_EXPIRE_LABEL } from '../../../src/containerd/leases.js';
import { startFake, type FakeContainerd } from './fake-containerd.js';

interface LeaseCall {
  rpc: 'Create' | 'Delete';
  id: string;
  labels?: Record<string, string>;
  namespace: string[];
}

describe('ContainerdClient.withLease', () => {
  let fake: FakeContainerd;
  let client: ContainerdClient;
  let calls: LeaseCall[] = [];
  let failDelete = false;
  const warnings: object[] = [];
  const logger: ContainerdLogger = { debug: () => {}, warn: (obj) => warnings.push(obj) };

  before(async () => {
    fake = await startFake({
      'containerd.services.leases.v1.Leases': {
        Create: ((
          call: grpc.ServerUnaryCall<{ id: string; labels: Record<string, string> }, unknown>,
          cb,
        ) => {
          const { id, labels } = call.request;
          calls.push({
            rpc: 'Create',
            id,
            labels,
            namespace: call.metadata.get('containerd-namespace') as string[],
          });
          cb(null, { lease: { id, labels } });
        }) as grpc.handleUnaryCall<{ id: string; labels: Record<string, string> }, unknown>,
        Delete: ((call: grpc.ServerUnaryCall<{ id: string }, unknown>, cb) => {
          calls.push({
            rpc: 'Delete',
            id: call.request.id,
            namespace: call.metadata.get('containerd-namespace') as string[],
          });
          if (failDelete) cb({ code: grpc.status.INTERNAL, details: 'db locked' });
          else cb(null, {});
        }) as grpc.handleUnaryCall<{ id: string }, unknown>,
      },
    });
    client = new ContainerdClient({ address: fake.address, namespace: 'ckptd-test', logger });
  });
  beforeEach(() => {
    calls = [];
    failDelete = false;
    warnings.length = 0;
  });
  after(async () => {
    client.close();
    await fake.stop();
  });

  test('creates a lease with a gc.expire label, passes it to fn, and deletes it afterwards', async () => {
    let inner: CallContext | undefined;
    const t0 = Date.now();
    const out = await client.withLease(
      async (ctx) => {
        inner = ctx;
        return 42;
      },
      { expire: 60 * 60 * 1000, labels: { 'moby/prune.images': '' } },
    );
    assert.equal(out, 42);
    assert.deepEqual(
      calls.map((c) => c.rpc),
      ['Create', 'Delete'],
    );
    const [create, del] = calls;
    assert.equal(inner?.lease, create?.id);
    assert.equal(del?.id, create?.id);
    assert.deepEqual(create?.namespace, ['ckptd-test']);
    const expire = create?.labels?.[GC_EXPIRE_LABEL] ?? '';
    assert.match(expire, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'RFC3339 as Go parses it');
    const ms = Date.parse(expire) - t0;
    assert.ok(ms > 59 * 60 * 1000 && ms <= 61 * 60 * 1000, `expires in ${ms} ms`);
    assert.equal(create?.labels?.['moby/prune.images'], '');
  });

  test('deletes the lease when fn throws, and rethrows fn error', async () => {
    await assert.rejects(
      client.withLease(async () => {
        throw new Error('step 2 failed');
      }),
      /step 2 failed/,
    );
    assert.deepEqual(
      calls.map((c) => c.rpc),
      ['Create', 'Delete'],
    );
  });

  test('deletes the lease even when the caller signal aborted', async () => {
    const ac = new AbortController();
    await assert.rejects(
      client.withLease(
        async () => {
          ac.abort();
          throw new Error('aborted work');
        },
        { ctx: { signal: ac.signal } },
      ),
      /aborted work/,
    );
    assert.deepEqual(
      calls.map((c) => c.rpc),
      ['Create', 'Delete'],
    );
  });

  test('a failed lease deletion is logged, not thrown over the result', async () => {
    failDelete = true;
    assert.equal(await client.withLease(async () => 'ok'), 'ok');
    assert.equal(warnings.length, 1);
  });

  test('reuses an outer lease instead of creating one', async () => {
    const seen = await client.withLease(async (ctx) => ctx.lease, { ctx: { lease: 'outer' } });
    assert.equal(seen, 'outer');
    assert.deepEqual(calls, []);
  });

  test('creates the lease in the context namespace', async () => {
    await client.withLease(async () => {}, { ctx: { namespace: 'other' } });
    assert.deepEqual(calls[0]?.namespace, ['other']);
    assert.deepEqual(calls[1]?.namespace, ['other']);
  });
});
