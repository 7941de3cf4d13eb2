import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEFAULT_CAPABILITIES } from '../../../src/oci/capabilities.js';
import {
  DEFAULT_PROFILE_SOURCE,
  buildSeccomp,
  defaultSeccomp,
  loadSeccompProfile,
  parseKernelRelease,
  type LinuxSeccomp,
  type SeccompTarget,
} from '../../../src/oci/seccomp.js';

const AMD64: SeccompTarget = {
  goArch: 'amd64',
  kernel: { kernel: 6, major: 18 },
  bounding: DEFAULT_CAPABILITIES,
};

/** rulesFor lists the rules naming a syscall. */
const rulesFor = (s: LinuxSeccomp, name: string) => (s.syscalls ?? []).filter((r) => r.names.includes(name));
const allowed = (s: LinuxSeccomp, name: string) =>
  rulesFor(s, name).some((r) => r.action === 'SCMP_ACT_ALLOW' && r.args === undefined);

describe('seccomp: the committed default profile', () => {
  it('is the Debian package file byte for byte when that version is installed', (t) => {
    if (!existsSync(DEFAULT_PROFILE_SOURCE.path)) {
      t.skip(`${DEFAULT_PROFILE_SOURCE.package} is not installed`);
      return;
    }
    const version = execFileSync('dpkg-query', ['-W', '-f=${Version}', DEFAULT_PROFILE_SOURCE.package], {
      encoding: 'utf8',
    });
    if (version !== DEFAULT_PROFILE_SOURCE.version) {
      t.skip(
        `installed ${DEFAULT_PROFILE_SOURCE.package} is ${version}, the committed profile is ${DEFAULT_PROFILE_SOURCE.version}`,
      );
      return;
    }
    const committed = readFileSync(new URL('../../../src/oci/seccomp/default.json', import.meta.url));
    assert.ok(committed.equals(readFileSync(DEFAULT_PROFILE_SOURCE.path)));
  });

  it('is moby 26: errno EPERM by default, clone3 ENOSYS without CAP_SYS_ADMIN, no io_uring', () => {
    const s = defaultSeccomp(AMD64);
    assert.equal(s.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(s.defaultErrnoRet, 1);
    assert.deepEqual(rulesFor(s, 'clone3'), [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
    assert.equal(rulesFor(s, 'io_uring_setup').length, 0);
  });
});

describe('seccomp: specialising a profile (moby setupSeccomp)', () => {
  it('takes the host arch and its sub-arches from archMap', () => {
    assert.deepEqual(defaultSeccomp(AMD64).architectures, [
      'SCMP_ARCH_X86_64',
      'SCMP_ARCH_X86',
      'SCMP_ARCH_X32',
    ]);
    assert.deepEqual(defaultSeccomp({ ...AMD64, goArch: 'arm64' }).architectures, [
      'SCMP_ARCH_AARCH64',
      'SCMP_ARCH_ARM',
    ]);
  });

  it('keeps arch-only rules for that arch alone', () => {
    assert.ok(allowed(defaultSeccomp(AMD64), 'arch_prctl'));
    assert.ok(!allowed(defaultSeccomp({ ...AMD64, goArch: 'arm64' }), 'arch_prctl'));
    assert.ok(allowed(defaultSeccomp({ ...AMD64, goArch: 'arm64' }), 'arm_fadvise64_64'));
    // the s390 clone rule (argument 1) is not for amd64; the generic one (argument 0) is
    const clone = rulesFor(defaultSeccomp(AMD64), 'clone');
    assert.deepEqual(clone, [
      {
        names: ['clone'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }],
      },
    ]);
  });

  it('allows the namespace syscalls only with CAP_SYS_ADMIN in the bounding set', () => {
    const plain = defaultSeccomp(AMD64);
    for (const n of ['mount', 'unshare', 'setns', 'umount2']) assert.ok(!allowed(plain, n), n);
    const admin = defaultSeccomp({ ...AMD64, bounding: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] });
    for (const n of ['mount', 'unshare', 'setns', 'umount2', 'clone', 'clone3'])
      assert.ok(allowed(admin, n), n);
    // the masked clone rule and the clone3 ENOSYS rule are excluded with CAP_SYS_ADMIN
    assert.equal(rulesFor(admin, 'clone3').length, 1);
    assert.ok(!rulesFor(admin, 'clone').some((r) => r.args !== undefined));
  });

  it('reads minKernel: ptrace from 4.8 on', () => {
    assert.ok(allowed(defaultSeccomp(AMD64), 'ptrace'));
    assert.ok(!allowed(defaultSeccomp({ ...AMD64, kernel: { kernel: 4, major: 7 } }), 'ptrace'));
    assert.ok(allowed(defaultSeccomp({ ...AMD64, kernel: { kernel: 4, major: 8 } }), 'ptrace'));
  });

  it('keeps argument conditions (personality values, socket family)', () => {
    const s = defaultSeccomp(AMD64);
    assert.deepEqual(
      rulesFor(s, 'personality').map((r) => r.args?.[0]?.value),
      [0, 8, 131072, 131080, 4294967295],
    );
    assert.deepEqual(rulesFor(s, 'socket')[0]?.args, [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }]);
  });

  it('turns an empty profile into no seccomp at all, as moby', () => {
    assert.equal(buildSeccomp({}, AMD64), undefined);
    assert.equal(loadSeccompProfile('{"defaultAction":""}', AMD64), undefined);
  });

  it('reads a custom profile: name, architectures, flags, case-insensitive keys', () => {
    const s = loadSeccompProfile(
      JSON.stringify({
        DefaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64'],
        flags: ['SECCOMP_FILTER_FLAG_LOG'],
        syscalls: [{ name: 'mkdir', action: 'SCMP_ACT_ERRNO', errnoRet: 1, comment: 'no mkdir' }],
      }),
      AMD64,
    );
    assert.deepEqual(s, {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    });
  });

  it('refuses what moby refuses and what it would silently drop', () => {
    const bad = (p: unknown, re: RegExp) => assert.throws(() => buildSeccomp(p, AMD64), re);
    bad(
      { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], archMap: [{ architecture: 'x' }] },
      /both 'architectures' and 'archMap'/,
    );
    bad(
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] },
      /both 'name' and 'names'/,
    );
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscallz: [] }, /unknown field "syscallz"/);
    bad(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['a'], action: 'x', includes: { minKernel: '0.0' } }],
      },
      /version cannot be 0.0/,
    );
    bad(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['a'], action: 'x', args: [{ value: 2 ** 60 }] }],
      },
      /below 2\^53/,
    );
    assert.throws(
      () => loadSeccompProfile('{nope', AMD64),
      /^InvalidArgumentError|Decoding seccomp profile failed/,
    );
  });

  it('parses kernel releases as moby (major.minor only)', () => {
    assert.deepEqual(parseKernelRelease('6.18.44-fc-v1272'), { kernel: 6, major: 18 });
    assert.deepEqual(parseKernelRelease('3.12-1-amd64'), { kernel: 3, major: 12 });
    assert.throws(() => parseKernelRelease('x'));
  });
});
