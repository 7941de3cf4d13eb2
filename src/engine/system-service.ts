import type { EventsService } from './events.js';
import type { HostFacts } from './host-facts.js';
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
      MemoryLimit: true,
      SwapLimit: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      OomKillDisable: false,
      IPv4Forwarding: true,
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
      Warnings: [],
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
