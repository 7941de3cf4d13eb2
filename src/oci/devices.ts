/**
 * Ulimits, device mappings and device cgroup rules as dockerd applies them (moby
 * `oci/devices_linux.go` `DevicesFromPath`, `oci/oci.go` `AppendDevicePermissionsFromCgroupRules`,
 * go-units' ulimit checks). Pure: host paths are read through a DeviceHost.
 */
import type { LinuxDeviceCgroup } from './runtime-spec.js';
import {
  fieldError,
  type DeviceHost,
  type DeviceMapping,
  type FileNode,
  type LinuxDevice,
  type Ulimit,
} from './resources.js';

/** RLIMITS are the rlimit names runc knows (`RLIMIT_<NAME>`); the docker CLI offers all but `as`. */
const RLIMITS = new Set([
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);

/** checkUlimit checks a `HostConfig.Ulimits` entry (go-units' messages). */
export function checkUlimit(prefix: string, i: number, u: Ulimit): void {
  const f = `Ulimits[${i}]`;
  if (!RLIMITS.has(u.Name)) fieldError(prefix, f, `invalid ulimit type: ${u.Name}`);
  if (u.Soft < 0 || u.Hard < 0)
    fieldError(prefix, f, `${u.Name}: negative (unlimited) values are not supported by ckptd; give a number`);
  if (u.Soft > u.Hard)
    fieldError(
      prefix,
      f,
      `ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`,
    );
}

/** checkDeviceMapping checks a `HostConfig.Devices` entry's paths and cgroup permissions. */
export function checkDeviceMapping(prefix: string, i: number, d: DeviceMapping): void {
  const f = `Devices[${i}]`;
  if (d.PathOnHost === '') fieldError(prefix, f, 'PathOnHost must be given');
  if (!d.PathInContainer.startsWith('/'))
    fieldError(prefix, f, `${JSON.stringify(d.PathInContainer)} is not an absolute path (PathInContainer)`);
  const p = d.CgroupPermissions;
  if (p === '' || p.length > 3 || !/^[rwm]+$/.test(p) || new Set(p).size !== p.length)
    fieldError(
      prefix,
      f,
      `invalid device mode: ${JSON.stringify(p)} (CgroupPermissions, a combination of r, w, m)`,
    );
}

const DEVICE_CGROUP_RULE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

/** parseDeviceCgroupRule reads `c 1:3 rwm` as moby's `AppendDevicePermissionsFromCgroupRules`. */
export function parseDeviceCgroupRule(rule: string, prefix = 'HostConfig.'): LinuxDeviceCgroup {
  const m = DEVICE_CGROUP_RULE.exec(rule);
  if (!m) fieldError(prefix, 'DeviceCgroupRules', `invalid device cgroup rule format: '${rule}'`);
  const num = (s: string) => (s === '*' ? -1 : Number(s));
  const major = num(m[2]!);
  const minor = num(m[3]!);
  if (!Number.isSafeInteger(major) || !Number.isSafeInteger(minor))
    fieldError(
      prefix,
      'DeviceCgroupRules',
      `invalid major or minor value in device cgroup rule format: '${rule}'`,
    );
  return { allow: true, type: m[1] as 'a' | 'b' | 'c', major, minor, access: m[4]! };
}

const NODE_TYPE: Partial<Record<FileNode['kind'], LinuxDevice['type']>> = {
  char: 'c',
  block: 'b',
  fifo: 'p',
};

/**
 * devicesFromPath maps one `--device` as moby's `oci.DevicesFromPath`: a symlink is resolved
 * first; a device node (char, block or fifo) becomes one device; a directory becomes every
 * device node below it (its path in the container after the prefix swap); anything else is
 * `error gathering device information while adding custom device "<path>": <why>`.
 */
export function devicesFromPath(
  host: DeviceHost,
  pathOnHost: string,
  pathInContainer: string,
  permissions: string,
): { devices: LinuxDevice[]; permissions: LinuxDeviceCgroup[] } {
  let resolved = pathOnHost;
  try {
    if (host.lstat(pathOnHost).kind === 'symlink') resolved = host.realpath(pathOnHost);
  } catch {
    // lstat fails again below, with the reason
  }
  const devices: LinuxDevice[] = [];
  const perms: LinuxDeviceCgroup[] = [];
  const add = (node: FileNode, path: string) => {
    const type = NODE_TYPE[node.kind]!;
    devices.push({
      path,
      type,
      major: node.major,
      minor: node.minor,
      fileMode: node.mode,
      uid: node.uid,
      gid: node.gid,
    });
    perms.push({
      allow: true,
      type: type as 'b' | 'c',
      major: node.major,
      minor: node.minor,
      access: permissions,
    });
  };
  let why: string;
  try {
    const node = host.lstat(resolved);
    if (NODE_TYPE[node.kind] !== undefined) {
      add(node, pathInContainer);
      return { devices, permissions: perms };
    }
    why = 'not a device node';
    if (node.kind === 'dir') {
      const walk = (dir: string) => {
        let names: string[];
        try {
          names = host.readdir(dir).sort();
        } catch {
          return;
        }
        for (const name of names) {
          const p = dir === '/' ? `/${name}` : `${dir}/${name}`;
          let n: FileNode;
          try {
            n = host.lstat(p);
          } catch {
            continue;
          }
          if (NODE_TYPE[n.kind] !== undefined) add(n, p.replace(resolved, pathInContainer));
          else if (n.kind === 'dir') walk(p);
        }
      };
      walk(resolved);
    }
  } catch (err) {
    why = (err as Error).message;
  }
  if (devices.length > 0) return { devices, permissions: perms };
  throw new Error(
    `error gathering device information while adding custom device ${JSON.stringify(pathOnHost)}: ${why}`,
  );
}

/** blockDevice is the major:minor of the block device at path (moby stats it, following symlinks). */
export function blockDevice(host: DeviceHost, path: string): { major: number; minor: number } {
  const node = host.stat(path); // moby: unix.Stat (follows symlinks)
  if (node.kind !== 'block') throw new Error(`${path} is not a block device`);
  return { major: node.major, minor: node.minor };
}
