/**
 * SystemBackend is what the HTTP layer's system routes (/_ping, /version, /info, /events) call.
 * Shapes follow Docker Engine API 1.47 (types.Version, system.Info, events.Message).
 */
export interface SystemBackend {
  /** version reports ckptd's and its components' versions; containerd unreachable -> UnavailableError. */
  version(signal?: AbortSignal): Promise<VersionResponse>;
  /** info reports real host and engine figures; containerd unreachable -> UnavailableError. */
  info(signal?: AbortSignal): Promise<InfoResponse>;
  /**
   * events yields Docker event messages: first the buffered ones at or after `since` (if
   * given), then live ones until `until` passes or `signal` aborts. Filters use Docker's
   * keys (type, event/action, container, image, label, ...), already normalised to
   * key -> list of values.
   */
  events(opts: EventsOptions, signal: AbortSignal): AsyncIterable<DockerEvent>;
}

/** EventsOptions selects the events stream window and filters. */
export interface EventsOptions {
  /** since, in nanoseconds since the epoch (bigint to keep Docker's precision). */
  sinceNano?: bigint;
  /** until, in nanoseconds since the epoch. */
  untilNano?: bigint;
  filters: Record<string, string[]>;
}

/** ComponentVersion is one entry of VersionResponse.Components. */
export interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: Record<string, string>;
}

/** VersionResponse is GET /version's body. */
export interface VersionResponse {
  Platform: { Name: string };
  Components: ComponentVersion[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  Experimental: boolean;
  BuildTime: string;
}

/** InfoResponse is GET /info's body (the subset of system.Info ckptd fills, plus zero values). */
export type InfoResponse = Record<string, unknown> & {
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DockerRootDir: string;
  KernelVersion: string;
  NCPU: number;
  MemTotal: number;
  CgroupVersion: string;
  ServerVersion: string;
};

/** DockerEvent is one events.Message as Docker emits it. */
export interface DockerEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local' | 'swarm';
  time: number;
  timeNano: number;
  // legacy fields (API < 1.52 clients read them for containers)
  status?: string;
  id?: string;
  from?: string;
}
