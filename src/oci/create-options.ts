/**
 * createOptions gathers, at create, the process and namespace options of issue 11 from a
 * create request (IpcMode, PidMode, UTSMode, CgroupnsMode, ShmSize, Sysctls, Dns*, GroupAdd,
 * Init, Mounts), validated with dockerd's rules and defaults, so the engine refuses a bad
 * value with a 400 before any work and applies the rest from one place.
 */
import { InvalidArgumentError } from '../errors/index.js';
import { parseMounts, type UserMount } from './mounts.js';
import { checkNamespaceModes, mountsDevShm, type NamespaceModes } from './namespaces.js';
import { checkGroupAdd } from './process-options.js';
import { checkDnsOptions, type DnsOptions } from './resolv-conf.js';
import { parseBind } from './runtime-spec.js';
import { checkSysctls } from './sysctls.js';

/** CreateOptions are the validated options, as applied. */
export interface CreateOptions {
  modes: NamespaceModes;
  dns: DnsOptions;
  /** groupAdd are the GroupAdd entries, resolved against the image's /etc/group later. */
  groupAdd: string[];
  init: boolean;
  mounts: UserMount[];
}

/** CreateOptionsInput is the part of a create request createOptions reads. */
export interface CreateOptionsInput {
  Hostname?: unknown;
  Domainname?: unknown;
  HostConfig?: Record<string, unknown> | null;
}

/**
 * createOptions validates the options (InvalidArgumentError naming the field) for a container
 * on `networkMode` on a host with cgroup `cgroupVersion`.
 */
export function createOptions(
  req: CreateOptionsInput,
  networkMode: string,
  cgroupVersion: 1 | 2,
): CreateOptions {
  const hc = req.HostConfig ?? {};
  const modes = checkNamespaceModes(hc, req, cgroupVersion);
  checkSysctls(hc.Sysctls, {
    ipcHost: modes.IpcMode === 'host',
    netHost: networkMode === 'host',
    utsHost: modes.UTSMode === 'host',
  });
  const init = hc.Init;
  if (init !== undefined && init !== null && typeof init !== 'boolean')
    throw new InvalidArgumentError('HostConfig.Init: must be a boolean');
  return {
    modes,
    dns: checkDnsOptions(hc),
    groupAdd: checkGroupAdd(hc.GroupAdd),
    init: init === true,
    mounts: parseMounts(hc.Mounts),
  };
}

/**
 * userMountsDevShm tells whether a stored HostConfig mounts something of the user's at
 * /dev/shm (Binds, Mounts or Tmpfs), which then replaces the container's IPC /dev/shm.
 */
export function userMountsDevShm(hc: { Binds?: unknown; Mounts?: unknown; Tmpfs?: unknown }): boolean {
  const dests: string[] = [];
  if (Array.isArray(hc.Binds)) for (const b of hc.Binds as string[]) dests.push(parseBind(b).destination);
  for (const m of parseMounts(hc.Mounts)) dests.push(m.target);
  if (hc.Tmpfs !== null && typeof hc.Tmpfs === 'object') dests.push(...Object.keys(hc.Tmpfs));
  return mountsDevShm(dests);
}
