/**
 * Every field of POST /containers/create (Docker API 1.47: `container.Config`, `HostConfig` with
 * its embedded `Resources`, `NetworkingConfig`) and what ckptd does with it: applied as dockerd
 * applies it, refused with a 400 naming the field, or ignored because dockerd ignores it too on
 * Linux. A field the table does not list is refused when set. A unit test walks Docker's full
 * list against these tables.
 *
 * "Set" means different from the zero value the docker CLI and SDKs send for an option the user
 * did not give (`0`, `""`, `false`, `null`, `[]`, `{}`, and the few per-field defaults below).
 */
import { InvalidArgumentError } from '../errors/index.js';
import { goArch } from '../host/platform.js';

/** FieldDecision says what ckptd does with one request field. */
export type FieldDecision =
  | { readonly kind: 'applied'; readonly note?: string }
  | { readonly kind: 'refused'; readonly why: string }
  | { readonly kind: 'ignored'; readonly why: string };

const applied = (note?: string): FieldDecision =>
  note === undefined ? { kind: 'applied' } : { kind: 'applied', note };
const refused = (why: string): FieldDecision => ({ kind: 'refused', why });
const ignored = (why: string): FieldDecision => ({ kind: 'ignored', why });

/** CONFIG_FIELDS are the decisions for the top-level `container.Config` fields of a create body. */
export const CONFIG_FIELDS: Readonly<Record<string, FieldDecision>> = Object.freeze({
  Hostname: applied(),
  Domainname: applied(),
  User: applied(),
  AttachStdin: applied('recorded; the client attaches'),
  AttachStdout: applied('recorded; the client attaches'),
  AttachStderr: applied('recorded; the client attaches'),
  ExposedPorts: applied('recorded in Config and committed images; nothing is published'),
  Tty: applied(),
  OpenStdin: applied(),
  StdinOnce: applied(),
  Env: applied(),
  Cmd: applied(),
  Healthcheck: applied("probes run as execs with dockerd's timing; State.Health, health_status events"),
  ArgsEscaped: ignored('Windows only; dockerd ignores it on Linux'),
  Image: applied(),
  Volumes: applied(
    'anonymous volumes of the local driver (with the image VOLUMEs), copied up from the image',
  ),
  WorkingDir: applied(),
  Entrypoint: applied(),
  NetworkDisabled: applied('the container gets no network (as NetworkMode none)'),
  MacAddress: refused('ckptd has no bridge network to give the container a MAC address'),
  OnBuild: applied('recorded in Config and committed images'),
  Labels: applied(),
  StopSignal: applied(),
  StopTimeout: applied(),
  Shell: applied('recorded in Config and committed images'),
  HostConfig: applied(),
  NetworkingConfig: applied('only an empty endpoint for the none or host network'),
});

/** HOST_CONFIG_FIELDS are the decisions for `HostConfig` fields (Resources included, flattened). */
export const HOST_CONFIG_FIELDS: Readonly<Record<string, FieldDecision>> = Object.freeze({
  Binds: applied('host paths, named volumes (created on demand) and anonymous volumes'),
  ContainerIDFile: ignored('written by the client; dockerd ignores it'),
  LogConfig: applied('json-file without options only'),
  NetworkMode: applied('none (default) or host'),
  PortBindings: refused('ckptd has no bridge network: ports cannot be published (use NetworkMode host)'),
  RestartPolicy: applied("no, always, unless-stopped, on-failure[:N] with dockerd's back-off"),
  AutoRemove: applied(),
  VolumeDriver: applied('"local" only (the default); other drivers refused'),
  VolumesFrom: refused('not implemented by ckptd: mount the volumes by name instead (-v name:/path)'),
  ConsoleSize: applied(),
  Annotations: applied('passed to the runtime as OCI annotations'),
  CapAdd: applied('moby TweakCapabilities over the default set; names as moby normalizes them'),
  CapDrop: applied('moby TweakCapabilities (ALL keeps only CapAdd)'),
  CgroupnsMode: applied('private or host (default: private on cgroup v2, host on v1, as dockerd)'),
  Dns: applied("written into the container's resolv.conf"),
  DnsOptions: applied("written into the container's resolv.conf"),
  DnsSearch: applied("written into the container's resolv.conf"),
  ExtraHosts: applied(),
  GroupAdd: applied("names resolved against the image's /etc/group, numbers as given"),
  IpcMode: applied('private (default), shareable, host, none or container:<name|id>'),
  Cgroup: refused("joining another container's cgroup is not supported by ckptd"),
  Links: refused('links need a bridge network, which ckptd does not have'),
  OomScoreAdj: applied('process.oomScoreAdj, -1000..1000'),
  PidMode: applied('private, host or container:<name|id>'),
  Privileged: applied('every capability ckptd holds, host devices, no seccomp/masked paths, rw /sys'),
  PublishAllPorts: refused('ckptd has no bridge network: ports cannot be published'),
  ReadonlyRootfs: applied(),
  SecurityOpt: applied('seccomp, no-new-privileges, systempaths; apparmor/label only unconfined/disable'),
  StorageOpt: refused('storage options are not supported by the containerd snapshotters ckptd uses'),
  Tmpfs: applied(),
  UTSMode: applied('private or host'),
  UsernsMode: applied('"" or host: ckptd never uses user namespaces'),
  ShmSize: applied('size of the private or shareable /dev/shm; negative refused'),
  Sysctls: applied('namespaced sysctls only, checked at create as runc checks them'),
  Runtime: applied('"" or runc (io.containerd.runc.v2)'),
  Isolation: applied('"" or default on Linux'),
  Mounts: applied('bind, tmpfs and volume (local driver; volume-subpath refused)'),
  MaskedPaths: applied('replaces the default masked paths'),
  ReadonlyPaths: applied('replaces the default read-only paths'),
  Init: applied('docker-init (Debian tini-static) at /sbin/docker-init'),
  // Resources
  CpuShares: applied('cpu.shares (2..262144)'),
  Memory: applied('memory limit (at least 6MB); MemorySwap defaults to twice it, as dockerd'),
  NanoCpus: applied('CFS quota over a 100ms period; not with CpuPeriod/CpuQuota'),
  CgroupParent: applied('cgroupfs: the container cgroup is /<parent>/<id>; systemd slices refused'),
  BlkioWeight: applied('10..1000, refused when the host has no blkio.weight/io.weight'),
  BlkioWeightDevice: applied('refused when the host has no blkio.weight_device'),
  BlkioDeviceReadBps: applied('block device path -> major:minor'),
  BlkioDeviceWriteBps: applied('block device path -> major:minor'),
  BlkioDeviceReadIOps: applied('block device path -> major:minor'),
  BlkioDeviceWriteIOps: applied('block device path -> major:minor'),
  CpuPeriod: applied('1000..1000000 microseconds'),
  CpuQuota: applied('at least 1000 microseconds, -1 for none'),
  CpuRealtimePeriod: refused('real-time CPU scheduling is not supported by ckptd'),
  CpuRealtimeRuntime: refused('real-time CPU scheduling is not supported by ckptd'),
  CpusetCpus: applied('checked against the host cpuset'),
  CpusetMems: applied('checked against the host cpuset'),
  Devices: applied('device nodes (a directory maps every node below it) and their cgroup rules'),
  DeviceCgroupRules: applied("moby's rule format: 'c 1:3 rwm'"),
  DeviceRequests: refused('device requests (GPUs) need device drivers ckptd does not have'),
  KernelMemory: refused('kernel memory limits are deprecated by the kernel and not supported'),
  KernelMemoryTCP: refused('kernel TCP memory limits are not supported by ckptd'),
  MemoryReservation: applied('memory soft limit (at least 6MB)'),
  MemorySwap: applied('memory+swap; -1 unlimited; at least Memory'),
  MemorySwappiness: applied('0..100; refused on cgroup v2 (no memory.swappiness)'),
  OomKillDisable: applied('refused on cgroup v2, which cannot disable the OOM killer'),
  PidsLimit: applied('0 or -1: unlimited'),
  Ulimits: applied('process.rlimits; soft <= hard'),
  CpuCount: refused('Windows only'),
  CpuPercent: refused('Windows only'),
  IOMaximumIOps: refused('Windows only'),
  IOMaximumBandwidth: refused('Windows only'),
});

/**
 * isZero tells whether a field value is what clients send for an option the user did not give.
 * Per-field defaults: a RestartPolicy named "" or "no" with no retries, a LogConfig of type ""
 * or json-file with no options, ConsoleSize [0, 0], MemorySwappiness -1, PidsLimit -1.
 */
export function isZero(field: string, v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0 || (field === 'ConsoleSize' && v.every((x) => x === 0));
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Object.keys(o).length === 0) return true;
    if (field === 'RestartPolicy') {
      return (o.Name === undefined || o.Name === '' || o.Name === 'no') && !o.MaximumRetryCount;
    }
    if (field === 'LogConfig') {
      const cfg = o.Config as Record<string, unknown> | null | undefined;
      return (
        (o.Type === undefined || o.Type === '' || o.Type === 'json-file') &&
        (cfg === undefined || cfg === null || Object.keys(cfg).length === 0)
      );
    }
    return false;
  }
  if (v === -1 && (field === 'MemorySwappiness' || field === 'PidsLimit')) return true;
  return false;
}

function refuse(where: string, field: string, why: string): never {
  throw new InvalidArgumentError(`${where}${field}: ${why}`);
}

function checkFields(
  where: string,
  obj: Record<string, unknown>,
  table: Readonly<Record<string, FieldDecision>>,
): void {
  for (const [field, value] of Object.entries(obj)) {
    if (isZero(field, value)) continue;
    const d = Object.hasOwn(table, field) ? table[field] : undefined;
    if (d === undefined) refuse(where, field, 'unknown field (not part of Docker API 1.47)');
    if (d.kind === 'refused') refuse(where, field, d.why);
  }
}

/** VALUE_CHECKS refuse values of applied fields that ckptd cannot apply (the field itself is applied). */
function checkValues(hc: Record<string, unknown>): void {
  const lc = hc.LogConfig as { Type?: unknown; Config?: unknown } | undefined;
  if (lc !== undefined && lc !== null && !isZero('LogConfig', lc)) {
    if (lc.Type !== undefined && lc.Type !== '' && lc.Type !== 'json-file') {
      refuse(
        'HostConfig.',
        'LogConfig.Type',
        `logging driver ${JSON.stringify(lc.Type)} is not supported by ckptd (json-file only)`,
      );
    }
    refuse(
      'HostConfig.',
      'LogConfig.Config',
      'json-file options (max-size, max-file, ...) are not supported by ckptd',
    );
  }
  const userns = hc.UsernsMode;
  if (typeof userns === 'string' && userns !== '' && userns !== 'host') {
    refuse(
      'HostConfig.',
      'UsernsMode',
      `user namespaces are not supported by ckptd (${JSON.stringify(userns)})`,
    );
  }
  const runtime = hc.Runtime;
  if (
    typeof runtime === 'string' &&
    runtime !== '' &&
    runtime !== 'runc' &&
    runtime !== 'io.containerd.runc.v2'
  ) {
    refuse('HostConfig.', 'Runtime', `unknown or invalid runtime name: ${runtime}`);
  }
  const isolation = hc.Isolation;
  if (typeof isolation === 'string' && isolation !== '' && isolation !== 'default') {
    refuse('HostConfig.', 'Isolation', `invalid isolation '${isolation}' on linux`);
  }
  const vd = hc.VolumeDriver;
  if (vd === 'local')
    delete hc.VolumeDriver; // the default driver: nothing to apply
  else if (vd !== undefined && vd !== null && vd !== '')
    refuse(
      'HostConfig.',
      'VolumeDriver',
      `volume driver ${JSON.stringify(vd)} is not supported by ckptd (only "local")`,
    );
}

/**
 * checkNetworkingConfig accepts only what the none and host networks can carry: endpoint
 * entries without addresses, aliases, links or driver options.
 */
function checkNetworkingConfig(nc: unknown): void {
  if (nc === undefined || nc === null) return;
  if (typeof nc !== 'object' || Array.isArray(nc)) refuse('', 'NetworkingConfig', 'must be an object');
  for (const [k, v] of Object.entries(nc as Record<string, unknown>)) {
    if (k !== 'EndpointsConfig') {
      if (!isZero(k, v)) refuse('NetworkingConfig.', k, 'unknown field (not part of Docker API 1.47)');
      continue;
    }
    if (v === null || v === undefined) continue;
    if (typeof v !== 'object' || Array.isArray(v))
      refuse('NetworkingConfig.', 'EndpointsConfig', 'must be an object');
    for (const [net, ep] of Object.entries(v as Record<string, unknown>)) {
      if (ep === null || ep === undefined) continue;
      for (const [f, val] of Object.entries(ep as Record<string, unknown>)) {
        if (!isZero(f, val)) {
          refuse(
            `NetworkingConfig.EndpointsConfig.${net}.`,
            f,
            'endpoint settings need a bridge network, which ckptd does not have',
          );
        }
      }
    }
  }
}

/**
 * checkCreateRequest refuses (InvalidArgumentError, 400) the first field of a create body that
 * ckptd would not apply: a refused or unknown field that is set, or a value of an applied field
 * ckptd cannot honour. It may normalise the body in place (drop a `local` VolumeDriver).
 */
export function checkCreateRequest(body: Record<string, unknown>): void {
  const { HostConfig: hc, NetworkingConfig: nc, ...config } = body;
  checkFields('', config, CONFIG_FIELDS);
  if (hc !== undefined && hc !== null) {
    if (typeof hc !== 'object' || Array.isArray(hc)) refuse('', 'HostConfig', 'must be an object');
    const h = hc as Record<string, unknown>;
    checkValues(h);
    checkFields('HostConfig.', h, HOST_CONFIG_FIELDS);
  }
  checkNetworkingConfig(nc);
}

/**
 * checkPlatform refuses a create `platform` ckptd cannot run: only linux on the host's
 * architecture (dockerd: the image's platform must match).
 */
export function checkPlatform(platform: string | undefined, hostArch: string = goArch(process.arch)): void {
  if (platform === undefined || platform === '') return;
  const [os = '', arch = ''] = platform.toLowerCase().split('/');
  if (os !== 'linux' || (arch !== '' && arch !== hostArch)) {
    throw new InvalidArgumentError(
      `platform: ${platform} cannot run on this host (linux/${hostArch}); ckptd does not emulate other platforms`,
    );
  }
}

/** goArch spells a Node `process.arch` as Go's GOARCH, which platforms use (host/platform.ts). */
export { goArch };

const KIND_TEXT = { applied: 'applied', refused: 'refused (400)', ignored: 'ignored, as dockerd' } as const;

/**
 * renderFieldTable renders the decisions as the README's markdown table (field, decision,
 * note): `npm run fields` writes it between the README's `fields` markers, and a unit test
 * fails when the README is stale.
 */
export function renderFieldTable(): string {
  const rows = [
    '| field | decision | how / why |',
    '|---|---|---|',
    ...[
      ...Object.entries(CONFIG_FIELDS).map(([k, d]) => [`\`${k}\``, d] as const),
      ...Object.entries(HOST_CONFIG_FIELDS).map(([k, d]) => [`\`HostConfig.${k}\``, d] as const),
    ].map(([name, d]) => {
      const note = d.kind === 'applied' ? (d.note ?? '') : d.why;
      return `| ${name} | ${KIND_TEXT[d.kind]} | ${note.replaceAll('|', '\\|')} |`;
    }),
  ];
  return `${rows.join('\n')}\n`;
}

/** FIELD_TABLE_MARKERS delimit the generated table in README.md. */
export const FIELD_TABLE_MARKERS = ['<!-- fields:start -->', '<!-- fields:end -->'] as const;
