import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSecurityOpt } from '../../../src/oci/security-opt.js';

describe('SecurityOpt (moby parseSecurityOpt, no AppArmor/SELinux)', () => {
  it('defaults to the builtin seccomp profile and no no_new_privs', () => {
    assert.deepEqual(parseSecurityOpt(null), {
      noNewPrivileges: false,
      seccomp: 'default',
      systemPathsUnconfined: false,
    });
  });

  it('reads seccomp=unconfined, builtin, a profile, and the legacy colon', () => {
    assert.equal(parseSecurityOpt(['seccomp=unconfined']).seccomp, 'unconfined');
    assert.equal(parseSecurityOpt(['seccomp:unconfined']).seccomp, 'unconfined');
    assert.equal(parseSecurityOpt(['seccomp=builtin']).seccomp, 'default');
    assert.deepEqual(parseSecurityOpt(['seccomp={"a":"b=c"}']).seccomp, { profile: '{"a":"b=c"}' });
  });

  it('reads no-new-privileges with Go booleans', () => {
    assert.equal(parseSecurityOpt(['no-new-privileges']).noNewPrivileges, true);
    assert.equal(parseSecurityOpt(['no-new-privileges=true']).noNewPrivileges, true);
    assert.equal(parseSecurityOpt(['no-new-privileges', 'no-new-privileges=0']).noNewPrivileges, false);
    assert.throws(
      () => parseSecurityOpt(['no-new-privileges=yes']),
      /HostConfig\.SecurityOpt: invalid --security-opt 2: "no-new-privileges=yes"/,
    );
  });

  it('accepts what is true here (apparmor=unconfined, label=disable) and refuses what is not', () => {
    assert.doesNotThrow(() => parseSecurityOpt(['apparmor=unconfined', 'label=disable', 'disable']));
    assert.throws(() => parseSecurityOpt(['apparmor=docker-default']), /AppArmor is not enabled/);
    assert.throws(() => parseSecurityOpt(['label=user:USER']), /SELinux is not enabled/);
  });

  it('reads systempaths=unconfined', () => {
    assert.equal(parseSecurityOpt(['systempaths=unconfined']).systemPathsUnconfined, true);
  });

  it("refuses anything else with dockerd's words", () => {
    assert.throws(() => parseSecurityOpt(['x']), /HostConfig\.SecurityOpt: invalid --security-opt 1: "x"$/);
    assert.throws(() => parseSecurityOpt(['foo=bar']), /invalid --security-opt 2: "foo=bar"$/);
    assert.throws(() => parseSecurityOpt([1]), /must be a list of strings/);
  });
});
