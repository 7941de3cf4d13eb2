import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../../src/errors/index.js';
import {
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  buildRuntimeSpec,
  execUserFromFiles,
  parseBind,
  userResolverFromFiles,
  type RuntimeSpecInput,
} from '../../../src/oci/runtime-spec.js';

const ID = `0123456789ab${'c'.repeat(52)}`;
const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  '# a comment',
  'app:x:1000:1000:App:/home/app:/bin/sh',
].join('\n');
const GROUP = [
  'root:x:0:root',
  'bin:x:1:root,daemon',
  'wheel:x:10:root,app',
  'app:x:1000:',
  'staff:x:50:',
].join('\n');

function spec(over: Partial<RuntimeSpecInput> = {}) {
  return buildRuntimeSpec({ id: ID, config: { Cmd: ['sh'] }, networkMode: 'none', ...over });
}

describe('buildRuntimeSpec: process', () => {
  it('resolves args from image and request as Docker does', () => {
    const image = { Entrypoint: ['/entry'], Cmd: ['def'] };
    assert.deepEqual(spec({ config: {}, image }).process.args, ['/entry', 'def']);
    assert.deepEqual(spec({ config: { Cmd: ['x'] }, image }).process.args, ['/entry', 'x']);
    assert.deepEqual(spec({ config: { Entrypoint: ['/e'] }, image }).process.args, ['/e']);
    assert.deepEqual(spec({ config: { Entrypoint: [''], Cmd: ['ls'] }, image }).process.args, ['ls']);
  });

  it('fails with no command specified', () => {
    assert.throws(() => spec({ config: {}, image: {} }), {
      name: 'InvalidArgumentError',
      message: 'no command specified',
    });
    assert.throws(
      () => spec({ config: { Entrypoint: [''] }, image: { Entrypoint: ['/e'] } }),
      /no command specified/,
    );
  });

  it('builds the environment: PATH default, HOSTNAME, TERM with a tty, request over image', () => {
    const s = spec({
      config: { Cmd: ['sh'], Env: ['B=req'], Tty: true },
      image: { Env: ['A=img', 'B=img'] },
    });
    assert.deepEqual(s.process.env, [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=0123456789ab',
      'TERM=xterm',
      'B=req',
      'A=img',
    ]);
    assert.equal(s.process.terminal, true);
    assert.ok(!spec().process.env.includes('TERM=xterm'));
    assert.equal(spec().process.terminal, false);
  });

  it('keeps an image PATH', () => {
    assert.equal(
      spec({ config: {}, image: { Cmd: ['sh'], Env: ['PATH=/opt/bin'] } }).process.env[0],
      'PATH=/opt/bin',
    );
  });

  it('defaults cwd to / and takes WorkingDir from request or image', () => {
    assert.equal(spec().process.cwd, '/');
    assert.equal(spec({ config: {}, image: { Cmd: ['sh'], WorkingDir: '/srv/' } }).process.cwd, '/srv');
    assert.equal(
      spec({ config: { Cmd: ['sh'], WorkingDir: '/w' }, image: { WorkingDir: '/srv' } }).process.cwd,
      '/w',
    );
  });

  it('uses the first 12 characters of the ID as hostname unless Config.Hostname is set', () => {
    assert.equal(spec().hostname, '0123456789ab');
    assert.equal(spec({ config: { Cmd: ['sh'], Hostname: 'web' } }).hostname, 'web');
  });

  it('gives Docker default capabilities in bounding, effective and permitted only', () => {
    const caps = spec().process.capabilities as Record<string, unknown>;
    assert.deepEqual(caps.bounding, DEFAULT_CAPABILITIES);
    assert.deepEqual(caps.effective, DEFAULT_CAPABILITIES);
    assert.deepEqual(caps.permitted, DEFAULT_CAPABILITIES);
    assert.equal(caps.inheritable, undefined);
    assert.equal(caps.ambient, undefined);
    assert.equal(DEFAULT_CAPABILITIES.length, 14);
  });

  it('sets RLIMIT_NOFILE and leaves noNewPrivileges off', () => {
    const p = spec().process;
    assert.deepEqual(p.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }]);
    assert.equal(p.noNewPrivileges, false);
  });

  it('rejects a malformed container ID', () => {
    assert.throws(
      () => buildRuntimeSpec({ id: 'abc', config: { Cmd: ['x'] }, networkMode: 'none' }),
      InvalidArgumentError,
    );
  });
});

describe('buildRuntimeSpec: user', () => {
  it('runs as root by default', () => {
    assert.deepEqual(spec().process.user, { uid: 0, gid: 0, additionalGids: [0] });
  });

  it('accepts numeric uid and uid:gid without a passwd file', () => {
    assert.deepEqual(spec({ config: { Cmd: ['x'], User: '1000' } }).process.user, {
      uid: 1000,
      gid: 0,
      additionalGids: [0],
    });
    assert.deepEqual(spec({ config: { Cmd: ['x'], User: '1000:50' } }).process.user, {
      uid: 1000,
      gid: 50,
      additionalGids: [50],
    });
  });

  it('needs the passwd file for a name, with runc wording', () => {
    assert.throws(() => spec({ config: { Cmd: ['x'], User: 'app' } }), {
      name: 'InvalidArgumentError',
      message: 'unable to find user app: no matching entries in passwd file',
    });
  });

  it('resolves names and supplementary groups through resolveUser', () => {
    const resolveUser = userResolverFromFiles({ passwd: PASSWD, group: GROUP });
    assert.deepEqual(spec({ config: { Cmd: ['x'], User: 'app' }, resolveUser }).process.user, {
      uid: 1000,
      gid: 1000,
      additionalGids: [1000, 10],
    });
    assert.deepEqual(spec({ resolveUser }).process.user, { uid: 0, gid: 0, additionalGids: [0, 1, 10] });
  });

  it('turns an undefined resolver answer into the passwd error', () => {
    assert.throws(() => spec({ config: { Cmd: ['x'], User: 'ghost:staff' }, resolveUser: () => undefined }), {
      message: 'unable to find user ghost: no matching entries in passwd file',
    });
  });
});

describe('execUserFromFiles', () => {
  it('matches a numeric uid to its passwd entry', () => {
    assert.deepEqual(execUserFromFiles('1000', PASSWD, GROUP), {
      uid: 1000,
      gid: 1000,
      additionalGids: [1000, 10],
    });
  });

  it('uses an explicit group and then skips supplementary groups', () => {
    assert.deepEqual(execUserFromFiles('app:staff', PASSWD, GROUP), {
      uid: 1000,
      gid: 50,
      additionalGids: [50],
    });
    assert.deepEqual(execUserFromFiles('app:77', PASSWD, GROUP), {
      uid: 1000,
      gid: 77,
      additionalGids: [77],
    });
  });

  it('reports unknown users and groups as runc does', () => {
    assert.throws(
      () => execUserFromFiles('nobody', PASSWD, GROUP),
      /unable to find user nobody: no matching entries in passwd file/,
    );
    assert.throws(
      () => execUserFromFiles('app:nogroup', PASSWD, GROUP),
      /unable to find group nogroup: no matching entries in group file/,
    );
  });

  it('rejects ids out of range', () => {
    assert.throws(() => execUserFromFiles('4294967296'), /must be in range/);
  });
});

describe('buildRuntimeSpec: root, namespaces, paths', () => {
  it('uses rootfs and honours ReadonlyRootfs', () => {
    assert.deepEqual(spec().root, { path: 'rootfs', readonly: false });
    const s = spec({ hostConfig: { ReadonlyRootfs: true } });
    assert.deepEqual(s.root, { path: 'rootfs', readonly: true });
  });

  it('creates pid, ipc, uts, mount, network and cgroup namespaces', () => {
    assert.deepEqual(
      spec().linux.namespaces.map((n) => n.type),
      ['pid', 'ipc', 'uts', 'mount', 'network', 'cgroup'],
    );
  });

  it('omits the network namespace and network sysctls with host networking', () => {
    const s = spec({ networkMode: 'host' });
    assert.ok(!s.linux.namespaces.some((n) => n.type === 'network'));
    assert.equal(s.linux.sysctl, undefined);
    assert.equal(spec().linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '0');
  });

  it('shares the host cgroup namespace on cgroup v1', () => {
    assert.ok(!spec({ cgroupVersion: 1 }).linux.namespaces.some((n) => n.type === 'cgroup'));
  });

  it('masks and read-only-mounts Docker default paths', () => {
    const l = spec().linux;
    for (const p of ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list']) {
      assert.ok(l.maskedPaths.includes(p), p);
    }
    for (const p of [
      '/proc/timer_stats',
      '/proc/sched_debug',
      '/proc/scsi',
      '/sys/firmware',
      '/sys/devices/virtual/powercap',
    ]) {
      assert.ok(l.maskedPaths.includes(p), p);
    }
    assert.deepEqual(l.maskedPaths, DEFAULT_MASKED_PATHS);
    assert.deepEqual(l.readonlyPaths, [
      '/proc/bus',
      '/proc/fs',
      '/proc/irq',
      '/proc/sys',
      '/proc/sysrq-trigger',
    ]);
    assert.deepEqual(DEFAULT_READONLY_PATHS, l.readonlyPaths);
  });

  it('denies all devices then allows the defaults, keeping linux.devices empty for runc', () => {
    const rules = spec().linux.resources.devices;
    assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
    for (const [major, minor] of [
      [1, 3],
      [1, 5],
      [1, 7],
      [1, 8],
      [1, 9],
      [5, 0],
      [5, 1],
    ]) {
      assert.ok(
        rules.some((r) => r.allow && r.major === major && r.minor === minor),
        `${major}:${minor}`,
      );
    }
    assert.ok(rules.some((r) => r.allow && r.major === 136 && r.minor === undefined));
    assert.deepEqual(spec().linux.devices, []);
  });

  it('derives the cgroups path from the namespace unless given', () => {
    assert.equal(spec({ namespace: 'ckptd' }).linux.cgroupsPath, `/ckptd/${ID}`);
    assert.equal(spec({ cgroupsPath: 'system.slice:ckptd:x' }).linux.cgroupsPath, 'system.slice:ckptd:x');
  });

  it('copies annotations and the console size', () => {
    const s = spec({ annotations: { a: 'b' }, config: { Cmd: ['x'], Tty: true }, consoleSize: [24, 80] });
    assert.deepEqual(s.annotations, { a: 'b' });
    assert.deepEqual(s.process.consoleSize, { height: 24, width: 80 });
  });
});

describe('buildRuntimeSpec: mounts', () => {
  it('has Docker default mounts in order with a 64m /dev/shm', () => {
    const m = spec().mounts;
    assert.deepEqual(
      m.map((x) => x.destination),
      ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm'],
    );
    assert.ok(m.find((x) => x.destination === '/dev/shm')?.options.includes('size=67108864'));
    assert.ok(m.find((x) => x.destination === '/sys')?.options.includes('ro'));
    assert.ok(m.find((x) => x.destination === '/sys/fs/cgroup')?.options.includes('ro'));
    assert.equal(m.find((x) => x.destination === '/dev/pts')?.type, 'devpts');
  });

  it('sizes /dev/shm from ShmSize', () => {
    const shm = spec({ hostConfig: { ShmSize: 1024 } }).mounts.find((x) => x.destination === '/dev/shm');
    assert.ok(shm?.options.includes('size=1024'));
  });

  it('adds binds as rbind with ro and propagation, sorted parents first', () => {
    const m = spec({
      hostConfig: { Binds: ['/h/b:/data/sub:ro', '/h/a:/data', '/h/c:/x:rw,rshared'] },
    }).mounts.slice(7);
    assert.deepEqual(m, [
      { destination: '/data', type: 'bind', source: '/h/a', options: ['rbind', 'rprivate'] },
      { destination: '/x', type: 'bind', source: '/h/c', options: ['rbind', 'rshared'] },
      { destination: '/data/sub', type: 'bind', source: '/h/b', options: ['rbind', 'ro', 'rprivate'] },
    ]);
  });

  it('lets a user mount replace the default mount at the same destination', () => {
    const m = spec({ hostConfig: { Binds: ['/host/shm:/dev/shm'] } }).mounts;
    const shm = m.filter((x) => x.destination === '/dev/shm');
    assert.equal(shm.length, 1);
    assert.equal(shm[0]?.type, 'bind');
  });

  it('bind-mounts the /etc files from caller paths, read-only with a read-only rootfs', () => {
    const etcFiles = { hosts: '/run/c/hosts', hostname: '/run/c/hostname', resolvConf: '/run/c/resolv.conf' };
    const m = spec({ etcFiles }).mounts.slice(7);
    assert.deepEqual(
      m.map((x) => [x.destination, x.source, x.options.join(',')]),
      [
        ['/etc/resolv.conf', '/run/c/resolv.conf', 'rbind,rprivate'],
        ['/etc/hostname', '/run/c/hostname', 'rbind,rprivate'],
        ['/etc/hosts', '/run/c/hosts', 'rbind,rprivate'],
      ],
    );
    const ro = spec({ etcFiles, hostConfig: { ReadonlyRootfs: true } }).mounts.slice(7);
    assert.ok(ro.every((x) => x.options.includes('ro')));
  });

  it('refuses two mounts on one destination', () => {
    assert.throws(() => spec({ hostConfig: { Binds: ['/a:/d', '/b:/d'] } }), /Duplicate mount point: \/d/);
  });
});

describe('parseBind', () => {
  it('parses src:dst and src:dst:mode', () => {
    assert.deepEqual(parseBind('/a:/b'), {
      source: '/a',
      destination: '/b',
      readOnly: false,
      propagation: 'rprivate',
    });
    assert.deepEqual(parseBind('/a/:/b/:ro,z'), {
      source: '/a',
      destination: '/b',
      readOnly: true,
      propagation: 'rprivate',
    });
    assert.equal(parseBind('/a:/b:rslave').propagation, 'rslave');
  });

  it('rejects malformed specifications with Docker wording', () => {
    for (const bad of ['', ':/b', '/a:/b:ro:x', '/a:ro']) {
      assert.throws(() => parseBind(bad), { message: `invalid volume specification: '${bad}'` }, bad);
    }
    assert.throws(() => parseBind('/a:/b:ro,rw'), { message: 'invalid mode: ro,rw' });
    assert.throws(() => parseBind('/a:/b:bogus'), { message: 'invalid mode: bogus' });
    assert.throws(
      () => parseBind('/a:rel'),
      /invalid volume specification: '\/a:rel': .*mount path must be absolute/,
    );
    assert.throws(() => parseBind('/a:/'), /destination can't be '\/'/);
  });

  it('parses named and anonymous volumes with dockerd wording for what they cannot take', () => {
    assert.deepEqual(parseBind('vol:/data:ro,nocopy'), {
      source: '',
      destination: '/data',
      readOnly: true,
      propagation: '',
      volume: { name: 'vol', noCopy: true, mode: 'ro,nocopy' },
    });
    assert.deepEqual(parseBind('/data').volume, { name: '', noCopy: false, mode: '' });
    assert.equal(parseBind('vol:/data:z').readOnly, false);
    assert.equal(parseBind('vol:/data:Z,rw').volume?.mode, 'Z,rw');
    assert.throws(() => parseBind('vol:/data:rshared'), {
      message:
        'invalid volume specification: \'vol:/data:rshared\': invalid mount config for type "volume": field BindOptions must not be specified',
    });
    assert.throws(() => parseBind('/src:/data:nocopy'), {
      message:
        'invalid volume specification: \'/src:/data:nocopy\': invalid mount config for type "bind": field VolumeOptions must not be specified',
    });
    assert.throws(
      () => parseBind('vol:rel'),
      /type "volume": invalid mount path: 'rel' mount path must be absolute/,
    );
  });
});
