/**
 * The `local` volume driver as dockerd's (moby `volume/local/local.go`, `local_unix.go`): a volume
 * is a directory `<root>/<name>/_data`; with the options `type`, `device` and `o` that directory is
 * a mount point, the device mounted there (`mount -t <type> -o <o> <device> <_data>`: tmpfs,
 * a bind with `type=none o=bind`, any file system the host can mount) while the volume is in use.
 * `size` needs quota support dockerd only has on xfs/btrfs project quotas: refused.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { InvalidArgumentError } from '../../errors/index.js';

const execFileP = promisify(execFile);

/** VALID_OPTS are the local driver's option keys (moby `validOpts`). */
const VALID_OPTS = new Set(['type', 'o', 'device', 'size']);
/** MANDATORY_OPTS: an option needs the others listed (moby `mandatoryOpts`). */
const MANDATORY_OPTS: Readonly<Record<string, readonly string[]>> = {
  device: ['type'],
  type: ['device'],
  o: ['device', 'type'],
};

/** RESTRICTED_NAME_CHARS and the pattern of a local volume name (moby `names.RestrictedNamePattern`). */
export const RESTRICTED_NAME_CHARS = '[a-zA-Z0-9][a-zA-Z0-9_.-]';
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** validateVolumeName is the local driver's validateName (moby wording). */
export function validateVolumeName(name: string): void {
  if (name.length === 1) {
    throw new InvalidArgumentError(
      `create ${name}: volume name is too short, names should be at least two alphanumeric characters`,
    );
  }
  if (!VOLUME_NAME.test(name)) {
    throw new InvalidArgumentError(
      `create ${name}: ${JSON.stringify(name)} includes invalid characters for a local volume name, only ${JSON.stringify(RESTRICTED_NAME_CHARS)} are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/** ramInBytes parses a go-units RAMInBytes size (`10m`, `1.5GiB`, `512`). */
export function ramInBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?(i?[bB])?$/.exec(s.trim());
  if (!m) throw new InvalidArgumentError(`invalid size: '${s}'`);
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 }[
    (m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g' | 't' | 'p'
  ];
  return Math.floor(Number(m[1]) * mult);
}

/**
 * validateLocalOptions is moby's `Root.validateOpts` for `name`: known keys only, `size`
 * refused (no quota support), and type/device/o given together.
 */
export function validateLocalOptions(name: string, opts: Readonly<Record<string, string>>): void {
  const err = (why: string) => new InvalidArgumentError(`create ${name}: ${why}`);
  for (const k of Object.keys(opts))
    if (!VALID_OPTS.has(k)) throw err(`invalid option: ${JSON.stringify(k)}`);
  if (opts.size !== undefined) {
    let size: number;
    try {
      size = ramInBytes(opts.size);
    } catch (e) {
      throw err((e as Error).message);
    }
    if (size > 0) throw err('quota size requested but no quota support');
  }
  for (const [k, needs] of Object.entries(MANDATORY_OPTS)) {
    if (opts[k] === undefined) continue;
    for (const n of needs)
      if (opts[n] === undefined) throw err(`missing required option: ${JSON.stringify(n)}`);
  }
  if (opts.type !== undefined && opts.type.startsWith('-')) throw err(`invalid option type: ${opts.type}`);
  if (opts.device !== undefined && opts.device.startsWith('-'))
    throw err(`invalid option device: ${opts.device}`);
}

/** needsMount tells whether a local volume with these options is a mount (type and device set). */
export function needsMount(opts: Readonly<Record<string, string>>): boolean {
  return opts.device !== undefined && opts.device !== '' && opts.type !== undefined;
}

import { isMountPoint } from '../../host/mountinfo.js';
export { isMountPoint };

/** mountVolume mounts the volume's device at `path` (moby localVolume.mount). */
export async function mountVolume(opts: Readonly<Record<string, string>>, path: string): Promise<void> {
  const args = ['-t', opts.type ?? '', ...(opts.o ? ['-o', opts.o] : []), '--', opts.device ?? '', path];
  try {
    await execFileP('mount', args);
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new InvalidArgumentError(
      `error while mounting volume '${path}': failed to mount local volume: ${stderr || (err as Error).message}`,
    );
  }
}

/** unmountVolume unmounts a volume's device (lazily: a container may still be leaving). */
export async function unmountVolume(path: string): Promise<void> {
  if (!(await isMountPoint(path))) return;
  await execFileP('umount', ['-l', path]);
}
