// Guards the CRIU image formats ckptd decodes: every message and enum of protos/criu/ must match
// CRIU 4.1's own images/*.proto (as shipped by go-criu 7.2, unpacked by scripts/setup-host.sh)
// field for field (names, numbers, types, cardinality, required-ness), and an image encoded with
// upstream's definitions must decode with ours to the same values.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import protobuf from 'protobufjs';
import { CRIU_PROTO_FILES, criuRoot, decodeImage, MAGIC } from '../../src/criu/images.js';

// CKPTD_GOCRIU_IMAGES only exists to point at another copy; normally unset.
const UPSTREAM =
  process.env.CKPTD_GOCRIU_IMAGES ??
  join(
    process.env.CKPTD_GOCRIU_PREFIX ?? '/opt/ckptd/go-criu',
    'usr/share/gocode/src/github.com/checkpoint-restore/go-criu/v7/crit/images',
  );
const DESCRIPTOR = join(
  dirname(createRequire(import.meta.url).resolve('protobufjs/package.json')),
  'google/protobuf/descriptor.proto',
);

function loadUpstream(): protobuf.Root {
  const missing = CRIU_PROTO_FILES.filter((f) => !existsSync(join(UPSTREAM, f)));
  if (missing.length > 0) {
    assert.fail(
      `CRIU's .proto files are missing (${join(UPSTREAM, missing[0] ?? '')}): run scripts/setup-host.sh ` +
        '(unpacks golang-github-checkpoint-restore-go-criu-dev from trixie into /opt/ckptd/go-criu)',
    );
  }
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    target === 'google/protobuf/descriptor.proto' ? DESCRIPTOR : join(UPSTREAM, target);
  root.loadSync(
    readdirSync(UPSTREAM).filter((f) => f.endsWith('.proto')),
    { keepCase: true },
  );
  root.resolveAll();
  return root;
}

function declared(ns: protobuf.NamespaceBase, out: (protobuf.Type | protobuf.Enum)[] = []) {
  for (const obj of ns.nestedArray) {
    if (obj.fullName.startsWith('.google.protobuf')) continue;
    if (obj instanceof protobuf.Type || obj instanceof protobuf.Enum) out.push(obj);
    if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) declared(obj, out);
  }
  return out;
}

function shape(f: protobuf.Field): string {
  return JSON.stringify({
    id: f.id,
    type: f.resolvedType ? f.resolvedType.fullName : f.type,
    rule: f.required ? 'required' : f.repeated ? 'repeated' : 'optional',
  });
}

describe('protos/criu wire parity with CRIU 4.1 (go-criu 7.2 images/*.proto)', () => {
  let upstream: protobuf.Root | undefined;
  const up = (): protobuf.Root => (upstream ??= loadUpstream());

  test('declares the image messages ckptd checks', () => {
    const names = declared(criuRoot).map((t) => t.name);
    for (const n of [
      'creds_entry',
      'core_entry',
      'thread_core_entry',
      'task_core_entry',
      'task_kobj_ids_entry',
      'inventory_entry',
      'pstree_entry',
      'mnt_entry',
      'seccomp_entry',
      'seccomp_filter',
      'seccomp_mode',
      'fstype',
      'cgroup_entry',
      'net_device_entry',
      'nd_type',
    ])
      assert.ok(names.includes(n), `${n} declared`);
  });

  test('every declared field exists upstream with the same number, type and rule; every required field is declared', () => {
    const problems: string[] = [];
    for (const t of declared(criuRoot)) {
      const u = up().lookup(t.fullName);
      if (t instanceof protobuf.Enum) {
        if (!(u instanceof protobuf.Enum)) {
          problems.push(`${t.fullName}: no such enum upstream`);
          continue;
        }
        for (const [name, num] of Object.entries(t.values)) {
          if (u.values[name] !== num)
            problems.push(`${t.fullName}.${name}: ours ${num} upstream ${u.values[name]}`);
        }
        continue;
      }
      if (!(u instanceof protobuf.Type)) {
        problems.push(`${t.fullName}: no such message upstream`);
        continue;
      }
      for (const f of t.fieldsArray) {
        const uf = u.fields[f.name];
        if (!uf) problems.push(`${t.fullName}.${f.name}: no such field upstream`);
        else if (shape(f) !== shape(uf))
          problems.push(`${t.fullName}.${f.name}: ours ${shape(f)} upstream ${shape(uf)}`);
      }
      // a required field left out would make our decoder accept what CRIU refuses, or the reverse
      for (const uf of u.fieldsArray) {
        if (uf.required && !t.fields[uf.name])
          problems.push(`${t.fullName}.${uf.name}: required upstream, not declared`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('a core image encoded with upstream definitions (all fields) decodes with ours', () => {
    const core = up().lookupType('core_entry');
    const msg = core.fromObject({
      mtype: 1,
      thread_info: {
        clear_tid_addr: 1,
        gpregs: Object.fromEntries(
          [
            'r15',
            'r14',
            'r13',
            'r12',
            'bp',
            'bx',
            'r11',
            'r10',
            'r9',
            'r8',
            'ax',
            'cx',
            'dx',
            'si',
            'di',
            'orig_ax',
            'ip',
            'cs',
            'flags',
            'sp',
            'ss',
            'fs_base',
            'gs_base',
            'ds',
            'es',
            'fs',
            'gs',
          ].map((k) => [k, 7]),
        ),
        fpregs: { cwd: 1, swd: 2, twd: 3, fop: 4, rip: 5, rdp: 6, mxcsr: 7, mxcsr_mask: 8 },
      },
      tc: {
        task_state: 1,
        exit_code: 0,
        personality: 0,
        flags: 4194560,
        blk_sigset: 0,
        comm: 'sh',
        rlimits: { rlimits: [{ cur: 1024, max: 4096 }] },
        loginuid: 4294967295,
        oom_score_adj: -17,
      },
      thread_core: {
        futex_rla: 123,
        futex_rla_len: 24,
        sas: { ss_sp: 0, ss_size: 0, ss_flags: 2 },
        creds: {
          uid: 1000,
          gid: 1000,
          euid: 0,
          egid: 0,
          suid: 0,
          sgid: 0,
          fsuid: 0,
          fsgid: 0,
          cap_inh: [0, 0],
          cap_prm: [0xffffffff, 0x1ff],
          cap_eff: [0xa80425fb, 0],
          cap_bnd: [0xa80425fb, 0],
          secbits: 0,
          groups: [0, 10],
          lsm_profile: 'unconfined',
        },
        seccomp_mode: 2,
        seccomp_filter: 3,
        comm: 'sh',
      },
    });
    const body = Buffer.from(core.encode(msg).finish());
    const file = Buffer.alloc(12);
    file.writeUInt32LE(MAGIC.IMG_COMMON, 0);
    file.writeUInt32LE(MAGIC.CORE, 4);
    file.writeUInt32LE(body.length, 8);
    const [ours] = decodeImage('core-1.img', Buffer.concat([file, body]), 'CORE');
    assert.equal(ours?.mtype, 1);
    assert.equal(ours?.tc?.oom_score_adj, -17);
    assert.equal(ours?.tc?.comm, 'sh');
    assert.deepEqual(ours?.thread_core?.creds?.cap_prm, [0xffffffff, 0x1ff]);
    assert.deepEqual(ours?.thread_core?.creds?.groups, [0, 10]);
    assert.equal(ours?.thread_core?.creds?.euid, 0);
    assert.equal(ours?.thread_core?.seccomp_mode, 2);
    assert.equal(ours?.thread_core?.seccomp_filter, 3);
  });
});
