/**
 * Seccomp for Docker containers, as moby's `profiles/seccomp` package: a profile in Docker's
 * JSON format (the OCI `LinuxSeccomp` plus `archMap`, and syscall rules with `includes` /
 * `excludes` filters on capabilities, architectures and kernel version) is turned into the OCI
 * `linux.seccomp` runc applies, for this host's architecture and kernel and the container's
 * bounding capability set (moby `setupSeccomp`). The default profile is moby's own
 * `profiles/seccomp/default.json`, committed as data beside this file (see DEFAULT_PROFILE_SOURCE).
 * Pure: arch, kernel and capabilities come from the caller.
 */
import { InvalidArgumentError } from '../errors/index.js';
import defaultProfileJson from './seccomp/default.json' with { type: 'json' };

/**
 * DEFAULT_PROFILE_SOURCE names where `seccomp/default.json` comes from, byte for byte: the
 * Debian package and the path it installs the file at (a unit test compares the two when that
 * version of the package is installed; `scripts/update-seccomp-profile.sh` refreshes it).
 */
export const DEFAULT_PROFILE_SOURCE = Object.freeze({
  package: 'golang-github-docker-docker-dev',
  version: '26.1.5+dfsg1-9+deb13u1',
  path: '/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json',
});

/** LinuxSeccompArg is an OCI syscall argument condition. */
export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** LinuxSyscall is an OCI seccomp rule. */
export interface LinuxSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

/** LinuxSeccomp is the OCI runtime spec's `linux.seccomp`. */
export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

/** KernelVersion is the "<kernel>.<major>" pair moby compares (3.12.25-gentoo is 3.12). */
export interface KernelVersion {
  kernel: number;
  major: number;
}

/** SeccompTarget is what a profile is specialised for. */
export interface SeccompTarget {
  /** goArch is the host's GOARCH spelling (amd64, arm64, 386, ...). */
  goArch: string;
  /** kernel is the host's kernel version (parseKernelRelease(os.release())). */
  kernel: KernelVersion;
  /** bounding is the container's final bounding capability set. */
  bounding: readonly string[];
}

/** GO_TO_NATIVE maps GOARCH to libseccomp's arch names (moby `goToNative`). */
const GO_TO_NATIVE: Readonly<Record<string, string>> = {
  '386': 'x86',
  amd64: 'amd64',
  arm: 'arm',
  arm64: 'arm64',
  mips64: 'mips64',
  mips64p32: 'mips64n32',
  mips64le: 'mipsel64',
  mips64p32le: 'mips3l64n32',
  mipsle: 'mipsel',
  ppc: 'ppc',
  ppc64: 'ppc64',
  ppc64le: 'ppc64le',
  s390: 's390',
  s390x: 's390x',
};

/** NATIVE_TO_SECCOMP maps libseccomp arch names to OCI `SCMP_ARCH_*` (moby `nativeToSeccomp`). */
const NATIVE_TO_SECCOMP: Readonly<Record<string, string>> = {
  x86: 'SCMP_ARCH_X86',
  amd64: 'SCMP_ARCH_X86_64',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  mips64: 'SCMP_ARCH_MIPS64',
  mips64n32: 'SCMP_ARCH_MIPS64N32',
  mipsel64: 'SCMP_ARCH_MIPSEL64',
  mips3l64n32: 'SCMP_ARCH_MIPSEL64N32',
  mipsle: 'SCMP_ARCH_MIPSEL',
  ppc: 'SCMP_ARCH_PPC',
  ppc64: 'SCMP_ARCH_PPC64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  s390: 'SCMP_ARCH_S390',
  s390x: 'SCMP_ARCH_S390X',
};

/**
 * parseKernelRelease reads "<kernel>.<major>" from a kernel release string (`uname -r`), as
 * moby's parseRelease (`%d.%d`): "6.18.44-fc" is 6.18.
 */
export function parseKernelRelease(release: string): KernelVersion {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) throw new InvalidArgumentError(`failed to parse kernel version ${JSON.stringify(release)}`);
  return { kernel: Number(m[1]), major: Number(m[2]) };
}

type Json = Record<string, unknown>;

const fail = (why: string): never => {
  throw new InvalidArgumentError(`Decoding seccomp profile failed: ${why}`);
};

/**
 * fields reads a JSON object the way Go's encoding/json fills a struct: keys match field names
 * exactly or, failing that, case-insensitively. Unlike Go, a key that names no field is refused
 * (ckptd applies every field it accepts): a typo must not silently weaken a profile.
 */
function fields(v: unknown, where: string, names: readonly string[]): Map<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(`${where} must be an object`);
  const out = new Map<string, unknown>();
  for (const [k, val] of Object.entries(v as Json)) {
    const name = names.includes(k) ? k : names.find((n) => n.toLowerCase() === k.toLowerCase());
    if (name === undefined) return fail(`${where}: unknown field ${JSON.stringify(k)}`);
    if (val === null) continue; // Go leaves the field at its zero value
    if (!out.has(name) || names.includes(k)) out.set(name, val);
  }
  return out;
}

function str(v: unknown, where: string): string {
  if (v === undefined) return '';
  if (typeof v !== 'string') fail(`${where} must be a string`);
  return v as string;
}

function strList(v: unknown, where: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(`${where} must be a list of strings`);
  return [...(v as string[])];
}

function uint(v: unknown, where: string): number {
  // JSON.parse rounds integers past 2^53: refuse those rather than filter on a different number.
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail(`${where} must be an unsigned integer below 2^53`);
  }
  return v as number;
}

function kernelVersion(v: unknown, where: string): KernelVersion | undefined {
  if (v === undefined || v === '') return undefined;
  const bad = (why = '') =>
    fail(`invalid kernel version: ${JSON.stringify(v)}, expected "<kernel>.<major>"${why} (${where})`);
  if (typeof v !== 'string') return bad();
  const parts = (v as string).split('.');
  if (parts.length !== 2 || !parts.every((p) => /^\d+$/.test(p) && Number(p) <= 255)) return bad();
  const k = { kernel: Number(parts[0]), major: Number(parts[1]) };
  if (k.kernel === 0 && k.major === 0) return bad(': version cannot be 0.0');
  return k;
}

interface Filter {
  caps: string[];
  arches: string[];
  minKernel: KernelVersion | undefined;
}

function filter(v: unknown, where: string): Filter | undefined {
  if (v === undefined) return undefined;
  const f = fields(v, where, ['caps', 'arches', 'minKernel']);
  return {
    caps: strList(f.get('caps'), `${where}.caps`),
    arches: strList(f.get('arches'), `${where}.arches`),
    minKernel: kernelVersion(f.get('minKernel'), `${where}.minKernel`),
  };
}

function kernelAtLeast(have: KernelVersion, want: KernelVersion): boolean {
  return have.kernel > want.kernel || (have.kernel === want.kernel && have.major >= want.major);
}

function args(v: unknown, where: string): LinuxSeccompArg[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) return fail(`${where} must be a list`);
  return v.map((a, i) => {
    const w = `${where}[${i}]`;
    const f = fields(a, w, ['index', 'value', 'valueTwo', 'op']);
    const out: LinuxSeccompArg = {
      index: f.has('index') ? uint(f.get('index'), `${w}.index`) : 0,
      value: f.has('value') ? uint(f.get('value'), `${w}.value`) : 0,
      op: str(f.get('op'), `${w}.op`),
    };
    const two = f.has('valueTwo') ? uint(f.get('valueTwo'), `${w}.valueTwo`) : 0;
    if (two !== 0) out.valueTwo = two; // omitempty, as Go marshals it
    return out;
  });
}

/**
 * buildSeccomp specialises a Docker seccomp profile (parsed JSON) for `target`, as moby's
 * setupSeccomp: no defaultAction and no syscalls means no seccomp (undefined); `archMap` gives
 * the host arch and its sub-arches; each rule is kept unless its `excludes` match (an arch, any
 * bounding capability, a kernel at least minKernel) or its `includes` do not (the arch, all
 * capabilities, the kernel at least minKernel). Errors are InvalidArgumentError with moby's text.
 */
export function buildSeccomp(profile: unknown, target: SeccompTarget): LinuxSeccomp | undefined {
  const p = fields(profile, 'profile', [
    'defaultAction',
    'defaultErrnoRet',
    'architectures',
    'flags',
    'listenerPath',
    'listenerMetadata',
    'archMap',
    'syscalls',
  ]);
  const rawSyscalls = p.get('syscalls');
  if (rawSyscalls !== undefined && !Array.isArray(rawSyscalls)) fail('syscalls must be a list');
  const syscalls = (rawSyscalls ?? []) as unknown[];
  const defaultAction = str(p.get('defaultAction'), 'defaultAction');
  if (defaultAction === '' && syscalls.length === 0) return undefined;

  const architectures = strList(p.get('architectures'), 'architectures');
  const rawArchMap = p.get('archMap');
  if (rawArchMap !== undefined && !Array.isArray(rawArchMap)) fail('archMap must be a list');
  const archMap = ((rawArchMap ?? []) as unknown[]).map((a, i) => {
    const f = fields(a, `archMap[${i}]`, ['architecture', 'subArchitectures']);
    return {
      arch: str(f.get('architecture'), `archMap[${i}].architecture`),
      sub: strList(f.get('subArchitectures'), `archMap[${i}].subArchitectures`),
    };
  });
  if (architectures.length > 0 && archMap.length > 0) {
    throw new InvalidArgumentError(
      "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'",
    );
  }

  const out: LinuxSeccomp = { defaultAction };
  if (p.has('defaultErrnoRet')) out.defaultErrnoRet = uint(p.get('defaultErrnoRet'), 'defaultErrnoRet');
  const arch = GO_TO_NATIVE[target.goArch] ?? target.goArch;
  const seccompArch = NATIVE_TO_SECCOMP[arch];
  const entry = seccompArch === undefined ? undefined : archMap.find((a) => a.arch === seccompArch);
  if (entry !== undefined) architectures.push(entry.arch, ...entry.sub);
  if (architectures.length > 0) out.architectures = architectures;
  const flags = strList(p.get('flags'), 'flags');
  if (flags.length > 0) out.flags = flags;
  const listenerPath = str(p.get('listenerPath'), 'listenerPath');
  if (listenerPath !== '') out.listenerPath = listenerPath;
  const listenerMetadata = str(p.get('listenerMetadata'), 'listenerMetadata');
  if (listenerMetadata !== '') out.listenerMetadata = listenerMetadata;

  const rules: LinuxSyscall[] = [];
  syscalls.forEach((raw, i) => {
    const where = `syscalls[${i}]`;
    const f = fields(raw, where, [
      'names',
      'action',
      'errnoRet',
      'args',
      'name',
      'comment',
      'includes',
      'excludes',
    ]);
    let names = strList(f.get('names'), `${where}.names`);
    const name = str(f.get('name'), `${where}.name`);
    str(f.get('comment'), `${where}.comment`);
    if (name !== '') {
      if (names.length > 0) {
        throw new InvalidArgumentError(
          "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'",
        );
      }
      names = [name];
    }
    const ex = filter(f.get('excludes'), `${where}.excludes`);
    const inc = filter(f.get('includes'), `${where}.includes`);
    const rule: LinuxSyscall = { names, action: str(f.get('action'), `${where}.action`) };
    if (f.has('errnoRet')) rule.errnoRet = uint(f.get('errnoRet'), `${where}.errnoRet`);
    const a = args(f.get('args'), `${where}.args`);
    if (a !== undefined && a.length > 0) rule.args = a;

    if (ex !== undefined) {
      if (ex.arches.includes(arch)) return;
      if (ex.caps.some((c) => target.bounding.includes(c))) return;
      if (ex.minKernel !== undefined && kernelAtLeast(target.kernel, ex.minKernel)) return;
    }
    if (inc !== undefined) {
      if (inc.arches.length > 0 && !inc.arches.includes(arch)) return;
      if (!inc.caps.every((c) => target.bounding.includes(c))) return;
      if (inc.minKernel !== undefined && !kernelAtLeast(target.kernel, inc.minKernel)) return;
    }
    rules.push(rule);
  });
  if (rules.length > 0) out.syscalls = rules;
  return out;
}

/**
 * loadSeccompProfile parses a profile sent as `seccomp=<JSON>` (the docker CLI sends the file's
 * content) and specialises it (moby LoadProfile). A body that is not JSON is refused with
 * `Decoding seccomp profile failed: ...`.
 */
export function loadSeccompProfile(body: string, target: SeccompTarget): LinuxSeccomp | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return fail((err as Error).message);
  }
  return buildSeccomp(parsed, target);
}

/** DEFAULT_SECCOMP_PROFILE is moby's default profile (parsed `seccomp/default.json`). */
export const DEFAULT_SECCOMP_PROFILE: unknown = defaultProfileJson;

/** defaultSeccomp specialises Docker's default profile for `target` (moby GetDefaultProfile). */
export function defaultSeccomp(target: SeccompTarget): LinuxSeccomp {
  const s = buildSeccomp(DEFAULT_SECCOMP_PROFILE, target);
  if (s === undefined) throw new Error('the default seccomp profile is empty');
  return s;
}
