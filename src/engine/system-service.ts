import type { EventsService } from './events.js';
import type { HostFacts } from './host-facts.js';
import { readProcBool } from './host-resources.js';
import type { SysInfo } from '../oci/resources.js';
import type { DockerEvent, EventsOptions, InfoResponse, SystemBackend, VersionResponse } from './system.js';

/** TaskState is a container's state as Docker counts it in /info. */
export type TaskState = 'running' | 'paused' | 'stopped';

/** SystemDeps is what SystemService needs from containerd, as plain functions (fakes in tests). */
export interface SystemDeps {
  /** containerdVersion calls containerd's Version service. */
  containerdVersion(signal?: AbortSignal): Promise<{ version: string; revision: string }>;
  /** containerStates lists every container of the namespace with its task's state. */
  containerStates(signal?: AbortSignal): Promise<TaskState[]>;
  /** imageCount counts the namespace's images. */
  imageCount(signal?: AbortSignal): Promise<number>;
}

/** SystemServiceOptions configures SystemService. */
export interface SystemServiceOptions {
  deps: SystemDeps;
  facts: HostFacts;
  events: EventsService;
  version: string;
  gitCommit: string;
  apiVersion: string;
  minApiVersion: string;
  dataRoot: string;
  snapshotter: string;
  namespace: string;
  containerdAddress: string;
  managedContainerd: boolean;
}

/** SystemService implements SystemBackend: /version, /info and /events from containerd and host facts. */
export class SystemService implements SystemBackend {
  readonly #o: SystemServiceOptions;

  constructor(o: SystemServiceOptions) {
    this.#o = o;
  }

  /** version reports ckptd, containerd, runc and CRIU versions (containerd down -> UnavailableError). */
  async version(signal?: AbortSignal): Promise<VersionResponse> {
    const o = this.#o;
    const ctd = await o.deps.containerdVersion(signal);
    const components: VersionResponse['Components'] = [
      {
        Name: 'Engine',
        Version: o.version,
        Details: {
          ApiVersion: o.apiVersion,
          MinAPIVersion: o.minApiVersion,
          GitCommit: o.gitCommit,
          GoVersion: `node ${process.version}`,
          Os: 'linux',
          Arch: goArch(o.facts.architecture),
          KernelVersion: o.facts.kernelVersion,
          Experimental: 'true',
          BuildTime: '',
        },
      },
      { Name: 'containerd', Version: ctd.version, Details: { GitCommit: ctd.revision } },
    ];
    if (o.facts.runc) {
      components.push({
        Name: 'runc',
        Version: o.facts.runc.version,
        Details: { GitCommit: o.facts.runc.commit },
      });
    }
    if (o.facts.criu) components.push({ Name: 'criu', Version: o.facts.criu.version, Details: {} });
    return {
      Platform: { Name: 'ckptd' },
      Components: components,
      Version: o.version,
      ApiVersion: o.apiVersion,
      MinAPIVersion: o.minApiVersion,
      GitCommit: o.gitCommit,
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: goArch(o.facts.architecture),
      KernelVersion: o.facts.kernelVersion,
      Experimental: true,
      BuildTime: '',
    };
  }

  /** info reports containers by state, images, and host figures (containerd down -> UnavailableError). */
  async info(signal?: AbortSignal): Promise<InfoResponse> {
    const o = this.#o;
    const f = o.facts;
    const [states, images, ctd] = await Promise.all([
      o.deps.containerStates(signal),
      o.deps.imageCount(signal),
      o.deps.containerdVersion(signal),
    ]);
    const count = (s: TaskState): number => states.filter((x) => x === s).length;
    return {
      ID: f.engineId,
      Containers: states.length,
      ContainersRunning: count('running'),
      ContainersPaused: count('paused'),
      ContainersStopped: count('stopped'),
      Images: images,
      Driver: o.snapshotter,
      DriverStatus: [
        ['containerd namespace', o.namespace],
        ['containerd socket', o.containerdAddress],
        ['containerd managed by ckptd', String(o.managedContainerd)],
      ],
      Plugins: { Volume: [], Network: ['host', 'none'], Authorization: null, Log: [] },
      ...cgroupInfo(f.sysInfo),
      IPv4Forwarding: readProcBool('/proc/sys/net/ipv4/ip_forward'),
      BridgeNfIptables: readProcBool('/proc/sys/net/bridge/bridge-nf-call-iptables'),
      BridgeNfIp6tables: readProcBool('/proc/sys/net/bridge/bridge-nf-call-ip6tables'),
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: f.cgroupVersion,
      NEventsListener: 0,
      KernelVersion: f.kernelVersion,
      OperatingSystem: f.operatingSystem,
      OSVersion: f.osVersion,
      OSType: 'linux',
      Architecture: f.architecture,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        AllowNondistributableArtifactsCIDRs: null,
        AllowNondistributableArtifactsHostnames: null,
        InsecureRegistryCIDRs: ['127.0.0.0/8'],
        IndexConfigs: {},
        Mirrors: null,
      },
      NCPU: f.ncpu,
      MemTotal: f.memTotal,
      GenericResources: null,
      DockerRootDir: o.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: f.hostname,
      Labels: [],
      ExperimentalBuild: true,
      ServerVersion: o.version,
      Runtimes: { runc: { path: 'runc' } },
      DefaultRuntime: 'runc',
      Swarm: {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: ctd.revision },
      RuncCommit: { ID: f.runc?.commit ?? '' },
      InitCommit: { ID: '' },
      // as dockerd: no AppArmor or SELinux here; containers get the builtin seccomp profile and,
      // on cgroup v2, a private cgroup namespace
      SecurityOptions: [
        'name=seccomp,profile=builtin',
        ...(f.cgroupVersion === '2' ? ['name=cgroupns'] : []),
      ],
      Warnings: cgroupWarnings(f.sysInfo),
    };
  }

  /** events streams Docker events from the events hub. */
  events(opts: EventsOptions, signal: AbortSignal): AsyncIterable<DockerEvent> {
    return this.#o.events.stream(opts, signal);
  }
}

/** goArch turns `uname -m` into Go's GOARCH spelling, which Docker clients print. */
function goArch(machine: string): string {
  return ({ x86_64: 'amd64', aarch64: 'arm64', armv7l: 'arm' } as Record<string, string>)[machine] ?? machine;
}

/**
 * cgroupInfo is /info's view of what containers can be limited by (moby `fillPlatformInfo`).
 * KernelMemory and KernelMemoryTCP are false: ckptd refuses both limits whatever the kernel has.
 */
export function cgroupInfo(sys: SysInfo): Record<string, boolean> {
  return {
    MemoryLimit: sys.memoryLimit,
    SwapLimit: sys.swapLimit,
    KernelMemory: false,
    KernelMemoryTCP: false,
    CpuCfsPeriod: sys.cpuCfs,
    CpuCfsQuota: sys.cpuCfs,
    CPUShares: sys.cpuShares,
    CPUSet: sys.cpuset,
    PidsLimit: sys.pidsLimit,
    OomKillDisable: sys.oomKillDisable,
  };
}

/**
 * cgroupWarnings are dockerd's /info warnings for missing cgroup features (`fillPlatformInfo`);
 * not the forwarding and bridge-nf ones: ckptd has no bridge network for them to concern.
 */
export function cgroupWarnings(sys: SysInfo): string[] {
  const w: string[] = [];
  const v2 = sys.cgroupVersion === 2;
  if (!sys.memoryLimit) w.push('WARNING: No memory limit support');
  if (!sys.swapLimit) w.push('WARNING: No swap limit support');
  if (!sys.oomKillDisable && !v2) w.push('WARNING: No oom kill disable support');
  if (!sys.cpuCfs) w.push('WARNING: No cpu cfs quota support', 'WARNING: No cpu cfs period support');
  if (!sys.cpuShares) w.push('WARNING: No cpu shares support');
  if (!sys.cpuset) w.push('WARNING: No cpuset support');
  if (!sys.blkioWeight && v2) w.push('WARNING: No io.weight support');
  if (!sys.blkioWeightDevice && v2) w.push('WARNING: No io.weight (per device) support');
  const io: [boolean, string, string][] = [
    [sys.blkioReadBpsDevice, 'io.max (rbps)', 'blkio throttle.read_bps_device'],
    [sys.blkioWriteBpsDevice, 'io.max (wbps)', 'blkio throttle.write_bps_device'],
    [sys.blkioReadIOpsDevice, 'io.max (riops)', 'blkio throttle.read_iops_device'],
    [sys.blkioWriteIOpsDevice, 'io.max (wiops)', 'blkio throttle.write_iops_device'],
  ];
  for (const [ok, v2name, v1name] of io) if (!ok) w.push(`WARNING: No ${v2 ? v2name : v1name} support`);
  return w;
}
