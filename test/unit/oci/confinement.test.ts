import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CAPABILITIES, hostCapabilitiesFromStatus } from '../../../src/oci/capabilities.js';
import { recordedPaths, type ConfinementHost } from '../../../src/oci/confinement.js';
import {
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  buildRuntimeSpec,
  type HostConfigInput,
} from '../../../src/oci/runtime-spec.js';

const ID = 'a'.repeat(64);
const HOST: ConfinementHost = {
  capabilities: hostCapabilitiesFromStatus('CapEff:\t000001fffeffffff\n', '40'),
  goArch: 'amd64',
  kernel: { kernel: 6, major: 18 },
  devices: [{ path: '/dev/loop0', type: 'b', major: 7, minor: 0, fileMode: 0o600, uid: 0, gid: 0 }],
};

const spec = (hostConfig: HostConfigInput = {}) =>
  buildRuntimeSpec({
    id: ID,
    config: { Cmd: ['sh'] },
    networkMode: 'none',
    hostConfig,
    confinementHost: HOST,
  });
const mount = (s: ReturnType<typeof spec>, dest: string) => s.mounts.find((m) => m.destination === dest);

describe('confinement in the runtime spec', () => {
  it("gives a default container Docker's caps, the default seccomp profile, masked and read-only paths", () => {
    const s = spec();
    assert.deepEqual(s.process.capabilities.bounding, DEFAULT_CAPABILITIES);
    assert.deepEqual(s.process.capabilities.effective, DEFAULT_CAPABILITIES);
    assert.equal(s.process.noNewPrivileges, false);
    assert.equal(s.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.deepEqual(s.linux.seccomp?.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.deepEqual(s.linux.maskedPaths, DEFAULT_MASKED_PATHS);
    assert.deepEqual(s.linux.readonlyPaths, DEFAULT_READONLY_PATHS);
    assert.deepEqual(s.linux.devices, []);
    assert.ok(mount(s, '/sys')?.options.includes('ro'));
  });

  it('specialises seccomp for the final capability set', () => {
    const names = (s: ReturnType<typeof spec>) =>
      (s.linux.seccomp?.syscalls ?? []).filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names);
    assert.ok(!names(spec()).includes('mount'));
    assert.ok(names(spec({ CapAdd: ['SYS_ADMIN'] })).includes('mount'));
    assert.ok(!names(spec({ CapDrop: ['sys_chroot'] })).includes('chroot'));
  });

  it('CapDrop ALL leaves no capability, seccomp still on', () => {
    const s = spec({ CapDrop: ['ALL'] });
    assert.deepEqual(s.process.capabilities, { bounding: [], effective: [], permitted: [] });
    assert.ok(s.linux.seccomp);
  });

  it('applies seccomp=unconfined, a custom profile and no-new-privileges', () => {
    assert.equal(spec({ SecurityOpt: ['seccomp=unconfined'] }).linux.seccomp, undefined);
    const custom = spec({
      SecurityOpt: [
        'no-new-privileges',
        'seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}',
      ],
    });
    assert.deepEqual(custom.linux.seccomp, {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
    });
    assert.equal(custom.process.noNewPrivileges, true);
    assert.throws(
      () => spec({ SecurityOpt: ['seccomp={'] }),
      /^.*HostConfig\.SecurityOpt: seccomp: Decoding seccomp profile failed/,
    );
  });

  it('makes a privileged container: all caps held, host devices, allow-all cgroup, rw /sys, no seccomp or paths', () => {
    const s = spec({ Privileged: true, ReadonlyRootfs: true, SecurityOpt: ['seccomp=builtin'] });
    assert.deepEqual(s.process.capabilities.bounding, HOST.capabilities.available);
    assert.equal(s.linux.seccomp, undefined);
    assert.deepEqual(s.linux.devices, HOST.devices);
    assert.deepEqual(s.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
    assert.ok(!mount(s, '/sys')?.options.includes('ro'));
    assert.ok(!mount(s, '/sys/fs/cgroup')?.options.includes('ro'));
    assert.deepEqual([s.linux.maskedPaths, s.linux.readonlyPaths], [[], []]);
  });

  it('replaces masked/read-only paths with HostConfig (even privileged) and systempaths=unconfined', () => {
    const s = spec({ MaskedPaths: ['/proc/x'], ReadonlyPaths: [] });
    assert.deepEqual([s.linux.maskedPaths, s.linux.readonlyPaths], [['/proc/x'], []]);
    assert.deepEqual(spec({ Privileged: true, MaskedPaths: ['/proc/y'] }).linux.maskedPaths, ['/proc/y']);
    const u = spec({ SecurityOpt: ['systempaths=unconfined'] });
    assert.deepEqual([u.linux.maskedPaths, u.linux.readonlyPaths], [[], []]);
    assert.throws(
      () => spec({ MaskedPaths: ['proc'] }),
      /HostConfig\.MaskedPaths: "proc" is not an absolute path/,
    );
  });

  it('records the paths in force as dockerd (null for privileged when not given)', () => {
    assert.deepEqual(recordedPaths({}, spec()), {
      MaskedPaths: [...DEFAULT_MASKED_PATHS],
      ReadonlyPaths: [...DEFAULT_READONLY_PATHS],
    });
    assert.deepEqual(recordedPaths({ Privileged: true }, spec({ Privileged: true })), {
      MaskedPaths: null,
      ReadonlyPaths: null,
    });
  });

  it('refuses bad capabilities and security options with the field named', () => {
    assert.throws(() => spec({ CapAdd: ['CAP_FOO'] }), /HostConfig\.CapAdd: unknown capability: "CAP_FOO"/);
    assert.throws(() => spec({ SecurityOpt: ['apparmor=x'] }), /HostConfig\.SecurityOpt: AppArmor/);
  });
});
