import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventsService } from '../../../src/engine/events.js';
import type { HostFacts } from '../../../src/engine/host-facts.js';
import { sysInfoFrom } from '../../../src/engine/host-resources.js';
import { SystemService } from '../../../src/engine/system-service.js';

const facts = (cgroupVersion: '1' | '2'): HostFacts => ({
  engineId: 'e',
  hostname: 'h',
  kernelVersion: '6.18.0',
  operatingSystem: 'Debian',
  osVersion: '12',
  architecture: 'x86_64',
  ncpu: 2,
  memTotal: 1,
  cgroupVersion,
  runc: undefined,
  criu: undefined,
  sysInfo: sysInfoFrom({ exists: () => false, read: () => undefined }, '', 2),
});

const info = (cgroupVersion: '1' | '2') =>
  new SystemService({
    deps: {
      containerdVersion: async () => ({ version: '1.6.20', revision: 'x' }),
      containerStates: async () => [],
      imageCount: async () => 0,
    },
    facts: facts(cgroupVersion),
    events: {} as EventsService,
    version: '0',
    gitCommit: '',
    apiVersion: '1.47',
    minApiVersion: '1.24',
    dataRoot: '/d',
    snapshotter: 'overlayfs',
    namespace: 'n',
    containerdAddress: '/c',
    managedContainerd: true,
  }).info();

test('/info SecurityOptions: the builtin seccomp profile, cgroupns only on cgroup v2, no AppArmor/SELinux', async () => {
  assert.deepEqual((await info('1')).SecurityOptions, ['name=seccomp,profile=builtin']);
  assert.deepEqual((await info('2')).SecurityOptions, ['name=seccomp,profile=builtin', 'name=cgroupns']);
});
