/**
 * Linux capabilities of a Docker container, computed as moby's `oci/caps` package does:
 * `NormalizeLegacyCapabilities` (upper-case, `CAP_` prefix, the `ALL` magic value, unknown and
 * unavailable names refused) and `TweakCapabilities` (privileged gets every capability the
 * daemon has; CapAdd ALL adds all but CapDrop; CapDrop ALL keeps only CapAdd; else default set
 * minus CapDrop plus CapAdd). Pure: the host's capabilities come from the caller
 * (`hostCapabilitiesFromStatus` over /proc/self/status and /proc/sys/kernel/cap_last_cap).
 */
import { InvalidArgumentError } from '../errors/index.js';

/**
 * KNOWN_CAPABILITIES are the capability names by number, as containerd's `pkg/cap` knows them
 * (which moby 26 uses): 0 CAP_CHOWN ... 40 CAP_CHECKPOINT_RESTORE.
 */
export const KNOWN_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
]);

/** DEFAULT_CAPABILITIES is Docker's default capability set (moby `oci/caps/defaults.go`). */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/**
 * HostCapabilities are the capabilities a container can be given on this host: `known` are the
 * names the kernel knows (numbers up to cap_last_cap), `available` those ckptd itself holds
 * (its effective set, which runc, started below it, inherits). A name known but unavailable
 * cannot be granted: runc's capset would fail with "unable to apply caps".
 */
export interface HostCapabilities {
  known: readonly string[];
  available: readonly string[];
}

/**
 * hostCapabilitiesFromStatus reads the effective set (`CapEff:` hex mask) of a
 * /proc/<pid>/status text and the kernel's last capability number (the content of
 * /proc/sys/kernel/cap_last_cap; absent means every known name), as containerd's
 * `cap.Current()`, which moby's `GetAllCapabilities` returns.
 */
export function hostCapabilitiesFromStatus(statusText: string, capLastCap?: string): HostCapabilities {
  const last = capLastCap !== undefined && /^\s*\d+\s*$/.test(capLastCap) ? Number(capLastCap.trim()) : 63;
  const known = KNOWN_CAPABILITIES.filter((_, i) => i <= last);
  const hex = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(statusText)?.[1];
  if (hex === undefined) return { known, available: known };
  const eff = BigInt(`0x${hex}`);
  const available = known.filter((_, i) => ((eff >> BigInt(i)) & 1n) === 1n);
  return { known, available };
}

const ALL = 'ALL';

/**
 * normalizeCapabilities upper-cases each name, adds the `CAP_` prefix and keeps `ALL`, as moby's
 * NormalizeLegacyCapabilities. Errors (InvalidArgumentError, prefixed with `field`):
 * `unknown capability: "CAP_FOO"`, or `capability not supported by your kernel or not available
 * in the current environment: "CAP_X"`.
 */
export function normalizeCapabilities(
  caps: readonly unknown[],
  host: HostCapabilities,
  field = 'HostConfig.CapAdd',
): string[] {
  const out: string[] = [];
  for (const raw of caps) {
    if (typeof raw !== 'string') throw new InvalidArgumentError(`${field}: must be a list of strings`);
    let c = raw.toUpperCase();
    if (c === ALL) {
      out.push(c);
      continue;
    }
    if (!c.startsWith('CAP_')) c = `CAP_${c}`;
    if (!KNOWN_CAPABILITIES.includes(c)) {
      throw new InvalidArgumentError(`${field}: unknown capability: ${JSON.stringify(c)}`);
    }
    if (!host.known.includes(c) || !host.available.includes(c)) {
      throw new InvalidArgumentError(
        `${field}: capability not supported by your kernel or not available in the current environment: ${JSON.stringify(c)}`,
      );
    }
    out.push(c);
  }
  return out;
}

/** CapabilityRequest is the part of HostConfig that decides the capability set. */
export interface CapabilityRequest {
  CapAdd?: readonly unknown[] | null;
  CapDrop?: readonly unknown[] | null;
  Privileged?: boolean;
}

/**
 * tweakCapabilities returns the container's capability set as moby's TweakCapabilities, over
 * Docker's default set: privileged -> every available capability; no CapAdd/CapDrop -> the
 * default set; CapAdd ALL -> every available capability not in CapDrop; CapDrop ALL -> CapAdd
 * only; else default minus CapDrop, then CapAdd appended (duplicates removed: runc would list
 * them once). As in moby, privileged returns before CapAdd/CapDrop are read.
 */
export function tweakCapabilities(req: CapabilityRequest, host: HostCapabilities): string[] {
  if (req.Privileged === true) return [...host.available];
  const adds = req.CapAdd ?? [];
  const drops = req.CapDrop ?? [];
  if (adds.length === 0 && drops.length === 0) return [...DEFAULT_CAPABILITIES];
  const capDrop = normalizeCapabilities(drops, host, 'HostConfig.CapDrop');
  const capAdd = normalizeCapabilities(adds, host, 'HostConfig.CapAdd');
  let caps: string[];
  if (capAdd.includes(ALL)) {
    caps = host.available.filter((c) => !capDrop.includes(c));
  } else if (capDrop.includes(ALL)) {
    caps = capAdd;
  } else {
    caps = [...DEFAULT_CAPABILITIES.filter((c) => !capDrop.includes(c)), ...capAdd];
  }
  return [...new Set(caps)];
}
