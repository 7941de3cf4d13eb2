/**
 * `HostConfig.SecurityOpt`, parsed as moby's `parseSecurityOpt` (daemon/daemon_unix.go) reads it,
 * for a host without AppArmor or SELinux (what ckptd runs on; GET /info lists neither):
 * - `no-new-privileges`, `no-new-privileges=<bool>` (Go's strconv.ParseBool spellings);
 * - `seccomp=unconfined`, `seccomp=builtin` (the default), `seccomp=<profile JSON>` (the docker
 *   CLI reads the file named by `--security-opt seccomp=FILE` and sends its content);
 * - `apparmor=unconfined` (true without AppArmor); any other profile is refused, since dockerd
 *   would accept it and confine nothing;
 * - `label=disable` / `disable` (true without SELinux); other `label=` options are refused;
 * - `systempaths=unconfined`: no masked or read-only paths (what the docker CLI turns this
 *   option into: empty MaskedPaths and ReadonlyPaths);
 * - `key:value` is read as `key=value` (dockerd's deprecated separator).
 * Anything else is refused with dockerd's words (`invalid --security-opt 1: "x"` when there is
 * no separator, `invalid --security-opt 2: "x"` for an unknown key or a bad boolean).
 */
import { InvalidArgumentError } from '../errors/index.js';

/** SecurityOptions is what SecurityOpt asks for. */
export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** seccomp: 'default' (builtin), 'unconfined', or a profile's JSON text. */
  seccomp: 'default' | 'unconfined' | { profile: string };
  /** systemPathsUnconfined: no masked/read-only paths (`systempaths=unconfined`). */
  systemPathsUnconfined: boolean;
}

const FIELD = 'HostConfig.SecurityOpt';

/** parseGoBool is Go's strconv.ParseBool. */
function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/**
 * parseSecurityOpt reads SecurityOpt (null/absent = none). Errors are InvalidArgumentError whose
 * message starts with `HostConfig.SecurityOpt: `.
 */
export function parseSecurityOpt(opts: readonly unknown[] | null | undefined): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, seccomp: 'default', systemPathsUnconfined: false };
  for (const opt of opts ?? []) {
    if (typeof opt !== 'string') throw new InvalidArgumentError(`${FIELD}: must be a list of strings`);
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') continue; // label=disable: SELinux labelling is off on this host
    let sep = -1;
    if (opt.includes('=')) sep = opt.indexOf('=');
    else if (opt.includes(':')) sep = opt.indexOf(':');
    if (sep === -1)
      throw new InvalidArgumentError(`${FIELD}: invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const k = opt.slice(0, sep);
    const v = opt.slice(sep + 1);
    switch (k) {
      case 'label':
        if (v !== 'disable') {
          throw new InvalidArgumentError(
            `${FIELD}: SELinux is not enabled on this host: ${JSON.stringify(opt)} cannot be applied (only label=disable)`,
          );
        }
        break;
      case 'apparmor':
        if (v !== 'unconfined') {
          throw new InvalidArgumentError(
            `${FIELD}: AppArmor is not enabled on this host: profile ${JSON.stringify(v)} cannot be applied (only apparmor=unconfined)`,
          );
        }
        break;
      case 'seccomp':
        if (v === 'unconfined') out.seccomp = 'unconfined';
        else if (v === 'builtin' || v === '') out.seccomp = 'default';
        else out.seccomp = { profile: v };
        break;
      case 'no-new-privileges': {
        const b = parseGoBool(v);
        if (b === undefined)
          throw new InvalidArgumentError(`${FIELD}: invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.noNewPrivileges = b;
        break;
      }
      case 'systempaths':
        if (v !== 'unconfined')
          throw new InvalidArgumentError(`${FIELD}: invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.systemPathsUnconfined = true;
        break;
      default:
        throw new InvalidArgumentError(`${FIELD}: invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return out;
}
