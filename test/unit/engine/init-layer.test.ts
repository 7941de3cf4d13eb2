import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  hasInitLayer,
  restoreRootfsMounts,
  squashMounts,
  writeInitLayer,
} from '../../../src/engine/init-layer.js';
import { DOCKERD_INIT_ENTRIES, initLayerEntries } from '../../../src/oci/init-layer.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ckptd-init-unit-'));
  dirs.push(d);
  return d;
}

test("writeInitLayer makes dockerd's entries with mode 0755 in an empty root", async () => {
  const root = await tmp();
  await writeInitLayer(root, DOCKERD_INIT_ENTRIES);
  for (const p of ['dev/pts', 'dev/shm', 'proc', 'sys', 'etc', 'dev']) {
    const st = await lstat(join(root, p));
    assert.ok(st.isDirectory(), p);
    assert.equal(st.mode & 0o7777, 0o755, p);
  }
  for (const p of ['.dockerenv', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'dev/console']) {
    const st = await lstat(join(root, p));
    assert.ok(st.isFile() && st.size === 0, p);
    assert.equal(st.mode & 0o7777, 0o755, p);
  }
  assert.equal(await readlink(join(root, 'etc/mtab')), '/proc/mounts');
});

test("writeInitLayer replaces the image's files as dockerd does and keeps its directories", async () => {
  const root = await tmp();
  await mkdir(join(root, 'etc'), { mode: 0o700 });
  await writeFile(join(root, 'etc/hosts'), '1.2.3.4 image\n');
  await writeFile(join(root, 'etc/mtab'), 'a file\n');
  await mkdir(join(root, 'proc'), { mode: 0o555 });
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await writeInitLayer(root, DOCKERD_INIT_ENTRIES);
  assert.equal(await readFile(join(root, 'etc/hosts'), 'utf8'), '');
  assert.equal(await readlink(join(root, 'etc/mtab')), '/proc/mounts');
  assert.equal((await lstat(join(root, 'proc'))).mode & 0o7777, 0o555, 'an existing dir is left as it is');
  assert.equal((await lstat(join(root, 'etc'))).mode & 0o7777, 0o700);
  assert.match(await readFile(join(root, 'etc/passwd'), 'utf8'), /^root/);
});

test('writeInitLayer never writes through a symlink of the image to the host', async () => {
  const root = await tmp();
  const outside = await tmp();
  await symlink(outside, join(root, 'etc')); // absolute: the host's dir if followed
  await symlink(outside, join(root, 'run'));
  await writeInitLayer(
    root,
    initLayerEntries([{ destination: '/run/app', type: 'tmpfs', source: 'tmpfs', options: [] }], () => true),
  );
  assert.deepEqual(await readdir(outside), [], 'nothing written outside the root');
  assert.ok(
    (await lstat(join(root, 'etc'))).isDirectory(),
    'dockerd unlinks a symlinked /etc and makes a dir',
  );
  assert.ok((await lstat(join(root, 'etc/hosts'))).isFile());
  // /run -> <outside> resolves inside the root, as runc's securejoin: <root><outside>/app
  await mkdir(join(root, outside), { recursive: true });
  await writeInitLayer(
    root,
    initLayerEntries([{ destination: '/run/app', type: 'tmpfs', source: 'tmpfs', options: [] }], () => true),
  );
  assert.ok((await lstat(join(root, outside, 'app'))).isDirectory());
  assert.deepEqual(await readdir(outside), []);
});

test('writeInitLayer stubs mount points where runc would make them, missing parents included', async () => {
  const root = await tmp();
  await mkdir(join(root, 'run'));
  await mkdir(join(root, 'var'));
  await symlink('../run', join(root, 'var/run'));
  await writeFile(join(root, 'existing'), 'x');
  await writeInitLayer(
    root,
    initLayerEntries(
      [
        { destination: '/var/run/sock', type: 'bind', source: '/h/sock', options: ['rbind'] },
        { destination: '/deep/a/b', type: 'bind', source: '/h/dir', options: ['rbind'] },
        { destination: '/existing', type: 'bind', source: '/h/dir', options: ['rbind'] },
        { destination: '/existing/x', type: 'tmpfs', source: 'tmpfs', options: [] },
      ],
      (s) => s === '/h/dir',
    ),
  );
  assert.ok((await lstat(join(root, 'run/sock'))).isFile());
  assert.ok((await lstat(join(root, 'var/run'))).isSymbolicLink());
  assert.ok((await lstat(join(root, 'deep/a/b'))).isDirectory());
  assert.equal((await lstat(join(root, 'deep/a'))).mode & 0o7777, 0o755);
  assert.equal(await readFile(join(root, 'existing'), 'utf8'), 'x', 'an existing entry is never replaced');
});

test('writeInitLayer follows a symlink to / as the root itself', async () => {
  const root = await tmp();
  await symlink('/', join(root, 'up'));
  await writeInitLayer(
    root,
    initLayerEntries([{ destination: '/up/mnt', type: 'tmpfs', source: 'tmpfs', options: [] }], () => true),
  );
  assert.ok((await lstat(join(root, 'mnt'))).isDirectory());
});

const overlay = {
  type: 'overlay',
  source: 'overlay',
  target: '',
  options: ['index=off', 'workdir=/s/3/work', 'upperdir=/s/3/fs', 'lowerdir=/s/2/fs:/s/1/fs'],
};

test('restoreRootfsMounts makes the rootfs read-only only for the restore of a read-only container', () => {
  assert.deepEqual(restoreRootfsMounts([overlay], false, true), [overlay]);
  assert.deepEqual(restoreRootfsMounts([overlay], true, false), [overlay]);
  const ro = restoreRootfsMounts([overlay], true, true);
  assert.equal(ro[0]?.options.at(-1), 'ro');
  assert.ok(ro[0]?.options.includes('upperdir=/s/3/fs'));
});

test('squashMounts drops the init layer (the top lowerdir) and nothing for a container without one', () => {
  assert.deepEqual(squashMounts([overlay], false), [overlay]);
  assert.deepEqual(squashMounts([overlay], true)[0]?.options, [
    'index=off',
    'workdir=/s/3/work',
    'upperdir=/s/3/fs',
    'lowerdir=/s/1/fs',
  ]);
  const onlyInit = { ...overlay, options: ['workdir=/s/3/work', 'upperdir=/s/3/fs', 'lowerdir=/s/2/fs'] };
  assert.deepEqual(squashMounts([onlyInit], true), [
    { ...onlyInit, type: 'bind', source: '/s/3/fs', options: ['rbind', 'ro'] },
  ]);
});

test('hasInitLayer recognises the init snapshot as the parent', () => {
  assert.ok(hasInitLayer('abc', 'abc-init'));
  assert.ok(!hasInitLayer('abc', 'sha256:0123'));
});
