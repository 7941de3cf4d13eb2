/**
 * HostConfig.Sysctls checked at create with the rules runc 1.1 applies when it starts the
 * container (libcontainer/configs/validate `sysctl`), so a sysctl runc would refuse is a 400 at
 * create rather than a failed start: only namespaced sysctls, each allowed only when the
 * container has its own namespace of that kind.
 */
import { InvalidArgumentError } from '../errors/index.js';

/** IPC_SYSCTLS are the System V IPC sysctls of the IPC namespace (fs.mqueue.* too). */
export const IPC_SYSCTLS: ReadonlySet<string> = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** SysctlNamespaces says which namespaces the container shares with the host. */
export interface SysctlNamespaces {
  ipcHost: boolean;
  netHost: boolean;
  utsHost: boolean;
}

/**
 * checkSysctls refuses (InvalidArgumentError naming HostConfig.Sysctls, runc's wording) a
 * sysctl that is not namespaced or whose namespace is the host's: kernel.msg*, kernel.sem,
 * kernel.shm* and fs.mqueue.* need a private IPC namespace, net.* a private network
 * namespace, kernel.domainname a private UTS namespace; kernel.hostname conflicts with the
 * hostname field; anything else (`kernel.core_pattern`) is not in a separate namespace.
 * Values must be strings.
 */
export function checkSysctls(sysctls: unknown, ns: SysctlNamespaces): void {
  if (sysctls === undefined || sysctls === null) return;
  if (typeof sysctls !== 'object' || Array.isArray(sysctls))
    throw new InvalidArgumentError('HostConfig.Sysctls: must be a map of strings');
  for (const [raw, value] of Object.entries(sysctls as Record<string, unknown>)) {
    const key = dotted(raw);
    const bad = (why: string): never => {
      throw new InvalidArgumentError(`HostConfig.Sysctls: ${why}`);
    };
    if (typeof value !== 'string') bad(`value of ${JSON.stringify(raw)} must be a string`);
    if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) {
      if (ns.ipcHost) bad(`sysctl ${JSON.stringify(key)} is not allowed in the hosts ipc namespace`);
      continue;
    }
    if (key.startsWith('net.')) {
      if (ns.netHost) bad(`sysctl ${JSON.stringify(key)} not allowed in host network namespace`);
      continue;
    }
    if (!ns.utsHost) {
      if (key === 'kernel.domainname') continue;
      if (key === 'kernel.hostname')
        bad(`sysctl ${JSON.stringify(key)} is not allowed as it conflicts with the OCI "hostname" field`);
    }
    bad(`sysctl ${JSON.stringify(key)} is not in a separate kernel namespace`);
  }
}

/**
 * dotted spells a sysctl with `/` separators (`net/ipv4/conf/eno2.100/rp_filter`) with dots
 * (`net.ipv4.conf.eno2/100.rp_filter`), as runc does before checking it.
 */
export function dotted(key: string): string {
  const first = key.search(/[./]/);
  if (first === -1 || key[first] === '.') return key;
  return key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}
