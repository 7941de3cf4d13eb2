/**
 * Container list and inspect (moby `daemon/{list,inspect}.go`): the views of the store shaped
 * as GET /containers/json and GET /containers/{id}/json answer them.
 */
import { initLayerName } from '../../oci/init-layer.js';
import { containerSizes } from '../layer-sizes.js';
import { storedPolicy } from '../restart-manager.js';
import {
  commandString,
  lookupContainer,
  mountPointsOf,
  publicLabels,
  recordOf,
  selectContainers,
  stateOf,
  statusString,
  type ListEntry,
} from './shape.js';
import type {
  ContainerDeps,
  ContainerInspect,
  ContainerRecord,
  ContainerState,
  ContainerSummary,
  ContainerView,
  ListContainersOptions,
} from './types.js';

/** containers lists containers as GET /containers/json (see ContainersBackend). */
export async function containers(
  d: ContainerDeps,
  opts: ListContainersOptions,
  signal?: AbortSignal,
): Promise<ContainerSummary[]> {
  const views = await d.store.viewed(signal);
  const now = Date.now();
  const entries = views.map((v) => {
    const r = recordOf(v);
    const st = stateOf(v);
    const health = d.health?.state(v.id);
    const entry: ListEntry & { v: ContainerView; r: ContainerRecord; st: ContainerState } = {
      id: v.id,
      name: v.name,
      status: st.Status,
      health: health?.Status ?? 'none',
      exitCode: st.ExitCode,
      labels: v.container.labels,
      image: r.Config.Image,
      imageId: r.Image,
      created: Date.parse(r.Created) || 0,
      v,
      r,
      st,
    };
    return entry;
  });
  const selected = selectContainers(entries, {
    ...(opts.all !== undefined ? { all: opts.all } : {}),
    ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
    ...(opts.filters !== undefined ? { filters: opts.filters } : {}),
  });
  const summaries = selected.map(({ v, r, st, health }) => {
    const s: ContainerSummary = {
      Id: v.id,
      Names: [`/${v.name}`],
      Image: r.Config.Image,
      ImageID: r.Image,
      Command: commandString(r.Path, r.Args),
      Created: Math.floor((Date.parse(r.Created) || 0) / 1000),
      Ports: [],
      Labels: publicLabels(v.container.labels),
      State: st.Status,
      Status: statusString(
        {
          status: st.Status,
          exitCode: st.ExitCode,
          startedAt: st.StartedAt,
          finishedAt: st.FinishedAt,
          ...(health !== undefined && health !== 'none' ? { health } : {}),
        },
        now,
      ),
      HostConfig: { NetworkMode: r.HostConfig.NetworkMode },
      NetworkSettings: { Networks: {} },
      Mounts: mountPointsOf(r),
    };
    return s;
  });
  // dockerd's SizeRw/SizeRootFs (layer-sizes.ts); SizeRw is omitted when 0, as dockerd's omitempty
  if (opts.size) await Promise.all(summaries.map((s, i) => sizeInto(d, s, selected[i]!.v, signal)));
  return summaries;
}

async function sizeInto(
  d: ContainerDeps,
  s: ContainerSummary,
  v: ContainerView,
  signal?: AbortSignal,
): Promise<void> {
  const c = v.container;
  const snaps = d.client.snapshots(c.snapshotter);
  const ctx = signal ? { signal } : {};
  const sizes =
    c.snapshot_key !== ''
      ? await snaps
          .stat(c.snapshot_key, ctx)
          .then(async (info) =>
            containerSizes(await snaps.mounts(c.snapshot_key, ctx), signal, {
              initLayer: info.parent === initLayerName(v.id),
            }),
          )
          .catch(() => undefined)
      : undefined;
  if (sizes && sizes.sizeRw > 0) s.SizeRw = sizes.sizeRw;
  s.SizeRootFs = sizes?.sizeRootFs ?? 0;
}

/** containerInspect is GET /containers/{id}/json (see ContainersBackend). */
export async function containerInspect(
  d: ContainerDeps,
  ref: string,
  signal?: AbortSignal,
): Promise<ContainerInspect> {
  const v = lookupContainer(await d.store.viewed(signal, ref), ref);
  const r = recordOf(v);
  const st = stateOf(v);
  const health = d.health?.state(v.id);
  if (health) st.Health = health;
  const { Image: imageRef, ...configRest } = r.Config;
  return {
    Id: v.id,
    Created: r.Created,
    Path: r.Path,
    Args: r.Args,
    State: st,
    Image: r.Image,
    ResolvConfPath: r.ResolvConfPath,
    HostnamePath: r.HostnamePath,
    HostsPath: r.HostsPath,
    LogPath: '',
    Name: `/${v.name}`,
    RestartCount: v.local?.state.RestartCount ?? 0,
    Driver: r.Driver,
    Platform: r.Platform,
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      ...r.HostConfig,
      RestartPolicy: storedPolicy(r.HostConfig.RestartPolicy),
      LogConfig: { Type: 'json-file', Config: {} },
      PortBindings: {},
    },
    GraphDriver: { Name: r.Driver, Data: null },
    Mounts: mountPointsOf(r),
    Config: {
      ...configRest,
      Image: imageRef,
      Labels: publicLabels(v.container.labels),
      AttachStdin: r.Config.AttachStdin ?? false,
      AttachStdout: r.Config.AttachStdout ?? false,
      AttachStderr: r.Config.AttachStderr ?? false,
      StdinOnce: r.Config.StdinOnce ?? false,
    },
    NetworkSettings: {
      Bridge: '',
      SandboxID: '',
      SandboxKey: '',
      Ports: {},
      Gateway: '',
      IPAddress: '',
      IPPrefixLen: 0,
      MacAddress: '',
      Networks: {},
    },
  };
}
