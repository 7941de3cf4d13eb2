import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_CAPABILITIES,
  KNOWN_CAPABILITIES,
  hostCapabilitiesFromStatus,
  normalizeCapabilities,
  tweakCapabilities,
  type HostCapabilities,
} from '../../../src/oci/capabilities.js';

// A host like this one: every capability but CAP_SYS_RESOURCE (24) held, last cap 40.
const STATUS =
  'Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\n';
const HOST: HostCapabilities = hostCapabilitiesFromStatus(STATUS, '40\n');

describe('capabilities: the host set', () => {
  it('is the effective set of ckptd, bounded by cap_last_cap', () => {
    assert.equal(HOST.known.length, 41);
    assert.equal(HOST.available.length, 40);
    assert.ok(!HOST.available.includes('CAP_SYS_RESOURCE'));
    assert.ok(HOST.available.includes('CAP_CHECKPOINT_RESTORE'));
    const old = hostCapabilitiesFromStatus(STATUS, '37');
    assert.equal(old.known.at(-1), 'CAP_AUDIT_READ');
    assert.ok(!old.available.includes('CAP_BPF'));
  });

  it('counts every known capability when the status has no CapEff', () => {
    assert.deepEqual(hostCapabilitiesFromStatus('').available, KNOWN_CAPABILITIES);
  });
});

describe('capabilities: NormalizeLegacyCapabilities', () => {
  it('upper-cases, adds CAP_ and keeps ALL', () => {
    assert.deepEqual(normalizeCapabilities(['net_admin', 'CAP_sys_admin', 'all'], HOST), [
      'CAP_NET_ADMIN',
      'CAP_SYS_ADMIN',
      'ALL',
    ]);
  });

  it("refuses unknown and unavailable names with moby's words, naming the field", () => {
    assert.throws(
      () => normalizeCapabilities(['foo'], HOST, 'HostConfig.CapDrop'),
      /^.*HostConfig\.CapDrop: unknown capability: "CAP_FOO"$/,
    );
    assert.throws(
      () => normalizeCapabilities(['sys_resource'], HOST),
      /HostConfig\.CapAdd: capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"/,
    );
  });
});

describe('capabilities: TweakCapabilities', () => {
  it('gives the default set when nothing is asked', () => {
    assert.deepEqual(tweakCapabilities({}, HOST), DEFAULT_CAPABILITIES);
    assert.deepEqual(tweakCapabilities({ CapAdd: null, CapDrop: [] }, HOST), DEFAULT_CAPABILITIES);
  });

  it('drops, then adds', () => {
    const caps = tweakCapabilities({ CapAdd: ['SYS_ADMIN'], CapDrop: ['chown', 'CAP_KILL'] }, HOST);
    assert.ok(caps.includes('CAP_SYS_ADMIN'));
    assert.ok(!caps.includes('CAP_CHOWN') && !caps.includes('CAP_KILL'));
    assert.equal(caps.length, DEFAULT_CAPABILITIES.length - 1);
  });

  it('CapDrop ALL keeps only CapAdd; CapAdd ALL adds all available but CapDrop', () => {
    assert.deepEqual(tweakCapabilities({ CapDrop: ['ALL'] }, HOST), []);
    assert.deepEqual(tweakCapabilities({ CapDrop: ['all'], CapAdd: ['kill'] }, HOST), ['CAP_KILL']);
    const all = tweakCapabilities({ CapAdd: ['ALL'], CapDrop: ['NET_RAW'] }, HOST);
    assert.equal(all.length, 39);
    assert.ok(!all.includes('CAP_NET_RAW') && !all.includes('CAP_SYS_RESOURCE'));
  });

  it('privileged gets every available capability, whatever CapAdd/CapDrop say', () => {
    assert.deepEqual(tweakCapabilities({ Privileged: true, CapDrop: ['ALL'], CapAdd: ['bogus'] }, HOST), [
      ...HOST.available,
    ]);
  });
});
