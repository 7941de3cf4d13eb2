// Integration: ckptd's containerd client against a real containerd 1.6 (needs root).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { isEvent, type EventEnvelope } from '../../src/containerd/events.js';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../../src/errors/index.js';
import { containerdFixture } from '../helpers/fixture.js';

const MiB = 1 << 20;
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let nsSeq = 0;
const newNamespace = (): string => `ckptd-it-${process.pid}-${++nsSeq}`;

describe('containerd client against a real containerd', { timeout: 120_000 }, () => {
  const f = containerdFixture({ ns: newNamespace() });

  test('version reports containerd 1.6', async () => {
    const v = await f.client.version.version();
    assert.match(v.version, /^1\.6\./);
  });

  test('introspection lists the content and snapshotter plugins', async () => {
    const plugins = await f.client.introspection.plugins();
    assert.ok(plugins.some((p) => p.type === 'io.containerd.content.v1'));
    assert.ok(
      plugins.every((p) => p.id !== 'cri'),
      'CRI is disabled',
    );
  });

  test('namespaces can be created, listed and deleted', async () => {
    const ns = newNamespace();
    await f.client.namespaces.create(ns, { owner: 'ckptd' });
    const list = await f.client.namespaces.list();
    assert.ok(list.some((n) => n.name === ns && n.labels.owner === 'ckptd'));
    await f.client.namespaces.delete(ns);
    // containerd 1.6's Namespaces.Get answers for any name (empty labels): check the list.
    assert.ok(!(await f.client.namespaces.list()).some((n) => n.name === ns));
  });

  test('content write + read round trip of a few MiB keeps the digest', async () => {
    const c = f.client.withNamespace(newNamespace());
    const data = randomBytes(5 * MiB + 17);
    const digest = await c.withLease(async (ctx) => {
      const w = c.content.writer(`it-${Date.now()}`, { total: data.length, expected: sha256(data) }, ctx);
      await pipeline(Readable.from([data.subarray(0, 3 * MiB), data.subarray(3 * MiB)]), w);
      const d = await w.commit(data.length, sha256(data), { 'containerd.io/gc.root': 'it' });
      return d;
    });
    assert.equal(digest, sha256(data));
    const info = await c.content.info(digest);
    assert.equal(info.size, String(data.length));
    const back = await c.content.readBlob(digest, 8 * MiB);
    assert.ok(back.equals(data));
    const chunks: Buffer[] = [];
    for await (const chunk of c.content.readStream(digest, { offset: MiB, size: 100 }))
      chunks.push(chunk as Buffer);
    assert.ok(Buffer.concat(chunks).equals(data.subarray(MiB, MiB + 100)), 'range read');
    await assert.rejects(c.content.readBlob(digest), InvalidArgumentError); // over readBlob's 4 MiB default
  });

  test('a lease protects content until it is deleted and GC runs', async () => {
    const c = f.client.withNamespace(newNamespace());
    const data = randomBytes(64 * 1024);
    const lease = await c.leases.create(`it-lease-${Date.now()}`, {
      'containerd.io/gc.expire': '2099-01-01T00:00:00Z',
    });
    const w = c.content.writer(`it-leased-${Date.now()}`, {}, { lease: lease.id });
    w.end(data);
    const digest = await w.commit();
    const resources = await c.leases.listResources(lease.id);
    assert.ok(
      resources.some((r) => r.type === 'content' && r.id === digest),
      JSON.stringify(resources),
    );
    assert.ok((await c.leases.list()).some((l) => l.id === lease.id));
    await c.leases.delete(lease.id, { sync: true }); // sync: waits for the GC it triggers
    assert.ok(!(await c.leases.list()).some((l) => l.id === lease.id));
    await assert.rejects(c.content.info(digest), NotFoundError);
  });

  test('event subscription sees an image create event', async () => {
    const c = f.client.withNamespace(newNamespace());
    const name = `docker.io/library/ckptd-it:${Date.now()}`;
    const ac = new AbortController();
    const events: EventEnvelope[] = [];
    const seen = (async () => {
      for await (const env of c.events.subscribe([`namespace==${c.namespace}`, 'topic~="/images/"'], {
        signal: ac.signal,
      })) {
        events.push(env);
        if (isEvent(env, 'containerd.services.images.v1.ImageCreate') && env.event.value.name === name)
          return env;
      }
      return undefined;
    })();
    await new Promise((r) => setTimeout(r, 200)); // let the subscription reach containerd
    const cfg = Buffer.from('{}');
    const digest = await c.withLease(async (ctx) => {
      const w = c.content.writer(`it-img-${Date.now()}`, {}, ctx);
      w.end(cfg);
      const d = await w.commit();
      await c.images.create(
        {
          name,
          target: { media_type: 'application/vnd.oci.image.config.v1+json', digest: d, size: cfg.length },
        },
        ctx,
      );
      return d;
    });
    const timeout = setTimeout(() => ac.abort(new Error('no image create event within 10 s')), 10_000);
    const env = await seen;
    clearTimeout(timeout);
    ac.abort();
    assert.ok(env, `events: ${JSON.stringify(events.map((e) => e.topic))}`);
    assert.equal(env.topic, '/images/create');
    assert.equal(env.namespace, c.namespace);
    assert.ok(env.timestampNano > 0n);
    assert.equal((await c.images.get(name)).target?.digest, digest);
    await c.images.delete(name, { sync: true });
  });

  test('with containerd killed calls fail fast with UnavailableError; after restart the same client works', async () => {
    await f.client.version.version();
    await f.ctd.kill();
    const t0 = Date.now();
    await assert.rejects(f.client.version.version(), (err: Error) => {
      assert.ok(err instanceof UnavailableError, `${err.name}: ${err.message}`);
      assert.match(err.message, /containerd is not available at unix:\/\//);
      return true;
    });
    assert.ok(Date.now() - t0 < 3000, `failed after ${Date.now() - t0} ms`);
    await f.ctd.restart();
    const t1 = Date.now();
    for (;;) {
      try {
        await f.client.version.version();
        break;
      } catch (err) {
        assert.ok(err instanceof UnavailableError, String(err));
        assert.ok(Date.now() - t1 < 5000, 'the client reconnects within the 1 s max backoff');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.match((await f.client.version.version()).version, /^1\.6\./);
  });
});
