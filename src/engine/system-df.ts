/**
 * `GET /system/df` (moby `daemon/disk_usage.go`, `types.DiskUsage` of API 1.47): the images
 * with their shared size and container count, the containers with their sizes, the volumes
 * (from a pluggable lister: empty until ckptd has volumes) and the build cache (always empty:
 * ckptd builds nothing). `type` selects which of them are computed; the others are null, as
 * dockerd leaves them.
 */
import { InvalidArgumentError } from '../errors/index.js';
import { chainIds } from '../oci/manifest.js';
import type { ContainerSummary, ListContainersOptions } from './containers/index.js';
import { toSummary, type ImageFacts, type ImageSummary } from './images/views.js';

/** DISK_USAGE_TYPES are the values of the `type` parameter (moby `types.DiskUsageObject`). */
export const DISK_USAGE_TYPES = ['container', 'image', 'volume', 'build-cache'] as const;

/** DiskUsageType is one object type of `GET /system/df`. */
export type DiskUsageType = (typeof DISK_USAGE_TYPES)[number];

/** VolumeUsage is one volume of `GET /system/df` (`volume.Volume` with UsageData). */
export interface VolumeUsage {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt?: string;
  Labels: Record<string, string> | null;
  Scope: 'local' | 'global';
  Options: Record<string, string> | null;
  UsageData: { Size: number; RefCount: number } | null;
}

/** VolumeLister lists the volumes with their usage; the volume engine plugs one in. */
export interface VolumeLister {
  volumesDiskUsage(signal: AbortSignal): Promise<VolumeUsage[]>;
}

/** NO_VOLUMES is the lister used while ckptd has no volume engine. */
export const NO_VOLUMES: VolumeLister = { volumesDiskUsage: async () => [] };

/** DiskUsage is `GET /system/df`'s body (`types.DiskUsage`). */
export interface DiskUsage {
  LayersSize?: number;
  Images: ImageSummary[] | null;
  Containers: ContainerSummary[] | null;
  Volumes: VolumeUsage[] | null;
  BuildCache: unknown[] | null;
}

/** DiskUsagePorts are what the disk usage report reads. */
export interface DiskUsagePorts {
  images: { imageFacts(signal: AbortSignal): Promise<ImageFacts[]> };
  containers: { containers(opts: ListContainersOptions, signal?: AbortSignal): Promise<ContainerSummary[]> };
  volumes: VolumeLister;
}

/** SystemDfBackend is what the `GET /system/df` route calls. */
export interface SystemDfBackend {
  /** diskUsage reports the objects of `types` (all when undefined). */
  diskUsage(types: readonly string[] | undefined, signal: AbortSignal): Promise<DiskUsage>;
}

/** parseDiskUsageTypes checks `type` values: `unknown object type: x` (400) as moby. */
export function parseDiskUsageTypes(values: readonly string[] | undefined): Set<DiskUsageType> {
  if (values === undefined || values.length === 0) return new Set(DISK_USAGE_TYPES);
  const out = new Set<DiskUsageType>();
  for (const v of values) {
    if (!(DISK_USAGE_TYPES as readonly string[]).includes(v))
      throw new InvalidArgumentError(`unknown object type: ${v}`);
    out.add(v as DiskUsageType);
  }
  return out;
}

/**
 * imagesDiskUsage shapes the images as dockerd's disk usage does: each image's SharedSize is
 * the size of its layers that another image also has, Containers the number of containers
 * made from it; LayersSize counts each layer once.
 */
export function imagesDiskUsage(
  facts: readonly ImageFacts[],
  containers: readonly Pick<ContainerSummary, 'ImageID'>[],
): { layersSize: number; images: ImageSummary[] } {
  const users = new Map<string, number>(); // chainID -> images that have the layer
  const sizes = new Map<string, number>();
  const chains = facts.map((f) => chainIds(f.config.rootfs.diff_ids));
  chains.forEach((chain, i) =>
    chain.forEach((id, j) => {
      users.set(id, (users.get(id) ?? 0) + 1);
      sizes.set(id, facts[i]!.layerSizes[j] ?? 0);
    }),
  );
  const perImage = new Map<string, number>();
  for (const c of containers) perImage.set(c.ImageID, (perImage.get(c.ImageID) ?? 0) + 1);
  const images = facts.map((f, i) => {
    const s = toSummary(f);
    s.SharedSize = chains[i]!.reduce(
      (a, id, j) => a + ((users.get(id) ?? 0) > 1 ? (f.layerSizes[j] ?? 0) : 0),
      0,
    );
    s.Containers = perImage.get(f.id) ?? 0;
    return s;
  });
  return { layersSize: [...sizes.values()].reduce((a, b) => a + b, 0), images };
}

/** SystemDfService computes `GET /system/df`. */
export class SystemDfService implements SystemDfBackend {
  readonly #p: DiskUsagePorts;

  constructor(ports: DiskUsagePorts) {
    this.#p = ports;
  }

  async diskUsage(types: readonly string[] | undefined, signal: AbortSignal): Promise<DiskUsage> {
    const want = parseDiskUsageTypes(types);
    const needContainers = want.has('container') || want.has('image');
    const containers = needContainers
      ? await this.#p.containers.containers({ all: true, size: want.has('container') }, signal)
      : [];
    const out: DiskUsage = { Images: null, Containers: null, Volumes: null, BuildCache: null };
    if (want.has('image')) {
      const { layersSize, images } = imagesDiskUsage(await this.#p.images.imageFacts(signal), containers);
      out.LayersSize = layersSize;
      out.Images = images;
    }
    if (want.has('container')) out.Containers = containers;
    if (want.has('volume')) out.Volumes = await this.#p.volumes.volumesDiskUsage(signal);
    if (want.has('build-cache')) out.BuildCache = [];
    return out;
  }
}
