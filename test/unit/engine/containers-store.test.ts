import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Container, TaskProcess } from '../../../src/containerd/index.js';
import {
  ContainerStore,
  type ContainerdStorePort,
  type ContainerRecord,
  type RunState,
} from '../../../src/engine/containers/index.js';
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
} from '../../../src/errors/index.js';

const A = 'a'.repeat(60) + '1111';
const B = 'a'.repeat(60) + '2222';
const C = 'c'.repeat(64);
const F = 'f'.repeat(64);

/** FakeContainerd is an in-memory ContainerdStorePort: containers and tasks by ID. */
class FakeContainerd implements ContainerdStorePort {
  readonly ctrs = new Map<string, Container>();
  readonly tsks = new Map<string, TaskProcess>();
  down = false;

  add(id: string, labels: Record<string, string> = {}, task?: string): void {
    this.ctrs.set(id, {
      id,
      labels,
      image: 'busybox',
      snapshotter: 'overlayfs',
      snapshot_key: id,
    } as Container);
    if (task !== undefined)
      this.tsks.set(id, { id, container_id: id, status: task, pid: 42 } as unknown as TaskProcess);
  }

  #up(): void {
    if (this.down) throw new UnavailableError('containerd is not answering');
  }

  containers = {
    list: async (): Promise<Container[]> => {
      this.#up();
      return [...this.ctrs.values()];
    },
    get: async (id: string): Promise<Container> => {
      this.#up();
      const c = this.ctrs.get(id);
      if (!c) throw new NotFoundError(`container ${id} not found`);
      return c;
    },
  };

  tasks = {
    list: async (): Promise<TaskProcess[]> => {
      this.#up();
      return [...this.tsks.values()];
    },
    get: async (id: string): Promise<TaskProcess> => {
      this.#up();
      const t = this.tsks.get(id);
      if (!t) throw new NotFoundError(`task ${id} not found`);
      return t;
    },
  };
}

function record(id: string, name: string, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    Id: id,
    Name: name,
    Created: '2026-01-01T00:00:00.000Z',
    Path: 'sh',
    Args: [],
    Config: { Image: 'busybox', Tty: true, OpenStdin: false, Labels: {} },
    HostConfig: { NetworkMode: 'none' },
    Image: 'sha256:0',
    Driver: 'overlayfs',
    Platform: 'linux',
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    ...extra,
  } as ContainerRecord;
}

const idle: RunState = {
  StartedAt: '0001-01-01T00:00:00Z',
  FinishedAt: '0001-01-01T00:00:00Z',
  ExitCode: 0,
  Error: '',
  Running: false,
};

async function withStore(
  fn: (store: ContainerStore, ctd: FakeContainerd, dataRoot: string) => Promise<void>,
): Promise<void> {
  const dataRoot = await mkdtemp(join(tmpdir(), 'ckptd-store-'));
  try {
    const ctd = new FakeContainerd();
    await fn(new ContainerStore({ containerd: ctd, dataRoot, snapshotter: 'overlayfs' }), ctd, dataRoot);
  } finally {
    await rm(dataRoot, { recursive: true, force: true });
  }
}

async function writeRecord(dataRoot: string, r: ContainerRecord, state: RunState = idle): Promise<void> {
  const dir = join(dataRoot, 'containers', r.Id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(r));
  await writeFile(join(dir, 'state.json'), JSON.stringify(state));
}

test('find resolves a full ID, a name, a /name and a unique ID prefix; an unknown ref is 404', async () => {
  await withStore(async (store, ctd, dataRoot) => {
    await writeRecord(dataRoot, record(A, 'web'));
    await store.load();
    ctd.add(A, { 'ckptd/name': 'web' }, 'RUNNING');
    ctd.add(C, { 'ckptd/name': 'foreign' }); // another client's container: named by its label
    assert.equal((await store.find(A)).id, A);
    assert.equal((await store.find('web')).id, A);
    assert.equal((await store.find('/web')).id, A);
    assert.equal((await store.find('ccc')).id, C);
    assert.equal((await store.find('foreign')).local, undefined);
    await assert.rejects(
      store.find('nothing'),
      (e: Error) => e instanceof NotFoundError && /No such container: nothing/.test(e.message),
    );
    const v = await store.lookup('web');
    assert.deepEqual(v, {
      id: A,
      tty: true,
      openStdin: false,
      stdinOnce: false,
      running: true,
      paused: false,
    });
  });
});

test('find refuses a prefix two containers share (400), and a full ID still resolves', async () => {
  await withStore(async (store, ctd) => {
    ctd.add(A);
    ctd.add(B);
    await assert.rejects(
      store.find('aaaa'),
      (e: Error) =>
        e instanceof InvalidArgumentError && /Multiple IDs found with provided prefix: aaaa/.test(e.message),
    );
    assert.equal((await store.find(B)).id, B);
  });
});

test('reserveName: a name held by a container or by a create in progress is a 409 until released', async () => {
  await withStore(async (store, ctd, dataRoot) => {
    await writeRecord(dataRoot, record(A, 'web'));
    await store.load();
    ctd.add(A, { 'ckptd/name': 'web' });
    await assert.rejects(
      store.reserveName('web', C),
      (e: Error) =>
        e instanceof ConflictError && e.message.includes(`"/web" is already in use by container "${A}"`),
    );
    assert.equal(await store.reserveName('/db', C), 'db');
    await assert.rejects(store.reserveName('db', F), ConflictError); // a concurrent create of the same name
    await assert.rejects(store.reserveRename(A, 'db'), ConflictError); // and a rename to it
    store.releaseName('db');
    assert.equal(await store.reserveName('db', F), 'db');
    store.releaseName('db');
    await assert.rejects(store.reserveRename(C, 'web'), ConflictError);
    await store.reserveRename(A, 'web2');
    store.releaseName('web2');
    const generated = await store.reserveName(undefined, F);
    assert.match(generated, /^[a-z]+_[a-z]+\d?$/);
    store.releaseName(generated);
    await assert.rejects(store.reserveName('bad name!', F), InvalidArgumentError);
  });
});

test('load skips unreadable records and removes torn writes; reconcile drops vanished containers and keeps the rest', async () => {
  await withStore(async (store, ctd, dataRoot) => {
    await writeRecord(dataRoot, record(A, 'running'), {
      ...idle,
      Running: true,
      StartedAt: '2026-01-01T00:00:01.000Z',
    });
    await writeRecord(dataRoot, record(B, 'vanished'));
    await writeRecord(dataRoot, record(C, 'lost-task'), {
      ...idle,
      Running: true,
      StartedAt: '2026-01-01T00:00:01.000Z',
    });
    await writeFile(join(dataRoot, 'containers', A, '.tmp-state.json'), '{"torn');
    await mkdir(join(dataRoot, 'containers', F), { recursive: true });
    await writeFile(join(dataRoot, 'containers', F, 'config.json'), 'not json');
    const loaded = await store.load();
    assert.deepEqual(loaded.sort(), [A, B, C]);
    assert.deepEqual(await readdir(join(dataRoot, 'containers', A)).then((n) => n.sort()), [
      'config.json',
      'state.json',
    ]);

    ctd.add(A, {}, 'RUNNING');
    ctd.add(C); // its task was deleted behind ckptd's back
    const out = await store.reconcile();
    assert.ok(out);
    assert.deepEqual(out.map((r) => [r.id, r.task?.status]).sort(), [
      [A, 'RUNNING'],
      [C, undefined],
    ]);
    // B is gone from containerd: its record and files are dropped
    assert.equal(store.local(B), undefined);
    await assert.rejects(access(join(dataRoot, 'containers', B)));
    // C believed it ran: it no longer does, on disk too
    assert.equal(store.local(C)?.state.Running, false);
    const saved = JSON.parse(
      await readFile(join(dataRoot, 'containers', C, 'state.json'), 'utf8'),
    ) as RunState;
    assert.equal(saved.Running, false);
    assert.equal(store.local(A)?.state.Running, true);
  });
});

test('reconcile keeps every record when containerd cannot be asked yet', async () => {
  await withStore(async (store, ctd, dataRoot) => {
    await writeRecord(dataRoot, record(A, 'web'));
    await store.load();
    ctd.down = true;
    assert.equal(await store.reconcile(), undefined);
    assert.equal(store.local(A)?.record.Name, 'web');
  });
});

test('a container added after load is kept, saved atomically, seen by volumeUsers, and forgotten', async () => {
  await withStore(async (store, ctd, dataRoot) => {
    await store.load();
    const r = record(A, 'vol', {
      MountPoints: [
        { Name: 'data', Destination: '/data' } as NonNullable<ContainerRecord['MountPoints']>[number],
      ],
    });
    await mkdir(store.dir(A), { recursive: true });
    store.add(A, { record: r, state: idle, removing: false });
    await store.saveRecord(A);
    await store.saveState(A);
    ctd.add(A);
    assert.deepEqual(JSON.parse(await readFile(join(dataRoot, 'containers', A, 'config.json'), 'utf8')), r);
    assert.deepEqual([...store.volumeUsers()], [['data', [A]]]);
    assert.deepEqual(
      (await store.volumeMountPoints('vol')).map((p) => p.Name),
      ['data'],
    );
    store.forget(A);
    assert.equal(store.local(A), undefined);
    assert.equal((await store.find(A)).name, A); // no record, no label: named by its ID
  });
});
