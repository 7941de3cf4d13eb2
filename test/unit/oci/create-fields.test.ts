import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CONFIG_FIELDS,
  HOST_CONFIG_FIELDS,
  checkCreateRequest,
  checkPlatform,
} from '../../../src/oci/create-fields.js';

// Docker API 1.47 (moby api/types/container/config.go and hostconfig.go): every JSON name.
const DOCKER_CONFIG = [
  'Hostname',
  'Domainname',
  'User',
  'AttachStdin',
  'AttachStdout',
  'AttachStderr',
  'ExposedPorts',
  'Tty',
  'OpenStdin',
  'StdinOnce',
  'Env',
  'Cmd',
  'Healthcheck',
  'ArgsEscaped',
  'Image',
  'Volumes',
  'WorkingDir',
  'Entrypoint',
  'NetworkDisabled',
  'MacAddress',
  'OnBuild',
  'Labels',
  'StopSignal',
  'StopTimeout',
  'Shell',
  // container.CreateRequest
  'HostConfig',
  'NetworkingConfig',
];
const DOCKER_HOST_CONFIG = [
  'Binds',
  'ContainerIDFile',
  'LogConfig',
  'NetworkMode',
  'PortBindings',
  'RestartPolicy',
  'AutoRemove',
  'VolumeDriver',
  'VolumesFrom',
  'ConsoleSize',
  'Annotations',
  'CapAdd',
  'CapDrop',
  'CgroupnsMode',
  'Dns',
  'DnsOptions',
  'DnsSearch',
  'ExtraHosts',
  'GroupAdd',
  'IpcMode',
  'Cgroup',
  'Links',
  'OomScoreAdj',
  'PidMode',
  'Privileged',
  'PublishAllPorts',
  'ReadonlyRootfs',
  'SecurityOpt',
  'StorageOpt',
  'Tmpfs',
  'UTSMode',
  'UsernsMode',
  'ShmSize',
  'Sysctls',
  'Runtime',
  'Isolation',
  'Mounts',
  'MaskedPaths',
  'ReadonlyPaths',
  'Init',
  // Resources
  'CpuShares',
  'Memory',
  'NanoCpus',
  'CgroupParent',
  'BlkioWeight',
  'BlkioWeightDevice',
  'BlkioDeviceReadBps',
  'BlkioDeviceWriteBps',
  'BlkioDeviceReadIOps',
  'BlkioDeviceWriteIOps',
  'CpuPeriod',
  'CpuQuota',
  'CpuRealtimePeriod',
  'CpuRealtimeRuntime',
  'CpusetCpus',
  'CpusetMems',
  'Devices',
  'DeviceCgroupRules',
  'DeviceRequests',
  'KernelMemory',
  'KernelMemoryTCP',
  'MemoryReservation',
  'MemorySwap',
  'MemorySwappiness',
  'OomKillDisable',
  'PidsLimit',
  'Ulimits',
  'CpuCount',
  'CpuPercent',
  'IOMaximumIOps',
  'IOMaximumBandwidth',
];

function refusal(body: Record<string, unknown>): string {
  try {
    checkCreateRequest(body);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

describe('create field decisions', () => {
  it('decide every Config and HostConfig field of Docker API 1.47, and no other', () => {
    assert.deepEqual(Object.keys(CONFIG_FIELDS).sort(), [...DOCKER_CONFIG].sort());
    assert.deepEqual(Object.keys(HOST_CONFIG_FIELDS).sort(), [...DOCKER_HOST_CONFIG].sort());
  });

  it('give every refused or ignored field a reason', () => {
    for (const d of [...Object.values(CONFIG_FIELDS), ...Object.values(HOST_CONFIG_FIELDS)]) {
      if (d.kind !== 'applied') assert.ok(d.why.length > 10);
    }
  });

  it('accept the zero values the docker CLI sends for options the user did not give', () => {
    checkCreateRequest({
      Hostname: '',
      Domainname: '',
      User: '',
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: null,
      Cmd: ['true'],
      Image: 'busybox',
      Volumes: {},
      WorkingDir: '',
      Entrypoint: null,
      OnBuild: null,
      Labels: {},
      MacAddress: '',
      HostConfig: {
        Binds: null,
        ContainerIDFile: '',
        LogConfig: { Type: '', Config: {} },
        NetworkMode: 'default',
        PortBindings: {},
        RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
        AutoRemove: false,
        VolumeDriver: '',
        VolumesFrom: null,
        ConsoleSize: [0, 0],
        CapAdd: null,
        CapDrop: null,
        CgroupnsMode: '',
        Dns: [],
        DnsOptions: [],
        DnsSearch: [],
        ExtraHosts: null,
        GroupAdd: null,
        IpcMode: '',
        Cgroup: '',
        Links: null,
        OomScoreAdj: 0,
        PidMode: '',
        Privileged: false,
        PublishAllPorts: false,
        ReadonlyRootfs: false,
        SecurityOpt: null,
        UTSMode: '',
        UsernsMode: '',
        ShmSize: 0,
        Isolation: '',
        CpuShares: 0,
        Memory: 0,
        NanoCpus: 0,
        CgroupParent: '',
        BlkioWeight: 0,
        BlkioWeightDevice: [],
        BlkioDeviceReadBps: [],
        CpuPeriod: 0,
        CpuQuota: 0,
        CpuRealtimePeriod: 0,
        CpusetCpus: '',
        CpusetMems: '',
        Devices: [],
        DeviceCgroupRules: null,
        DeviceRequests: null,
        MemoryReservation: 0,
        MemorySwap: 0,
        MemorySwappiness: null,
        OomKillDisable: null,
        PidsLimit: null,
        Ulimits: [],
        CpuCount: 0,
        CpuPercent: 0,
        IOMaximumIOps: 0,
        IOMaximumBandwidth: 0,
        MaskedPaths: null,
        ReadonlyPaths: null,
      },
      NetworkingConfig: { EndpointsConfig: { default: {} } },
    });
  });

  it('refuse a set field ckptd does not apply, naming it', () => {
    assert.match(
      refusal({ HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '8080' }] } } }),
      /^HostConfig\.PortBindings: .*bridge/,
    );
    assert.match(refusal({ HostConfig: { CpuRealtimeRuntime: 1000 } }), /^HostConfig\.CpuRealtimeRuntime: /);
    assert.match(refusal({ HostConfig: { VolumesFrom: ['other'] } }), /^HostConfig\.VolumesFrom: /);
    assert.match(
      refusal({ HostConfig: { VolumeDriver: 'nfs-plugin' } }),
      /^HostConfig\.VolumeDriver: volume driver "nfs-plugin" is not supported/,
    );
    assert.equal(refusal({ Volumes: { '/data': {} } }), '');
    assert.match(
      refusal({ HostConfig: { LogConfig: { Type: 'syslog', Config: {} } } }),
      /^HostConfig\.LogConfig\.Type: /,
    );
    assert.match(
      refusal({ HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '1m' } } } }),
      /^HostConfig\.LogConfig\.Config: /,
    );
    assert.match(
      refusal({ HostConfig: { Runtime: 'kata' } }),
      /^HostConfig\.Runtime: unknown or invalid runtime name: kata/,
    );
    assert.match(refusal({ HostConfig: { Isolation: 'hyperv' } }), /^HostConfig\.Isolation: /);
    assert.match(
      refusal({ NetworkingConfig: { EndpointsConfig: { host: { Aliases: ['a'] } } } }),
      /^NetworkingConfig\.EndpointsConfig\.host\.Aliases: /,
    );
  });

  it('refuse unknown fields that are set, and let unset ones pass', () => {
    assert.match(refusal({ Bogus: 1 }), /^Bogus: unknown field/);
    assert.match(refusal({ HostConfig: { Bogus: 'x' } }), /^HostConfig\.Bogus: unknown field/);
    assert.equal(refusal({ Bogus: null, HostConfig: { Other: '' } }), '');
  });

  it('accept the local volume driver as the default it is', () => {
    const body = { HostConfig: { VolumeDriver: 'local' } };
    checkCreateRequest(body);
  });

  it('refuse a platform the host cannot run', () => {
    checkPlatform('linux', 'amd64');
    checkPlatform('linux/amd64', 'amd64');
    assert.throws(() => checkPlatform('linux/arm64', 'amd64'), /platform: linux\/arm64 cannot run/);
    assert.throws(() => checkPlatform('windows/amd64', 'amd64'), /cannot run/);
  });
});

describe('README field table', () => {
  it('is the table create-fields.ts renders (npm run fields)', async () => {
    const { readFile } = await import('node:fs/promises');
    const { FIELD_TABLE_MARKERS, renderFieldTable } = await import('../../../src/oci/create-fields.js');
    const text = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const [start, end] = FIELD_TABLE_MARKERS;
    const body = text.slice(text.indexOf(start) + start.length, text.indexOf(end));
    assert.ok(text.includes(start) && text.includes(end), 'README.md lacks the field table markers');
    assert.ok(body === `\n${renderFieldTable()}`, 'README field table is stale: run npm run fields');
  });
});
