// checkpoint-trust: crafted CRIU images (written with protobufjs through encodeImage) compared
// with the spec ckptd builds; what asks for more than the spec grants is refused, naming the
// image file and field. The fixture mirrors a real ckptd checkpoint of a busybox container
// (CRIU 4.1, runc 1.1, cgroup v1).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  encodeImage,
  type CoreEntry,
  type MntEntry,
  type TaskKobjIdsEntry,
} from '../../../src/criu/images.js';
import { isEngineError } from '../../../src/errors/index.js';
import {
  checkCheckpointImages,
  verifyCheckpointImages,
  wordBits,
  type CheckpointImages,
  type TrustContext,
  type TrustSpec,
} from '../../../src/engine/checkpoint/checkpoint-trust.js';

const DOCKER_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];
const DOCKER_WORDS = [0xa80425fb, 0];
const ID = 'c'.repeat(64);
const DATA = `/var/lib/ckptd/containers/${ID}`;

function spec(over: (s: TrustSpec) => void = () => undefined): TrustSpec {
  const s: TrustSpec = {
    process: {
      terminal: false,
      user: { uid: 0, gid: 0, additionalGids: [0] },
      capabilities: { bounding: [...DOCKER_CAPS], effective: [...DOCKER_CAPS], permitted: [...DOCKER_CAPS] },
      noNewPrivileges: false,
      oomScoreAdj: 0,
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }],
    },
    root: { readonly: false },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'size=67108864'] },
      { destination: '/etc/hosts', type: 'bind', source: `${DATA}/hosts`, options: ['rbind', 'rprivate'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      maskedPaths: ['/proc/acpi', '/proc/keys', '/sys/firmware'],
      readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  over(s);
  return s;
}

const ROOT_IDS: TaskKobjIdsEntry = {
  vm_id: 1,
  files_id: 1,
  fs_id: 1,
  sighand_id: 1,
  pid_ns_id: 1,
  net_ns_id: 2,
  ipc_ns_id: 3,
  uts_ns_id: 4,
  mnt_ns_id: 6,
  user_ns_id: 7,
  cgroup_ns_id: 8,
  time_ns_id: 5,
};
const TASK_IDS: TaskKobjIdsEntry = {
  ...ROOT_IDS,
  vm_id: 2,
  pid_ns_id: 9,
  net_ns_id: 10,
  ipc_ns_id: 11,
  uts_ns_id: 12,
  mnt_ns_id: 13,
};

function core(comm: string, over: (c: CoreEntry) => void = () => undefined): CoreEntry {
  const c: CoreEntry = {
    mtype: 1,
    tc: {
      task_state: 1,
      exit_code: 0,
      personality: 0,
      flags: 0,
      blk_sigset: '0',
      comm,
      loginuid: 4294967295,
      oom_score_adj: 0,
    },
    thread_core: {
      futex_rla: '0',
      futex_rla_len: 24,
      creds: {
        uid: 0,
        gid: 0,
        euid: 0,
        egid: 0,
        suid: 0,
        sgid: 0,
        fsuid: 0,
        fsgid: 0,
        cap_inh: [0, 0],
        cap_prm: [...DOCKER_WORDS],
        cap_eff: [...DOCKER_WORDS],
        cap_bnd: [...DOCKER_WORDS],
        secbits: 0,
        groups: [0],
      },
      comm,
    },
  };
  over(c);
  return c;
}

function mnt(
  id: number,
  parent: number,
  mountpoint: string,
  fstype: number,
  o: Partial<MntEntry> = {},
): MntEntry {
  return {
    fstype,
    mnt_id: id,
    root_dev: 40 + id,
    parent_mnt_id: parent,
    flags: 0x200000,
    root: '/',
    mountpoint,
    source: 'none',
    options: '',
    ...o,
  };
}

function mounts(): MntEntry[] {
  return [
    mnt(108, 64, '/', 17, { source: 'overlay' }),
    mnt(110, 108, '/proc', 1, { source: 'proc' }),
    mnt(111, 108, '/dev', 5, { root_dev: 56, source: 'tmpfs' }),
    mnt(112, 111, '/dev/pts', 6),
    mnt(113, 108, '/sys', 2, { flags: 0x20000f }),
    mnt(114, 113, '/sys/fs/cgroup', 5, { root_dev: 59 }),
    mnt(115, 114, '/sys/fs/cgroup/cpu', 12, {
      flags: 0x20000f,
      root: `/default/${ID}`,
      ext_key: '/sys/fs/cgroup/cpu',
    }),
    mnt(124, 111, '/dev/mqueue', 14),
    mnt(125, 111, '/dev/shm', 5, { root_dev: 60, options: 'size=65536k' }),
    mnt(126, 108, '/etc/hosts', 0, {
      root_dev: 266338304,
      root: `${DATA}/hosts`,
      source: '/dev/vda',
      ext_key: '/etc/hosts',
    }),
    mnt(68, 110, '/proc/sys', 1, { flags: 0x20000f, root: '/sys', root_dev: 40 + 110 }),
    mnt(69, 110, '/proc/acpi', 5, { flags: 0x200001, root_dev: 61 }),
    mnt(71, 110, '/proc/keys', 5, { flags: 0x1000002, root: '/null', root_dev: 56, ext_key: '/dev/null' }),
    mnt(94, 113, '/sys/firmware', 5, { flags: 0x200001, root_dev: 62 }),
  ];
}

function images(over: (i: CheckpointImages) => void = () => undefined): CheckpointImages {
  const i: CheckpointImages = {
    files: [],
    inventory: { img_version: 2, root_ids: { ...ROOT_IDS }, ns_per_id: true },
    pstree: [
      { pid: 1, ppid: 0, pgid: 1, sid: 1, threads: [1] },
      { pid: 34, ppid: 1, pgid: 1, sid: 1, threads: [34] },
    ],
    cores: new Map([
      ['core-1.img', core('sh')],
      ['core-34.img', core('sleep')],
    ]),
    ids: new Map([
      ['ids-1.img', { ...TASK_IDS }],
      ['ids-34.img', { ...TASK_IDS, vm_id: 3 }],
    ]),
    mounts: new Map([['mountpoints-13.img', mounts()]]),
    seccomp: {},
    cgroup: {
      sets: [
        { id: 1, ctls: [{ name: 'memory', path: '/' }] },
        {
          id: 2,
          ctls: [
            { name: 'memory', path: `/default/${ID}` },
            { name: 'cpu', path: `/default/${ID}/sub` },
          ],
        },
      ],
      controllers: [
        { cnames: ['memory'], dirs: [{ dir_name: `default/${ID}` }] },
        { cnames: ['cpu'], dirs: [{ dir_name: `default/${ID}`, children: [{ dir_name: 'sub' }] }] },
      ],
    },
    netdevs: new Map([['netdev-10.img', [{ type: 1, ifindex: 1, mtu: 65536, flags: 0x49, name: 'lo' }]]]),
  };
  i.files = [
    'inventory.img',
    'pstree.img',
    ...i.cores.keys(),
    ...i.ids.keys(),
    ...i.mounts.keys(),
    'seccomp.img',
    'pages-1.img',
    'tmpfs-dev-56.tar.gz.img',
    'tmpfs-dev-59.tar.gz.img',
    'tmpfs-dev-60.tar.gz.img',
    'tmpfs-dev-61.tar.gz.img',
    'tmpfs-dev-62.tar.gz.img',
  ];
  over(i);
  return i;
}

const creds = (i: CheckpointImages, file = 'core-1.img') => {
  const c = i.cores.get(file)?.thread_core?.creds;
  assert.ok(c);
  return c;
};
const mount = (i: CheckpointImages, mp: string) => {
  const m = i.mounts.get('mountpoints-13.img')?.find((e) => e.mountpoint === mp);
  assert.ok(m);
  return m;
};

function refused(
  img: CheckpointImages,
  s: TrustSpec,
  message: string | RegExp,
  ctx: TrustContext = {},
): void {
  assert.throws(
    () => checkCheckpointImages(img, s, ctx),
    (err: unknown) => {
      assert.ok(isEngineError(err) && err.code === 'CKPTD_INVALID_ARGUMENT', String(err));
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    },
  );
}

describe('checkpoint images against the container spec', () => {
  test('an untouched checkpoint passes', () => {
    checkCheckpointImages(images(), spec());
  });

  test('a zombie (task_state TASK_DEAD, no thread_core) passes; a live task without credentials does not', () => {
    const zombie = (state: number) =>
      images((i) => {
        const z = core('sleep');
        delete z.thread_core;
        z.tc!.task_state = state;
        i.cores.set('core-78.img', z);
        // as CRIU dumps one: in the tree, no ids-78.img
        i.pstree.push({ pid: 78, ppid: 1, pgid: 1, sid: 1, threads: [78] });
      });
    checkCheckpointImages(zombie(2), spec());
    refused(
      zombie(1),
      spec(),
      'checkpoint image core-78.img: thread 78 has no credentials (thread_core.creds)',
    );
  });

  test('wordBits reads CRIU capability words', () => {
    assert.deepEqual(wordBits([0x5, 0x1]), [0, 2, 32]);
    assert.deepEqual(wordBits([0xa80425fb, 0]).length, 14);
  });

  test('capabilities beyond the spec are refused, per set', () => {
    refused(
      images((i) => (creds(i).cap_eff = [0xa80425fb | (1 << 21), 0])),
      spec(),
      "checkpoint image core-1.img: thread 1 capability CAP_SYS_ADMIN (effective) is not in the container's capability set",
    );
    refused(
      images((i) => (creds(i, 'core-34.img').cap_bnd = [0xffffffff, 0x1ff])),
      spec(),
      /^checkpoint image core-34\.img: thread 34 capability CAP_DAC_READ_SEARCH \(bounding\) is not/,
    );
    refused(
      images((i) => (creds(i).cap_prm = [0xa80425fb, 1 << 8])),
      spec(),
      /core-1\.img: thread 1 capability CAP_CHECKPOINT_RESTORE \(permitted\)/,
    );
    refused(
      images((i) => (creds(i).cap_inh = [1 << 12, 0])),
      spec(),
      /core-1\.img: thread 1 capability CAP_NET_ADMIN \(inheritable\)/,
    );
    // fewer capabilities than the spec: fine (a process may drop them)
    checkCheckpointImages(
      images((i) => {
        creds(i).cap_eff = [0, 0];
        creds(i).cap_bnd = [1, 0];
      }),
      spec(),
    );
    // with the capability in the spec it passes
    checkCheckpointImages(
      images((i) => (creds(i).cap_eff = [0xa80425fb | (1 << 21), 0])),
      spec((s) => s.process?.capabilities?.bounding?.push('CAP_SYS_ADMIN')),
    );
  });

  test('root credentials for a non-root spec user are refused; its own ids pass', () => {
    const user = spec((s) => {
      s.process!.user = { uid: 1000, gid: 1000, additionalGids: [1000, 27] };
    });
    const ids = (i: CheckpointImages, uid: number, gid: number) => {
      for (const f of ['core-1.img', 'core-34.img']) {
        Object.assign(creds(i, f), {
          uid,
          euid: uid,
          suid: uid,
          fsuid: uid,
          gid,
          egid: gid,
          sgid: gid,
          fsgid: gid,
          groups: [1000, 27],
        });
        creds(i, f).cap_eff = [0, 0];
        creds(i, f).cap_prm = [0, 0];
      }
    };
    checkCheckpointImages(
      images((i) => ids(i, 1000, 1000)),
      user,
    );
    refused(
      images((i) => ids(i, 0, 1000)),
      user,
      "checkpoint image core-1.img: thread 1 uid 0 is not the container's user (1000)",
    );
    refused(
      images((i) => {
        ids(i, 1000, 1000);
        creds(i, 'core-34.img').euid = 0;
      }),
      user,
      /core-34\.img: thread 34 euid 0 is not the container's user/,
    );
    refused(
      images((i) => ids(i, 1000, 0)),
      user,
      /core-1\.img: thread 1 gid 0 is not a group of the container's user/,
    );
    refused(
      images((i) => {
        ids(i, 1000, 1000);
        creds(i).groups = [1000, 0];
      }),
      user,
      /core-1\.img: thread 1 supplementary group 0 is not a group/,
    );
    // no_new_privs: not even another non-root user (no setuid program could have made it)
    const nnp = spec((s) => {
      s.process!.user = { uid: 1000, gid: 1000, additionalGids: [1000, 27] };
      s.process!.noNewPrivileges = true;
    });
    refused(
      images((i) => ids(i, 1001, 1000)),
      nnp,
      /thread 1 uid 1001 is not the container's user \(1000\)/,
    );
  });

  test('securebits and LSM fields', () => {
    refused(
      images((i) => (creds(i).secbits = 0x100)),
      spec(),
      /core-1\.img: thread 1 secbits 0x100 has unknown bits/,
    );
    checkCheckpointImages(
      images((i) => (creds(i).secbits = 0x2f)),
      spec(),
    );
    refused(
      images((i) => {
        for (const f of ['core-1.img', 'core-34.img'])
          Object.assign(creds(i, f), { secbits: 0x2f, cap_bnd: [1, 0], cap_eff: [1, 0], cap_prm: [1, 0] });
      }),
      spec((s) => (s.process!.capabilities!.bounding = ['CAP_CHOWN'])),
      /secbits 0x2f need CAP_SETPCAP/,
    );
    refused(
      images((i) => (creds(i).lsm_profile = 'unconfined')),
      spec(),
      /core-1\.img: thread 1 lsm_profile "unconfined" is not/,
    );
    refused(
      images((i) => (creds(i).apparmor_data = Buffer.from('x'))),
      spec(),
      /apparmor_data/,
    );
  });

  test('seccomp: a task without its filter is refused when the spec has one', () => {
    const withFilter = spec((s) => (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [] }));
    refused(
      images(),
      withFilter,
      "checkpoint image core-1.img: thread 1 seccomp_mode is disabled, the container's spec has a seccomp filter",
    );
    const filtered = (i: CheckpointImages) => {
      i.seccomp = { seccomp_filters: [{ filter: Buffer.alloc(8) }] };
      for (const c of i.cores.values()) Object.assign(c.thread_core!, { seccomp_mode: 2, seccomp_filter: 0 });
    };
    checkCheckpointImages(images(filtered), withFilter);
    refused(
      images((i) => {
        filtered(i);
        i.cores.get('core-34.img')!.thread_core!.seccomp_mode = 0;
      }),
      withFilter,
      /core-34\.img: thread 34 seccomp_mode is disabled/,
    );
    refused(
      images((i) => {
        filtered(i);
        i.cores.get('core-1.img')!.thread_core!.seccomp_filter = 1;
      }),
      withFilter,
      /core-1\.img: thread 1 seccomp_filter 1 is not a filter of seccomp\.img \(1\)/,
    );
    // indices are 0-based: a chain of two (filter 1 -> filter 0) is fine, a self-loop is refused
    checkCheckpointImages(
      images((i) => {
        filtered(i);
        i.seccomp = { seccomp_filters: [{ filter: Buffer.alloc(8) }, { filter: Buffer.alloc(8), prev: 0 }] };
        i.cores.get('core-1.img')!.thread_core!.seccomp_filter = 1;
      }),
      withFilter,
    );
    refused(
      images((i) => {
        filtered(i);
        i.seccomp = { seccomp_filters: [{ filter: Buffer.alloc(8), prev: 0 }] };
      }),
      withFilter,
      /seccomp\.img: filter 0 chains to filter 0, which does not precede it/,
    );
    // the old per-task field counts when the thread field is absent
    refused(
      images((i) => {
        filtered(i);
        delete i.cores.get('core-1.img')!.thread_core!.seccomp_mode;
        i.cores.get('core-1.img')!.tc!.old_seccomp_mode = 0;
      }),
      withFilter,
      /core-1\.img: thread 1 seccomp_mode is disabled/,
    );
    // no filter in the spec: a process may have installed its own
    checkCheckpointImages(images(filtered), spec());
  });

  test("loginuid: unset, or ckptd's own", () => {
    const luid = (n: number) => (i: CheckpointImages) => (i.cores.get('core-34.img')!.tc!.loginuid = n);
    refused(
      images(luid(0)),
      spec(),
      "checkpoint image core-34.img: task 34 loginuid 0 is not the container's audit identity (4294967295)",
    );
    checkCheckpointImages(images(luid(1000)), spec(), { loginuid: 1000 });
    refused(images(luid(0)), spec(), /loginuid 0 is not the container's audit identity \(1000\)/, {
      loginuid: 1000,
    });
  });

  test('rlimits above the spec need CAP_SYS_RESOURCE', () => {
    const inf = '18446744073709551615';
    const limits = (nofile: { cur: string; max: string }) => (i: CheckpointImages) => {
      const rl = Array.from({ length: 16 }, () => ({ cur: inf, max: inf }));
      rl[7] = nofile;
      i.cores.get('core-1.img')!.tc!.rlimits = { rlimits: rl };
    };
    checkCheckpointImages(images(limits({ cur: '1024', max: '1048576' })), spec());
    refused(
      images(limits({ cur: '1048576', max: inf })),
      spec(),
      `checkpoint image core-1.img: task 1 RLIMIT_NOFILE 1048576/${inf} is above the container's hard limit (1048576)`,
    );
    checkCheckpointImages(
      images(limits({ cur: '1048576', max: inf })),
      spec((s) => s.process!.capabilities!.bounding!.push('CAP_SYS_RESOURCE')),
    );
  });

  test('oom_score_adj below the spec needs CAP_SYS_RESOURCE', () => {
    refused(
      images((i) => (i.cores.get('core-1.img')!.tc!.oom_score_adj = -1000)),
      spec(),
      /core-1\.img: task 1 oom_score_adj -1000 is below the container's \(0\)/,
    );
    checkCheckpointImages(
      images((i) => (i.cores.get('core-1.img')!.tc!.oom_score_adj = 500)),
      spec(),
    );
  });

  test('namespaces: the host namespace where the spec has its own, and the reverse, are refused', () => {
    refused(
      images((i) => (i.ids.get('ids-1.img')!.net_ns_id = ROOT_IDS.net_ns_id)),
      spec(),
      "checkpoint image ids-1.img: task 1 net_ns_id 2 is the host's network namespace; the container has its own",
    );
    refused(
      images((i) => (i.ids.get('ids-1.img')!.user_ns_id = 99)),
      spec(),
      /ids-1\.img: task 1 user_ns_id 99 asks for a new user namespace; the container shares the host's/,
    );
    // host networking in the spec: the task stays in the host's network namespace
    checkCheckpointImages(
      images((i) => {
        i.ids.get('ids-1.img')!.net_ns_id = ROOT_IDS.net_ns_id;
        i.ids.get('ids-34.img')!.net_ns_id = ROOT_IDS.net_ns_id;
      }),
      spec((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network'))),
    );
    refused(
      images((i) => (i.ids.get('ids-34.img')!.net_ns_id = ROOT_IDS.net_ns_id)),
      spec(),
      /ids-34\.img: task 34 net_ns_id 2 is the host's network namespace/,
    );
    refused(
      images((i) => (i.ids.get('ids-34.img')!.uts_ns_id = 77)),
      spec(),
      /ids-34\.img: task 34 uts_ns_id 77 is a nested uts namespace; the container cannot create one/,
    );
    refused(
      images((i) => delete i.inventory.root_ids),
      spec(),
      /inventory\.img: root_ids/,
    );
    refused(
      images((i) => i.ids.delete('ids-34.img')),
      spec(),
      /ids-34\.img: task 34 has no namespace ids/,
    );
  });

  test('mounts the spec does not have are refused', () => {
    const add = (m: MntEntry) => (i: CheckpointImages) => i.mounts.get('mountpoints-13.img')!.push(m);
    refused(
      images(add(mnt(130, 108, '/host', 0, { root: '/', source: '/dev/vda', ext_key: '/host' }))),
      spec(),
      'checkpoint image mountpoints-13.img: mount /host (external "/host", root "/") is not a bind mount of the container',
    );
    refused(
      images(add(mnt(130, 108, '/mnt', 16, { source: '/dev/vda', fsname: 'ext4' }))),
      spec(),
      /mountpoints-13\.img: mount \/mnt \(auto "\/dev\/vda", root "\/"\) is not a mount of the container/,
    );
    // a spec bind turned into a mount of the host's disk (no external key): refused
    refused(
      images((i) => {
        const m = mount(i, '/etc/hosts');
        delete m.ext_key;
        m.fstype = 16;
        m.root = '/';
      }),
      spec(),
      /mount \/etc\/hosts \(auto "\/dev\/vda", root "\/"\) is not a mount of the container/,
    );
    // a spec bind restored from another key: refused
    refused(
      images((i) => (mount(i, '/etc/hosts').ext_key = '/etc/shadow')),
      spec(),
      /mount \/etc\/hosts \(external "\/etc\/shadow"/,
    );
    // /sys is read-only in the spec
    refused(
      images((i) => (mount(i, '/sys').flags = 0x20000e)),
      spec(),
      /mount \/sys: the container mounts it read-only/,
    );
    refused(
      images((i) => (mount(i, '/proc/sys').flags = 0x20000e)),
      spec(),
      /mount \/proc\/sys: a read-only path is mounted read-write/,
    );
    refused(
      images((i) => (mount(i, '/proc/sys').root = '/')),
      spec(),
      /mount \/proc\/sys \(proc, root "\/"\) is not the read-only path/,
    );
    refused(
      images((i) => (mount(i, '/proc').fstype = 2)),
      spec(),
      /mount \/proc is sysfs, the container mounts proc there/,
    );
    refused(
      images((i) => (mount(i, '/sys/fs/cgroup/cpu').ext_key = '/sys/fs/cgroup')),
      spec(),
      /mount \/sys\/fs\/cgroup\/cpu \(external "\/sys\/fs\/cgroup"/,
    );
    refused(
      images((i) => (mount(i, '/proc/keys').ext_key = '/etc/hosts')),
      spec(),
      /mount \/proc\/keys \(external "\/etc\/hosts"/,
    );
    refused(images(add(mnt(131, 108, '/proc', 1))), spec(), /mountpoint \/proc is mounted twice/);
    // tmpfs sizes: CRIU mounts with the image's options
    checkCheckpointImages(
      images((i) => (mount(i, '/dev/shm').options = 'size=65536k')),
      spec(),
    );
    refused(
      images((i) => (mount(i, '/dev/shm').options = 'size=1g')),
      spec(),
      "checkpoint image mountpoints-13.img: mount /dev/shm: tmpfs size 1073741824 bytes is above the container's (67108864 bytes)",
    );
    refused(
      images((i) => (mount(i, '/dev/shm').options = 'mode=1777')),
      spec(),
      /mount \/dev\/shm: tmpfs size unlimited/,
    );
    refused(
      images(add(mnt(131, 108, '/x/../etc', 5))),
      spec(),
      /mountpoint "\/x\/\.\.\/etc" is not a clean absolute path/,
    );
    refused(
      images((i) => i.mounts.set('mountpoints-20.img', [])),
      spec(),
      /mountpoints-20\.img: mount namespace 20 is not the container's \(13\)/,
    );
    refused(
      images((i) => (mount(i, '/').flags = 0x200000)),
      spec((s) => (s.root = { readonly: true })),
      /mount \/: the container's root is read-only/,
    );
  });

  test('tmpfs contents only for the tmpfs mounts of the container', () => {
    refused(
      images((i) => i.files.push('tmpfs-dev-99.tar.gz.img')),
      spec(),
      'checkpoint image tmpfs-dev-99.tar.gz.img: tmpfs contents for a filesystem that is not a tmpfs mount of the container',
    );
    refused(
      images((i) => i.files.push('tmpfs-126.tar.gz.img')),
      spec(),
      /tmpfs-126\.tar\.gz\.img/,
    );
    checkCheckpointImages(
      images((i) => i.files.push('tmpfs-111.tar.gz.img')),
      spec(),
    );
  });

  test('cgroup paths never climb out of the dumped tree; network devices are loopback only', () => {
    const cg = (i: CheckpointImages) => i.cgroup!;
    refused(
      images((i) => (cg(i).sets![1]!.ctls![0]!.path = `/default/${ID}/../..`)),
      spec(),
      /^checkpoint image cgroup\.img: set 2 controller memory path ".*\/\.\.\/\.\." is not a clean cgroup path$/,
    );
    refused(
      images((i) => (cg(i).sets![1]!.ctls![0]!.path = '/system.slice')),
      spec(),
      'checkpoint image cgroup.img: set 2 controller memory path "/system.slice" is outside the container\'s cgroup',
    );
    refused(
      images((i) => (cg(i).controllers![1]!.dirs![0]!.children![0]!.dir_name = '../escape')),
      spec(),
      /cgroup\.img: controller cpu directory "\.\.\/escape" is not a plain cgroup name/,
    );
    refused(
      images((i) =>
        i
          .netdevs!.get('netdev-10.img')!
          .push({ type: 2, ifindex: 5, mtu: 1500, flags: 0, name: 'eth0', peer_nsid: 0 }),
      ),
      spec(),
      'checkpoint image netdev-10.img: network device "eth0" (veth) is not a device of the container',
    );
  });

  test('legacy credential images are refused', () => {
    refused(
      images((i) => i.files.push('creds-1.img')),
      spec(),
      /creds-1\.img: separate credential images are not accepted/,
    );
  });

  test('verifyCheckpointImages reads image files from a directory (and refuses a broken one)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ckpt-trust-'));
    try {
      const i = images();
      await writeFile(join(dir, 'inventory.img'), encodeImage('INVENTORY', [i.inventory], { common: false }));
      await writeFile(join(dir, 'pstree.img'), encodeImage('PSTREE', i.pstree));
      for (const [f, c] of i.cores) await writeFile(join(dir, f), encodeImage('CORE', [c]));
      for (const [f, c] of i.ids) await writeFile(join(dir, f), encodeImage('IDS', [c]));
      for (const [f, m] of i.mounts) await writeFile(join(dir, f), encodeImage('MNTS', m));
      await writeFile(join(dir, 'seccomp.img'), encodeImage('SECCOMP', [{}]));
      await writeFile(join(dir, 'cgroup.img'), encodeImage('CGROUP', [i.cgroup!]));
      for (const [f, n] of i.netdevs!) await writeFile(join(dir, f), encodeImage('NETDEV', n));
      await writeFile(join(dir, 'tmpfs-dev-56.tar.gz.img'), 'x');
      await verifyCheckpointImages(dir, spec());
      const bad = core('sh', (c) => (c.thread_core!.creds!.cap_bnd = [0xffffffff, 0]));
      await writeFile(join(dir, 'core-1.img'), encodeImage('CORE', [bad]));
      await assert.rejects(
        verifyCheckpointImages(dir, spec()),
        /core-1\.img: thread 1 capability CAP_DAC_READ_SEARCH \(bounding\)/,
      );
      await writeFile(join(dir, 'core-1.img'), encodeImage('CORE', [core('sh')]));
      const veth = { type: 2, ifindex: 5, mtu: 1500, flags: 0, name: 'eth0' };
      await writeFile(join(dir, 'netdev-10.img'), encodeImage('NETDEV', [veth]));
      await assert.rejects(
        verifyCheckpointImages(dir, spec()),
        /netdev-10\.img: network device "eth0" \(veth\)/,
      );
      await writeFile(join(dir, 'core-1.img'), encodeImage('CORE', [core('sh')]).subarray(0, 20));
      await assert.rejects(
        verifyCheckpointImages(dir, spec()),
        (e: unknown) => isEngineError(e) && /^checkpoint image core-1\.img: truncated/.test(e.message),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
