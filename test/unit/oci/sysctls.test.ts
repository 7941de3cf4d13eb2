import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSysctls, dotted } from '../../../src/oci/sysctls.js';

const priv = { ipcHost: false, netHost: false, utsHost: false };

describe('checkSysctls', () => {
  it('accepts namespaced sysctls in private namespaces', () => {
    checkSysctls(
      {
        'kernel.shmmax': '1',
        'kernel.msgmax': '1',
        'kernel.sem': '1 2 3 4',
        'fs.mqueue.msg_max': '10',
        'net.ipv4.ip_forward': '1',
        'kernel.domainname': 'x',
      },
      priv,
    );
    checkSysctls(undefined, priv);
    checkSysctls(null, priv);
  });

  it('refuses non-namespaced sysctls such as kernel.core_pattern (runc wording)', () => {
    assert.throws(
      () => checkSysctls({ 'kernel.core_pattern': 'x' }, priv),
      /^InvalidArgumentError: HostConfig\.Sysctls: sysctl "kernel\.core_pattern" is not in a separate kernel namespace$/,
    );
    assert.throws(() => checkSysctls({ 'vm.swappiness': '1' }, priv), /not in a separate kernel namespace/);
    assert.throws(
      () => checkSysctls({ 'kernel.hostname': 'x' }, priv),
      /conflicts with the OCI "hostname" field/,
    );
  });

  it('refuses a sysctl of a namespace shared with the host', () => {
    assert.throws(
      () => checkSysctls({ 'net.ipv4.ip_forward': '1' }, { ...priv, netHost: true }),
      /sysctl "net\.ipv4\.ip_forward" not allowed in host network namespace/,
    );
    assert.throws(
      () => checkSysctls({ 'kernel.shmmax': '1' }, { ...priv, ipcHost: true }),
      /not allowed in the hosts ipc namespace/,
    );
    assert.throws(
      () => checkSysctls({ 'kernel.domainname': 'x' }, { ...priv, utsHost: true }),
      /not in a separate/,
    );
  });

  it('refuses non-string values and non-objects', () => {
    assert.throws(() => checkSysctls({ 'net.a': 1 }, priv), /must be a string/);
    assert.throws(() => checkSysctls(['net.a'], priv), /must be a map/);
  });

  it('reads slash-separated names as runc does', () => {
    assert.equal(dotted('net/ipv4/conf/eno2.100/rp_filter'), 'net.ipv4.conf.eno2/100.rp_filter');
    assert.equal(dotted('net.ipv4.ip_forward'), 'net.ipv4.ip_forward');
    assert.throws(() => checkSysctls({ 'kernel/core_pattern': 'x' }, priv), /kernel\.core_pattern/);
  });
});
