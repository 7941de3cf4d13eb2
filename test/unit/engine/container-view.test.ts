import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Container } from '../../../src/containerd/containers.js';
import type { TaskProcess } from '../../../src/containerd/tasks.js';
import {
  ContainerView,
  eventContainerId,
  watchMutations,
  type ViewEnvelope,
  type ViewSource,
} from '../../../src/engine/container-view.js';
import type { ContainerdClient } from '../../../src/containerd/client.js';

/** FakeContainerd holds containers and tasks; counts calls; can hold calls until released. */
class FakeContainerd implements ViewSource {
  containers = new Map<string, Container>();
  tasks = new Map<string, TaskProcess>();
  lists = 0;
  gets = 0;
  /** when set, calls wait for it (to interleave changes with an in-flight fetch) */
  gate: Promise<void> | undefined;

  add(id: string, status?: string): void {
    this.containers.set(id, { id, labels: {}, image: 'img' } as unknown as Container);
    if (status) this.setTask(id, status);
  }
  setTask(id: string, status: string, pid = 42): void {
    this.tasks.set(id, { id, container_id: id, status, pid, exit_status: 0 } as unknown as TaskProcess);
  }
  async list(): Promise<{ containers: Container[]; tasks: TaskProcess[] }> {
    this.lists++;
    const containers = [...this.containers.values()];
    const tasks = [...this.tasks.values()];
    await this.gate;
    return { containers, tasks };
  }
  async get(id: string): Promise<{ container: Container | undefined; task: TaskProcess | undefined }> {
    this.gets++;
    const container = this.containers.get(id);
    const task = this.tasks.get(id);
    await this.gate;
    return { container, task };
  }
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function liveView(
  ctd: FakeContainerd,
  o: Partial<ConstructorParameters<typeof ContainerView>[0]> = {},
): Promise<ContainerView> {
  const view = new ContainerView({ source: ctd, settleMs: 0, resyncMs: 0, flushDelayMs: 1, ...o });
  view.subscribed();
  for (let i = 0; i < 100 && !view.live; i++) await tick(1);
  assert.equal(view.live, true, 'the view goes live after its first reconcile');
  return view;
}

const states = async (view: ContainerView): Promise<Record<string, string>> =>
  Object.fromEntries(
    (await view.snapshot()).map((e) => [e.container.id, e.task ? String(e.task.status) : 'none']),
  );

const ev = (topic: string, value: Record<string, unknown>): ViewEnvelope => ({ topic, event: { value } });

test('eventContainerId: container and init-task topics name the container; exec exits do not', () => {
  assert.equal(eventContainerId(ev('/containers/create', { id: 'a' })), 'a');
  assert.equal(eventContainerId(ev('/containers/delete', { id: 'a' })), 'a');
  assert.equal(eventContainerId(ev('/tasks/start', { container_id: 'a', pid: 1 })), 'a');
  assert.equal(eventContainerId(ev('/tasks/exit', { container_id: 'a', id: 'a' })), 'a');
  assert.equal(eventContainerId(ev('/tasks/exit', { container_id: 'a', id: 'exec1' })), '');
  assert.equal(eventContainerId(ev('/tasks/delete', { container_id: 'a', id: '' })), 'a');
  assert.equal(eventContainerId(ev('/tasks/paused', { container_id: 'a' })), 'a');
  assert.equal(eventContainerId(ev('/tasks/exec-started', { container_id: 'a' })), '');
  assert.equal(eventContainerId(ev('/images/create', { name: 'x' })), '');
});

test('before the first reconcile and after a gap, every read asks containerd', async () => {
  const ctd = new FakeContainerd();
  ctd.add('a', 'RUNNING');
  const view = new ContainerView({ source: ctd, settleMs: 0, resyncMs: 0 });
  assert.deepEqual(await states(view), { a: 'RUNNING' });
  assert.equal(ctd.lists, 1);
  view.subscribed();
  await tick(5);
  assert.equal(view.live, true);
  const before = ctd.lists;
  await states(view);
  await states(view);
  assert.equal(ctd.lists, before, 'live reads come from memory');
  view.gap();
  ctd.setTask('a', 'STOPPED');
  assert.deepEqual(await states(view), { a: 'STOPPED' }, 'a gap: the read asks containerd');
  assert.equal(ctd.lists, before + 1);
  view.close();
});

test('events mark containers dirty: the next read refetches them (background or on read)', async () => {
  const ctd = new FakeContainerd();
  ctd.add('a', 'RUNNING');
  ctd.add('b', 'RUNNING');
  const view = await liveView(ctd, { flushDelayMs: 10_000 });
  const lists = ctd.lists;
  // changed behind ckptd's back (ctr task kill): the event arrives, the read follows at once
  ctd.setTask('a', 'STOPPED');
  view.envelope(ev('/tasks/exit', { container_id: 'a', id: 'a', exit_status: 137 }));
  assert.deepEqual(await states(view), { a: 'STOPPED', b: 'RUNNING' });
  assert.equal(ctd.gets, 1, 'only the changed container is refetched');
  assert.equal(ctd.lists, lists);
  // removed (ctr container rm)
  ctd.containers.delete('b');
  ctd.tasks.delete('b');
  view.envelope(ev('/containers/delete', { id: 'b' }));
  assert.deepEqual(await states(view), { a: 'STOPPED' });
  // created by another client
  ctd.add('c');
  view.envelope(ev('/containers/create', { id: 'c' }));
  assert.deepEqual(await states(view), { a: 'STOPPED', c: 'none' });
  // a clean view answers without asking
  const gets = ctd.gets;
  await states(view);
  assert.equal(ctd.gets, gets);
  view.close();
});

test('background refetch after an event: reads find the container clean', async () => {
  const ctd = new FakeContainerd();
  ctd.add('a', 'RUNNING');
  const view = await liveView(ctd, { flushDelayMs: 1 });
  ctd.setTask('a', 'PAUSED');
  view.envelope(ev('/tasks/paused', { container_id: 'a' }));
  await tick(20);
  assert.equal(ctd.gets, 1);
  assert.deepEqual(await states(view), { a: 'PAUSED' });
  assert.equal(ctd.gets, 1, 'the read did not need another fetch');
  view.close();
});

test('a change noticed while a fetch is in flight is not lost (the older answer stays dirty)', async () => {
  const ctd = new FakeContainerd();
  ctd.add('a', 'RUNNING');
  const view = await liveView(ctd, { flushDelayMs: 10_000 });
  view.invalidate('a');
  let release!: () => void;
  ctd.gate = new Promise((r) => (release = r));
  const first = view.snapshot(); // fetch #1 reads RUNNING, then waits
  await tick(1);
  ctd.setTask('a', 'STOPPED');
  view.invalidate('a'); // noticed after fetch #1 started
  ctd.gate = undefined;
  release();
  await first;
  assert.deepEqual(await states(view), { a: 'STOPPED' }, 'the next read refetched');
  view.close();
});

test('an older fetch answering last does not overwrite newer data (no resurrection)', async () => {
  const ctd = new FakeContainerd();
  ctd.add('a', 'RUNNING');
  const view = await liveView(ctd, { flushDelayMs: 10_000 });
  view.invalidate('a');
  let release!: () => void;
  ctd.gate = new Promise((r) => (release = r));
  const slow = view.snapshot(); // sees 'a' present, held
  await tick(1);
  ctd.gate = undefined;
  ctd.containers.delete('a');
  ctd.tasks.delete('a');
  view.invalidate('a');
  assert.deepEqual(await states(view), {}, 'a newer fetch: gone');
  release();
  await slow;
  assert.deepEqual(await states(view), {}, 'the older answer arriving later is dropped');
  view.close();
});

test('many dirty containers are refetched with one full list', async () => {
  const ctd = new FakeContainerd();
  for (let i = 0; i < 40; i++) ctd.add(`c${i}`, 'RUNNING');
  const view = await liveView(ctd, { flushDelayMs: 10_000, bulkThreshold: 16 });
  const lists = ctd.lists;
  for (let i = 0; i < 40; i++) {
    ctd.setTask(`c${i}`, 'STOPPED');
    view.envelope(ev('/tasks/exit', { container_id: `c${i}`, id: `c${i}` }));
  }
  const s = await states(view);
  assert.equal(Object.values(s).filter((x) => x === 'STOPPED').length, 40);
  assert.equal(ctd.lists, lists + 1);
  assert.equal(ctd.gets, 0);
  view.close();
});

test('periodic resync corrects a change whose event was lost, within resyncMs', async () => {
  const ctd = new FakeContainerd();
  ctd.add('a', 'RUNNING');
  const view = await liveView(ctd, { resyncMs: 30 });
  ctd.setTask('a', 'STOPPED'); // no event
  assert.deepEqual(await states(view), { a: 'RUNNING' }, 'memory answers until the resync');
  await tick(120);
  assert.deepEqual(await states(view), { a: 'STOPPED' });
  assert.ok(view.stats.corrections >= 1);
  view.close();
});

test('a reconcile started before a gap does not make the view live', async () => {
  const ctd = new FakeContainerd();
  ctd.add('a', 'RUNNING');
  let release!: () => void;
  ctd.gate = new Promise((r) => (release = r));
  const view = new ContainerView({ source: ctd, settleMs: 0, resyncMs: 0 });
  view.subscribed();
  await tick(5); // reconcile in flight
  view.gap();
  ctd.gate = undefined;
  release();
  await tick(5);
  assert.equal(view.live, false);
  view.subscribed();
  await tick(5);
  assert.equal(view.live, true);
  view.close();
});

test('watchMutations: a call of ckptd marks its container dirty before and after', async () => {
  const calls: string[] = [];
  const client = {
    tasks: Object.fromEntries(
      ['create', 'start', 'delete', 'kill', 'pause', 'resume', 'checkpoint', 'update'].map((m) => [
        m,
        async (a: unknown) => {
          calls.push(`${m}:${typeof a === 'string' ? a : JSON.stringify(a)}`);
          await tick(1);
        },
      ]),
    ),
    containers: Object.fromEntries(
      ['create', 'update', 'delete'].map((m) => [
        m,
        async (a: unknown) => {
          calls.push(`c.${m}`);
          return a;
        },
      ]),
    ),
  } as unknown as ContainerdClient;
  const marks: string[] = [];
  watchMutations(client, { invalidate: (id) => marks.push(id) });
  await client.tasks.start('x');
  await client.tasks.create({ container_id: 'y' } as never);
  await client.containers.delete('z');
  await client.containers.update({ id: 'w' } as never);
  assert.deepEqual(marks, ['x', 'x', 'y', 'y', 'z', 'z', 'w', 'w']);
  assert.equal(calls.length, 4);
});

test('snapshot(id): an exact known ID answers that container alone, refetched when dirty', async () => {
  const ctd = new FakeContainerd();
  ctd.add('a', 'RUNNING');
  ctd.add('b', 'RUNNING');
  const view = await liveView(ctd, { flushDelayMs: 10_000 });
  assert.deepEqual(
    (await view.snapshot(undefined, 'a')).map((e) => e.container.id),
    ['a'],
  );
  ctd.setTask('a', 'STOPPED');
  view.envelope(ev('/tasks/exit', { container_id: 'a', id: 'a' }));
  const [e] = await view.snapshot(undefined, 'a');
  assert.equal(e?.task?.status, 'STOPPED');
  // gone: the full list (the caller's lookup then answers 404 or a name match)
  ctd.containers.delete('a');
  view.envelope(ev('/containers/delete', { id: 'a' }));
  assert.deepEqual(
    (await view.snapshot(undefined, 'a')).map((x) => x.container.id),
    ['b'],
  );
  // not an ID (a name, a prefix): every container
  assert.equal((await view.snapshot(undefined, 'some-name')).length, 1);
  view.close();
});
