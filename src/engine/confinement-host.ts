/**
 * The host facts a container's confinement is computed from (oci/confinement.ts), read the way
 * moby reads them: the capabilities ckptd holds (/proc/self/status `CapEff`, bounded by
 * /proc/sys/kernel/cap_last_cap; runc, started below ckptd, can grant no others), the
 * architecture and kernel release, and for a privileged container the host's /dev nodes.
 */
import { readFile } from 'node:fs/promises';
import { hostDevices } from '../host/devices.js';
import { processConfinementHost, type ConfinementHost } from '../oci/confinement.js';

let base: Promise<ConfinementHost> | undefined;

/** confinementHost returns the host facts; devices are listed (afresh) only when `privileged`. */
export async function confinementHost(privileged: boolean): Promise<ConfinementHost> {
  base ??= (async () => {
    const [status, last] = await Promise.all([
      readFile('/proc/self/status', 'utf8'),
      readFile('/proc/sys/kernel/cap_last_cap', 'utf8').catch(() => undefined),
    ]);
    return processConfinementHost(status, last);
  })();
  const host = await base;
  return privileged ? { ...host, devices: await hostDevices() } : host;
}
