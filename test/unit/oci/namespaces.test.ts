import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../../src/errors/index.js';
import {
  applyNamespaceModes,
  checkNamespaceModes,
  joinNamespaces,
  type NamespaceModes,
} from '../../../src/oci/namespaces.js';
import { buildRuntimeSpec } from '../../../src/oci/runtime-spec.js';

const ID = `0123456789ab${'c'.repeat(52)}`;
const base = () =>
  buildRuntimeSpec({ id: ID, config: { Cmd: ['sh'] }, networkMode: 'none', cgroupVersion: 1 });
const modes = (over: Partial<NamespaceModes> = {}): NamespaceModes => ({
  IpcMode: 'private',
  PidMode: '',
  UTSMode: '',
  CgroupnsMode: 'host',
  ...over,
});
const types = (s: ReturnType<typeof base>) => s.linux.namespaces.map((n) => n.type).sort();
const shm = (s: ReturnType<typeof base>) => s.mounts.filter((m) => m.destination === '/dev/shm');

describe('checkNamespaceModes', () => {
  it('fills dockerd defaults: IpcMode private, CgroupnsMode host on cgroup v1 and private on v2', () => {
    assert.deepEqual(checkNamespaceModes({}, {}, 1), modes());
    assert.equal(checkNamespaceModes({}, {}, 2).CgroupnsMode, 'private');
    assert.equal(checkNamespaceModes({ CgroupnsMode: 'host' }, {}, 2).CgroupnsMode, 'host');
  });

  it('accepts every mode dockerd accepts', () => {
    for (const IpcMode of ['none', 'private', 'shareable', 'host', 'container:abc'])
      assert.equal(checkNamespaceModes({ IpcMode }, {}, 1).IpcMode, IpcMode);
    for (const PidMode of ['', 'host', 'container:abc'])
      assert.equal(checkNamespaceModes({ PidMode }, {}, 1).PidMode, PidMode);
    assert.equal(checkNamespaceModes({ UTSMode: 'host' }, {}, 1).UTSMode, 'host');
  });

  it('refuses unknown modes with dockerd wording, naming the field', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ IpcMode: 'bogus' }, /^HostConfig\.IpcMode: invalid IPC mode: bogus$/],
      [{ IpcMode: 'container:' }, /invalid IPC mode: container:$/],
      [{ PidMode: 'bogus' }, /^HostConfig\.PidMode: invalid PID mode: bogus$/],
      [{ PidMode: 'container:a:b' }, /invalid PID mode/],
      [{ UTSMode: 'private' }, /^HostConfig\.UTSMode: invalid UTS mode: private$/],
      [{ CgroupnsMode: 'x' }, /^HostConfig\.CgroupnsMode: invalid cgroup namespace mode: x$/],
      [{ ShmSize: -1 }, /^HostConfig\.ShmSize: SHM size can not be less than 0$/],
      [{ IpcMode: 5 }, /HostConfig\.IpcMode: must be a string/],
    ];
    for (const [hc, re] of cases) {
      assert.throws(
        () => checkNamespaceModes(hc, {}, 1),
        (e: unknown) => e instanceof InvalidArgumentError && re.test(e.message),
      );
    }
  });

  it('refuses a hostname with UTSMode host (dockerd: conflicting options: hostname and the UTS mode)', () => {
    assert.throws(
      () => checkNamespaceModes({ UTSMode: 'host' }, { Hostname: 'x' }, 1),
      /conflicting options: hostname and the UTS mode/,
    );
    assert.throws(() => checkNamespaceModes({ UTSMode: 'host' }, { Domainname: 'x' }, 1), /domainname/);
  });
});

describe('applyNamespaceModes', () => {
  it('keeps the defaults for private modes (cgroup v1: no cgroup namespace)', () => {
    const s = base();
    applyNamespaceModes(s, modes());
    assert.deepEqual(types(s), ['ipc', 'mount', 'network', 'pid', 'uts']);
    assert.equal(shm(s)[0]?.type, 'tmpfs');
  });

  it('host modes drop the namespace; UTS host clears the hostname; IPC host binds the host /dev/shm', () => {
    const s = base();
    applyNamespaceModes(s, modes({ IpcMode: 'host', PidMode: 'host', UTSMode: 'host' }));
    assert.deepEqual(types(s), ['mount', 'network']);
    assert.equal(s.hostname, '');
    assert.deepEqual(shm(s), [
      { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] },
    ]);
  });

  it('IpcMode none has an IPC namespace and no /dev/shm; shareable binds its host tmpfs', () => {
    const none = base();
    applyNamespaceModes(none, modes({ IpcMode: 'none' }));
    assert.ok(types(none).includes('ipc'));
    assert.deepEqual(shm(none), []);
    const sh = base();
    applyNamespaceModes(sh, modes({ IpcMode: 'shareable' }), '/data/c/mounts/shm');
    assert.equal(shm(sh)[0]?.source, '/data/c/mounts/shm');
    assert.throws(() => applyNamespaceModes(base(), modes({ IpcMode: 'shareable' })), InvalidArgumentError);
  });

  it('CgroupnsMode private adds a cgroup namespace', () => {
    const s = base();
    applyNamespaceModes(s, modes({ CgroupnsMode: 'private' }));
    assert.ok(types(s).includes('cgroup'));
  });

  it('leaves a /dev/shm the user mounted alone', () => {
    const s = buildRuntimeSpec({
      id: ID,
      config: { Cmd: ['sh'] },
      networkMode: 'none',
      hostConfig: { Tmpfs: { '/dev/shm': 'size=1m' } },
    });
    applyNamespaceModes(s, modes({ IpcMode: 'none' }));
    assert.equal(shm(s).length, 1);
    assert.equal(shm(s)[0]?.source, 'tmpfs');
  });
});

describe('joinNamespaces', () => {
  it("points ipc and pid at the donor's /proc/<pid>/ns and binds its /dev/shm, idempotently", () => {
    const s = base();
    applyNamespaceModes(s, modes({ IpcMode: 'container:x', PidMode: 'container:y' }));
    const j1 = joinNamespaces(s, { ipc: { pid: 42, shmPath: '/d/shm', ownShm: true }, pid: { pid: 7 } });
    assert.equal(j1.linux.namespaces.find((n) => n.type === 'ipc')?.path, '/proc/42/ns/ipc');
    assert.equal(j1.linux.namespaces.find((n) => n.type === 'pid')?.path, '/proc/7/ns/pid');
    assert.deepEqual(shm(j1), [
      { destination: '/dev/shm', type: 'bind', source: '/d/shm', options: ['rbind', 'rprivate'] },
    ]);
    assert.equal(
      s.linux.namespaces.find((n) => n.type === 'ipc')?.path,
      undefined,
      'the input is not changed',
    );
    const j2 = joinNamespaces(j1, { ipc: { pid: 43, shmPath: '/e/shm', ownShm: true } });
    assert.equal(j2.linux.namespaces.filter((n) => n.type === 'ipc').length, 1);
    assert.equal(j2.linux.namespaces.find((n) => n.type === 'ipc')?.path, '/proc/43/ns/ipc');
    assert.equal(shm(j2)[0]?.source, '/e/shm');
  });

  it("keeps the user's /dev/shm when ownShm is false", () => {
    const s = base();
    const j = joinNamespaces(s, { ipc: { pid: 42, shmPath: '/d/shm', ownShm: false } });
    assert.equal(shm(j)[0]?.type, 'tmpfs');
  });
});
