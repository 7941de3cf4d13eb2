/**
 * FakeSystem is a SystemBackend for HTTP tests: canned Docker-shaped answers (accepted by the
 * docker CLI and docker-py), scriptable failures, and an events source the test drives.
 */
import type {
  DockerEvent,
  EventsOptions,
  InfoResponse,
  SystemBackend,
  VersionResponse,
} from '../../../src/engine/system.js';

/** FAKE_VERSION is the fake's /version body. */
export const FAKE_VERSION: VersionResponse = {
  Platform: { Name: 'ckptd' },
  Components: [
    {
      Name: 'Engine',
      Version: '0.1.0-test',
      Details: {
        ApiVersion: '1.47',
        Arch: 'amd64',
        BuildTime: '2025-01-01T00:00:00.000000000+00:00',
        Experimental: 'true',
        GitCommit: 'deadbee',
        GoVersion: 'node v20',
        KernelVersion: '6.1.0',
        MinAPIVersion: '1.24',
        Os: 'linux',
      },
    },
    { Name: 'containerd', Version: '1.7.24', Details: { GitCommit: '61f9fd88' } },
    { Name: 'runc', Version: '1.1.12', Details: { GitCommit: 'v1.1.12' } },
  ],
  Version: '0.1.0-test',
  ApiVersion: '1.47',
  MinAPIVersion: '1.24',
  GitCommit: 'deadbee',
  GoVersion: 'node v20',
  Os: 'linux',
  Arch: 'amd64',
  KernelVersion: '6.1.0',
  Experimental: true,
  BuildTime: '2025-01-01T00:00:00.000000000+00:00',
};

/** FAKE_INFO is the fake's /info body. */
export const FAKE_INFO: InfoResponse = {
  ID: 'ckptd-test-id',
  Containers: 2,
  ContainersRunning: 1,
  ContainersPaused: 0,
  ContainersStopped: 1,
  Images: 3,
  Driver: 'overlayfs',
  DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']],
  Plugins: { Volume: null, Network: null, Authorization: null, Log: null },
  MemoryLimit: true,
  SwapLimit: true,
  CpuCfsPeriod: true,
  CpuCfsQuota: true,
  CPUShares: true,
  CPUSet: true,
  PidsLimit: true,
  IPv4Forwarding: true,
  Debug: false,
  NFd: 10,
  OomKillDisable: false,
  NGoroutines: 1,
  SystemTime: '2025-01-01T00:00:00.000000000Z',
  LoggingDriver: 'json-file',
  CgroupDriver: 'systemd',
  CgroupVersion: '2',
  NEventsListener: 0,
  KernelVersion: '6.1.0',
  OperatingSystem: 'Debian GNU/Linux 12 (bookworm)',
  OSVersion: '12',
  OSType: 'linux',
  Architecture: 'x86_64',
  IndexServerAddress: 'https://index.docker.io/v1/',
  RegistryConfig: null,
  NCPU: 4,
  MemTotal: 8 * 1024 * 1024 * 1024,
  GenericResources: null,
  DockerRootDir: '/var/lib/ckptd',
  HttpProxy: '',
  HttpsProxy: '',
  NoProxy: '',
  Name: 'testhost',
  Labels: [],
  ExperimentalBuild: true,
  ServerVersion: '0.1.0-test',
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
  LiveRestoreEnabled: false,
  Isolation: '',
  InitBinary: '',
  ContainerdCommit: { ID: '61f9fd88' },
  RuncCommit: { ID: 'v1.1.12' },
  InitCommit: { ID: '' },
  SecurityOptions: ['name=seccomp,profile=builtin', 'name=cgroupns'],
  Warnings: null,
};

/** EventsCall records one events() call. */
export interface EventsCall {
  opts: EventsOptions;
  signal: AbortSignal;
}

/** FakeSystem implements SystemBackend for tests. */
export class FakeSystem implements SystemBackend {
  versionError: Error | undefined;
  infoError: Error | undefined;
  /** when set, version() parks until its signal aborts, then throws the signal's reason. */
  versionBlocks = false;
  /** resolves once a parked version() call has started. */
  readonly versionParked: Promise<void>;
  #resolveParked!: () => void;
  versionCalls = 0;
  infoCalls = 0;
  readonly eventsCalls: EventsCall[] = [];
  /** events taken from the queue by the HTTP layer so far. */
  pulled = 0;
  /** queued events; push() wakes a waiting consumer. */
  #queue: DockerEvent[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #failWith: Error | undefined;
  /** aborted resolves when an events() signal aborts. */
  readonly aborted: Promise<unknown>;
  #resolveAborted!: (reason: unknown) => void;

  constructor() {
    this.aborted = new Promise((resolve) => (this.#resolveAborted = resolve));
    this.versionParked = new Promise((resolve) => (this.#resolveParked = resolve));
  }

  async version(signal?: AbortSignal): Promise<VersionResponse> {
    this.versionCalls++;
    if (this.versionError) throw this.versionError;
    if (this.versionBlocks && signal) {
      this.#resolveParked();
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      throw signal.reason;
    }
    return FAKE_VERSION;
  }

  async info(_signal?: AbortSignal): Promise<InfoResponse> {
    this.infoCalls++;
    if (this.infoError) throw this.infoError;
    return FAKE_INFO;
  }

  /** push queues an event for the stream. */
  push(ev: DockerEvent): void {
    this.#queue.push(ev);
    this.#wake?.();
  }

  /** end finishes the stream after the queued events. */
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  /** fail makes the stream throw once the queue is drained. */
  fail(err: Error): void {
    this.#failWith = err;
    this.#wake?.();
  }

  events(opts: EventsOptions, signal: AbortSignal): AsyncIterable<DockerEvent> {
    this.eventsCalls.push({ opts, signal });
    signal.addEventListener('abort', () => this.#resolveAborted(signal.reason), { once: true });
    return this.#stream(signal);
  }

  async *#stream(signal: AbortSignal): AsyncGenerator<DockerEvent> {
    for (;;) {
      const ev = this.#queue.shift();
      if (ev) {
        this.pulled++;
        yield ev;
        continue;
      }
      if (this.#failWith) throw this.#failWith;
      if (this.#ended || signal.aborted) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      this.#wake = undefined;
    }
  }
}

/** makeEvent builds a container event at `sec` seconds. */
export function makeEvent(action: string, id: string, sec = 1_700_000_000): DockerEvent {
  return {
    Type: 'container',
    Action: action,
    Actor: { ID: id, Attributes: { name: `ctr-${id}` } },
    scope: 'local',
    time: sec,
    timeNano: sec * 1e9,
  };
}
