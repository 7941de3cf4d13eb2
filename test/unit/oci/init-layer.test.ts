import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DOCKERD_INIT_ENTRIES,
  initLayerEntries,
  initLayerKey,
  initLayerName,
  type InitMount,
} from '../../../src/oci/init-layer.js';

const base: InitMount[] = [
  { destination: '/proc', type: 'proc', source: 'proc', options: [] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: [] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: [] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['ro'] },
  { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: [] },
  { destination: '/etc/hosts', type: 'bind', source: '/data/c/hosts', options: ['rbind', 'rprivate'] },
];

test("DOCKERD_INIT_ENTRIES is dockerd 20.10's init layer: mount points, .dockerenv and /etc/mtab", () => {
  const byPath = Object.fromEntries(DOCKERD_INIT_ENTRIES.map((e) => [e.path, e.kind]));
  assert.deepEqual(byPath, {
    '/dev/pts': 'dir',
    '/dev/shm': 'dir',
    '/proc': 'dir',
    '/sys': 'dir',
    '/.dockerenv': 'file',
    '/etc/resolv.conf': 'file',
    '/etc/hosts': 'file',
    '/etc/hostname': 'file',
    '/dev/console': 'file',
    '/etc/mtab': 'symlink',
  });
  assert.equal(DOCKERD_INIT_ENTRIES.find((e) => e.path === '/etc/mtab')?.target, '/proc/mounts');
  assert.ok(DOCKERD_INIT_ENTRIES.every((e) => e.how === 'replace'));
});

test('initLayerEntries adds no stub for the default mounts: dockerd covers them or they lie in another mount', () => {
  const entries = initLayerEntries(base, () => false);
  const stubs = entries.filter((e) => e.how === 'stub').map((e) => e.path);
  // /dev is made anyway as the parent of /dev/pts; /dev/mqueue and /sys/fs/cgroup live in tmpfs and sysfs
  assert.deepEqual(stubs, ['/dev']);
});

test('initLayerEntries stubs bind and tmpfs targets: a file for a file source, a dir otherwise', () => {
  const entries = initLayerEntries(
    [
      ...base,
      { destination: '/data/in', type: 'bind', source: '/host/dir', options: ['rbind'] },
      { destination: '/cfg/app.conf', type: 'none', source: '/host/app.conf', options: ['bind', 'ro'] },
      { destination: '/run/t', type: 'tmpfs', source: 'tmpfs', options: [] },
      { destination: '/sbin/docker-init', type: 'bind', source: '/usr/bin/docker-init', options: ['bind'] },
    ],
    (s) => s === '/host/dir',
  );
  const stubs = entries.filter((e) => e.how === 'stub').map((e) => [e.path, e.kind]);
  assert.deepEqual(stubs, [
    ['/dev', 'dir'],
    ['/data/in', 'dir'],
    ['/cfg/app.conf', 'file'],
    ['/run/t', 'dir'],
    ['/sbin/docker-init', 'file'],
  ]);
});

test('initLayerEntries skips a target below an earlier mount (made inside it), not one below a later mount', () => {
  const entries = initLayerEntries(
    [
      { destination: '/a/b', type: 'tmpfs', source: 'tmpfs', options: [] },
      { destination: '/a', type: 'bind', source: '/h/a', options: ['rbind'] },
      { destination: '/a/c', type: 'tmpfs', source: 'tmpfs', options: [] },
      { destination: '/x/../a/b/', type: 'tmpfs', source: 'tmpfs', options: [] },
      { destination: '/y/', type: 'tmpfs', source: 'tmpfs', options: [] },
      { destination: '/y', type: 'tmpfs', source: 'tmpfs', options: [] },
    ],
    () => true,
  );
  assert.deepEqual(
    entries.filter((e) => e.how === 'stub').map((e) => e.path),
    ['/a/b', '/a', '/y'],
  );
});

test('initLayerName and initLayerKey derive from the container ID (dockerd: <id>-init)', () => {
  assert.equal(initLayerName('abc'), 'abc-init');
  assert.notEqual(initLayerKey('abc'), initLayerName('abc'));
  assert.ok(initLayerKey('abc').startsWith('abc-init'));
});

test('a tmpfs mount point stub carries the tmpfs mode (runc chmods the tmpfs to an existing mount point mode)', () => {
  const entries = initLayerEntries(
    [
      {
        destination: '/scratch',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'size=1m', 'mode=1770'],
      },
      { destination: '/t2', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] },
      { destination: '/b', type: 'bind', source: '/x', options: ['rbind'] },
    ],
    () => true,
  );
  const byPath = new Map(entries.map((e) => [e.path, e]));
  assert.equal(byPath.get('/scratch')?.mode, 0o1770);
  assert.equal(byPath.get('/t2')?.mode, 0o1777);
  assert.equal(byPath.get('/b')?.mode, undefined);
});
