import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import {
  EventsService,
  matchEvent,
  translateTopic,
  type ContainerdEnvelope,
  type EventSource,
} from '../../../src/engine/events.js';
import type { DockerEvent } from '../../../src/engine/system.js';

const logger = pino({ level: 'silent' });

/** A fake event source fed by the test; each subscribe() gets a fresh stream. */
class FakeSource implements EventSource {
  subscriptions = 0;
  #push: ((e: ContainerdEnvelope | Error) => void) | undefined;
  #ready: (() => void) | undefined;
  readonly subscribed = new Promise<void>((r) => (this.#ready = r));

  async *subscribe(_filters: string[], signal: AbortSignal): AsyncIterable<ContainerdEnvelope> {
    this.subscriptions++;
    const q: (ContainerdEnvelope | Error)[] = [];
    let wake: (() => void) | undefined;
    this.#push = (e) => {
      q.push(e);
      wake?.();
    };
    signal.addEventListener('abort', () => wake?.());
    this.#ready?.();
    for (;;) {
      if (signal.aborted) return;
      const e = q.shift();
      if (!e) {
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      if (e instanceof Error) throw e;
      yield e;
    }
  }

  push(e: ContainerdEnvelope | Error): void {
    this.#push?.(e);
  }
}

function env(
  topic: string,
  value: Record<string, unknown>,
  ns = 'ckptd-test',
  tNano = 1_700_000_000_000_000_000n,
): ContainerdEnvelope {
  return { timestampNano: tNano, namespace: ns, topic, event: { typeUrl: 'x', value } };
}

const lookup = async (id: string) => ({
  labels: { 'ckptd/name': `name-${id}`, app: 'web' },
  image: 'docker.io/library/bb:1',
});

async function take<T>(it: AsyncIterable<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) {
    out.push(x);
    if (out.length === n) break;
  }
  return out;
}

test('translateTopic maps task exit of the init process to die with exitCode, of an exec to exec_die', () => {
  assert.deepEqual(translateTopic('/tasks/exit', { container_id: 'c1', id: 'c1', exit_status: 3 }), {
    type: 'container',
    action: 'die',
    id: 'c1',
    attrs: { exitCode: '3' },
  });
  assert.equal(
    translateTopic('/tasks/exit', { container_id: 'c1', id: 'e1', exit_status: 0 })?.action,
    'exec_die',
  );
  assert.equal(translateTopic('/snapshot/prepare', { key: 'x' }), undefined);
});

test('matchEvent applies type, event, container name/ID prefix and label filters as Docker does', () => {
  const ev: DockerEvent = {
    Type: 'container',
    Action: 'start',
    Actor: { ID: 'abcdef0123', Attributes: { name: 'web', image: 'bb', app: 'x' } },
    scope: 'local',
    time: 1,
    timeNano: 1,
  };
  assert.ok(matchEvent(ev, {}));
  assert.ok(matchEvent(ev, { type: ['container'], event: ['start'] }));
  assert.ok(!matchEvent(ev, { type: ['image'] }));
  assert.ok(!matchEvent(ev, { event: ['die'] }));
  assert.ok(matchEvent(ev, { container: ['abc'] }));
  assert.ok(matchEvent(ev, { container: ['web'] }));
  assert.ok(!matchEvent(ev, { container: ['other'] }));
  assert.ok(matchEvent(ev, { label: ['app'] }));
  assert.ok(matchEvent(ev, { label: ['app=x'] }));
  assert.ok(!matchEvent(ev, { label: ['app=y'] }));
  assert.ok(matchEvent(ev, { image: ['bb'] }));
});

test('EventsService streams live containerd events translated with the container name and image', async () => {
  const src = new FakeSource();
  const svc = new EventsService({ source: src, namespace: 'ckptd-test', logger, lookup });
  svc.start();
  await src.subscribed;
  const ac = new AbortController();
  const got = take(svc.stream({ filters: {} }, ac.signal), 2);
  await new Promise((r) => setImmediate(r));
  src.push(env('/tasks/start', { container_id: 'c1', pid: 10 }));
  src.push(env('/tasks/start', { container_id: 'other-ns' }, 'someone-else'));
  src.push(env('/tasks/exit', { container_id: 'c1', id: 'c1', exit_status: 0 }));
  const evs = await got;
  assert.deepEqual(
    evs.map((e) => [
      e.Action,
      e.Actor.ID,
      e.Actor.Attributes.name,
      e.Actor.Attributes.image,
      e.Actor.Attributes.app,
    ]),
    [
      ['start', 'c1', 'name-c1', 'docker.io/library/bb:1', 'web'],
      ['die', 'c1', 'name-c1', 'docker.io/library/bb:1', 'web'],
    ],
  );
  assert.equal(evs[0]?.status, 'start');
  assert.equal(evs[0]?.time, 1_700_000_000);
  ac.abort();
  await svc.stop();
});

test('EventsService replays buffered events at or after since, and ends at an until in the past', async () => {
  const now = 2_000_000_000_000_000_000n;
  const src = new FakeSource();
  const svc = new EventsService({ source: src, namespace: 'n', logger, lookup, nowNano: () => now });
  svc.start();
  await src.subscribed;
  src.push(env('/containers/create', { id: 'a' }, 'n', 1_000n));
  src.push(env('/containers/create', { id: 'b' }, 'n', 2_000n));
  src.push(env('/containers/create', { id: 'c' }, 'n', 3_000n));
  await new Promise((r) => setTimeout(r, 20));
  const evs: DockerEvent[] = [];
  for await (const e of svc.stream(
    { sinceNano: 2_000n, untilNano: 2_500n, filters: {} },
    new AbortController().signal,
  )) {
    evs.push(e);
  }
  assert.deepEqual(
    evs.map((e) => e.Actor.ID),
    ['b'],
  );
  await svc.stop();
});

test('EventsService resubscribes after the containerd stream breaks (containerd restart)', async () => {
  const src = new FakeSource();
  const svc = new EventsService({ source: src, namespace: 'n', logger, lookup });
  svc.start();
  await src.subscribed;
  src.push(new Error('transport is closing'));
  const deadline = Date.now() + 3000;
  while (src.subscriptions < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(src.subscriptions, 2);
  const ac = new AbortController();
  const got = take(svc.stream({ filters: { type: ['container'] } }, ac.signal), 1);
  await new Promise((r) => setImmediate(r));
  src.push(env('/tasks/paused', { container_id: 'z' }, 'n'));
  assert.equal((await got)[0]?.Action, 'pause');
  await svc.stop();
});

test('EventsService.publish delivers engine events (commit, checkpoint) to streams', async () => {
  const src = new FakeSource();
  const svc = new EventsService({ source: src, namespace: 'n', logger, lookup });
  const ac = new AbortController();
  const got = take(svc.stream({ filters: { event: ['commit'] } }, ac.signal), 1);
  await new Promise((r) => setImmediate(r));
  svc.publish('container', 'export', 'c1');
  svc.publish('container', 'commit', 'c1', { comment: 'm' });
  const [ev] = await got;
  assert.equal(ev?.Action, 'commit');
  assert.equal(ev?.Actor.Attributes.comment, 'm');
  await svc.stop();
});

test('an /events stream ends when its client aborts', async () => {
  const src = new FakeSource();
  const svc = new EventsService({ source: src, namespace: 'n', logger, lookup });
  const ac = new AbortController();
  const it = svc.stream({ filters: {} }, ac.signal)[Symbol.asyncIterator]();
  const next = it.next();
  ac.abort();
  assert.deepEqual(await next, { done: true, value: undefined });
  await svc.stop();
});

test('muteTaskEcho drops the next pause and unpause of a container (a quiet pause hold), not later ones', async () => {
  const src = new FakeSource();
  const svc = new EventsService({ source: src, namespace: 'n', logger, lookup });
  svc.start();
  await src.subscribed;
  const ac = new AbortController();
  const got = take(svc.stream({ filters: {} }, ac.signal), 3);
  await new Promise((r) => setImmediate(r));
  svc.muteTaskEcho('c1', 'pause');
  svc.muteTaskEcho('c1', 'unpause');
  src.push(env('/tasks/paused', { container_id: 'c1' }, 'n'));
  src.push(env('/tasks/paused', { container_id: 'c2' }, 'n'));
  src.push(env('/tasks/resumed', { container_id: 'c1' }, 'n'));
  src.push(env('/tasks/paused', { container_id: 'c1' }, 'n'));
  src.push(env('/tasks/resumed', { container_id: 'c1' }, 'n'));
  const evs = await got;
  assert.deepEqual(
    evs.map((e) => [e.Action, e.Actor.ID]),
    [
      ['pause', 'c2'],
      ['pause', 'c1'],
      ['unpause', 'c1'],
    ],
  );
  ac.abort();
  await svc.stop();
});
