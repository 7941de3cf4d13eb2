/**
 * Process options of a Docker container that are not namespaces: `--init` (moby
 * `daemon/oci_linux.go` WithCommonOptions: docker-init bound read-only at /sbin/docker-init and
 * made the entrypoint with `--`) and `--group-add` (moby getUser: runc's
 * user.GetAdditionalGroups against the image's /etc/group, appended after the user's groups).
 */
import { InvalidArgumentError } from '../errors/index.js';
import { parseGroup } from './runtime-spec.js';
import type { RuntimeSpec } from './runtime-spec.js';

/** IN_CONTAINER_INIT_PATH is where dockerd binds its init (moby `inContainerInitPath`). */
export const IN_CONTAINER_INIT_PATH = '/sbin/docker-init';

/** DEFAULT_INIT_BINARY is the host's docker-init: Debian's static tini (package `tini`). */
export const DEFAULT_INIT_BINARY = '/usr/bin/tini-static';

const MAX_ID = 2 ** 31 - 1;

/**
 * applyInit makes the spec run `/sbin/docker-init -- <args>` with the host's init binary bound
 * read-only at /sbin/docker-init, as dockerd does for `HostConfig.Init: true`.
 */
export function applyInit(spec: RuntimeSpec, initBinary: string = DEFAULT_INIT_BINARY): void {
  if (!initBinary.startsWith('/'))
    throw new InvalidArgumentError(`HostConfig.Init: init binary must be an absolute path: ${initBinary}`);
  spec.process.args = [IN_CONTAINER_INIT_PATH, '--', ...spec.process.args];
  spec.mounts.push({
    destination: IN_CONTAINER_INIT_PATH,
    type: 'bind',
    source: initBinary,
    options: ['bind', 'ro'],
  });
}

/** groupAddNeedsFile tells whether some GroupAdd entry is a name (resolving it needs /etc/group). */
export function groupAddNeedsFile(groupAdd: readonly string[]): boolean {
  return groupAdd.some((g) => !/^[0-9]+$/.test(g));
}

/** checkGroupAdd returns HostConfig.GroupAdd as a string list (400 for anything else). */
export function checkGroupAdd(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((g) => typeof g === 'string'))
    throw new InvalidArgumentError('HostConfig.GroupAdd: must be an array of strings');
  return v as string[];
}

/**
 * additionalGroups resolves GroupAdd as runc's user.GetAdditionalGroups: each entry is a group
 * name or gid found in /etc/group, else a number in 0..2^31-1; a gid is taken once. Errors
 * are InvalidArgumentError naming HostConfig.GroupAdd with runc's wording (`Unable to find
 * group x: no matching entries in group file`).
 */
export function additionalGroups(groupAdd: readonly string[], groupText?: string): number[] {
  const groups = parseGroup(groupText);
  const out: number[] = [];
  const seen = new Set<number>();
  for (const ag of groupAdd) {
    const found = groups.find((g) => (g.name === ag || String(g.gid) === ag) && !seen.has(g.gid));
    let gid: number;
    if (found !== undefined) gid = found.gid;
    else {
      if (!/^[+-]?[0-9]+$/.test(ag))
        throw new InvalidArgumentError(
          `HostConfig.GroupAdd: Unable to find group ${ag}: no matching entries in group file`,
        );
      gid = Number(ag);
      if (gid < 0 || gid > MAX_ID)
        throw new InvalidArgumentError(`HostConfig.GroupAdd: uids and gids must be in range 0-${MAX_ID}`);
    }
    if (!seen.has(gid)) out.push(gid);
    seen.add(gid);
  }
  return out;
}
