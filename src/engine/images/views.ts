/**
 * Pure shaping of image data into Docker's API objects (moby `daemon/images`, `api/types/image`)
 * and the matching rules of GET /images/json filters. No I/O: the ImageService gathers the
 * facts, these functions decide what Docker would show.
 */
import type { Filters } from '../../oci/filters.js';
import { invalidFilterError } from '../../oci/filters.js';
import type { HistoryEntry, ImageConfig, ImageRuntimeConfig } from '../../oci/image-config.js';
import { familiarName, parseReference } from '../../oci/reference.js';

/** ImageFacts is what the ImageService knows about one image (one config digest). */
export interface ImageFacts {
  /** id is the config digest (Docker's image ID). */
  id: string;
  /** names are the full references of its image records (dangling records excluded). */
  names: string[];
  /** manifestDigests are the digests of the manifests its records target. */
  manifestDigests: string[];
  config: ImageConfig;
  /** size is the sum of its layers' unpacked sizes (bytes). */
  size: number;
  /** layerSizes are the unpacked sizes of its layers, bottom first. */
  layerSizes: number[];
  /** lastTagTime is the latest update time of its records (RFC3339 nano), or undefined. */
  lastTagTime?: string;
}

/** ImageSummary is one entry of GET /images/json. */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Record<string, string>;
  Containers: number;
}

/** ImageInspect is GET /images/{name}/json (moby `image.InspectResponse`). */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container?: string;
  ContainerConfig?: ImageRuntimeConfig;
  DockerVersion: string;
  Author: string;
  Config: ImageRuntimeConfig | null;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  VirtualSize?: number;
  GraphDriver: { Name: string; Data: Record<string, string> };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

/** HistoryItem is one entry of GET /images/{name}/history. */
export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** ZERO_TIME is Go's zero time.Time as Docker renders it. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** createdSeconds returns an image config's `created` as unix seconds (0 when absent or bad). */
export function createdSeconds(config: Pick<ImageConfig, 'created'>): number {
  return timeSeconds(config.created);
}

function timeSeconds(s: string | undefined): number {
  if (!s) return 0;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

/** repoTags returns the familiar tags of an image (`busybox:latest`), sorted. */
export function repoTags(names: readonly string[]): string[] {
  return names
    .filter((n) => !n.includes('@'))
    .map(familiarName)
    .sort();
}

/** repoDigests returns `repo@manifestDigest` for each repository and manifest of an image. */
export function repoDigests(names: readonly string[], manifestDigests: readonly string[]): string[] {
  const out = new Set<string>();
  for (const n of names) {
    let repo: string;
    try {
      repo = parseReference(n).name;
    } catch {
      continue;
    }
    for (const d of manifestDigests) out.add(familiarName(`${repo}@${d}`));
  }
  return [...out].sort();
}

/** toSummary shapes an image for GET /images/json; `names` narrows the names shown (reference filter). */
export function toSummary(f: ImageFacts, names: readonly string[] = f.names): ImageSummary {
  return {
    Id: f.id,
    ParentId: '',
    RepoTags: repoTags(names),
    RepoDigests: repoDigests(names, f.manifestDigests),
    Created: createdSeconds(f.config),
    Size: f.size,
    SharedSize: -1,
    VirtualSize: f.size,
    Labels: f.config.config?.Labels ?? {},
    Containers: -1,
  };
}

/** toInspect shapes an image for GET /images/{name}/json. */
export function toInspect(f: ImageFacts, snapshotter: string): ImageInspect {
  const c = f.config;
  const out: ImageInspect = {
    Id: f.id,
    RepoTags: repoTags(f.names),
    RepoDigests: repoDigests(f.names, f.manifestDigests),
    Parent: '',
    Comment: typeof c.comment === 'string' ? c.comment : '',
    Created: c.created ?? ZERO_TIME,
    Container: typeof c.container === 'string' ? c.container : '',
    ContainerConfig: (c.container_config as ImageRuntimeConfig | undefined) ?? {},
    DockerVersion: typeof c.docker_version === 'string' ? c.docker_version : '',
    Author: c.author ?? '',
    Config: c.config ?? null,
    Architecture: c.architecture,
    Os: c.os,
    Size: f.size,
    VirtualSize: f.size,
    GraphDriver: { Name: snapshotter, Data: {} },
    RootFS: { Type: 'layers', Layers: [...c.rootfs.diff_ids] },
    Metadata: { LastTagTime: f.lastTagTime ?? ZERO_TIME },
  };
  if (c.variant) out.Variant = c.variant;
  if (c['os.version']) out.OsVersion = c['os.version'];
  return out;
}

/**
 * toHistory shapes an image's history newest first, as moby's `ImageHistory`: one item per
 * config history entry, Size from the layer that entry produced (0 for `empty_layer`), the
 * image ID and tags on the top item only, `<missing>` elsewhere. A config without history
 * gets one item per layer.
 */
export function toHistory(f: ImageFacts): HistoryItem[] {
  const history: HistoryEntry[] = f.config.history?.length
    ? f.config.history
    : f.config.rootfs.diff_ids.map((): HistoryEntry =>
        f.config.created ? { created: f.config.created } : {},
      );
  let layer = 0;
  const items: HistoryItem[] = history.map((h) => {
    let size = 0;
    if (!h.empty_layer) {
      size = f.layerSizes[layer] ?? 0;
      layer++;
    }
    return {
      Id: '<missing>',
      Created: timeSeconds(h.created),
      CreatedBy: h.created_by ?? '',
      Tags: null,
      Size: size,
      Comment: h.comment ?? '',
    };
  });
  items.reverse();
  const top = items[0];
  if (top) {
    top.Id = f.id;
    const tags = repoTags(f.names);
    top.Tags = tags.length > 0 ? tags : null;
  }
  return items;
}

/**
 * goPathMatch is Go's `path.Match`: `*` matches any run of non-`/` characters, `?` one non-`/`
 * character, `[...]` a class (`^` or `!` negates, ranges allowed), `\\` escapes. A malformed
 * pattern matches nothing (Go returns ErrBadPattern, which Docker treats as no match).
 */
export function goPathMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\') {
      const next = pattern[++i];
      if (next === undefined) return false;
      re += escapeRe(next);
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) return false;
      let body = pattern.slice(i + 1, end);
      let neg = false;
      if (body.startsWith('^') || body.startsWith('!')) {
        neg = true;
        body = body.slice(1);
      }
      if (body === '') return false;
      re += `[${neg ? '^/' : ''}${body.replace(/[\]\\^]/g, '\\$&')}]`;
      i = end;
    } else re += escapeRe(ch);
  }
  try {
    return new RegExp(`${re}$`).test(name);
  } catch {
    return false;
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * familiarMatch is distribution/reference's `FamiliarMatch`: the pattern is matched against the
 * familiar string of a full reference (`busybox:latest`) and against its familiar name alone
 * (`busybox`), so `busybox*`, `busybox:1*` and `user/*` work as in `docker images`.
 */
export function familiarMatch(pattern: string, fullName: string): boolean {
  const familiar = familiarName(fullName);
  if (goPathMatch(pattern, familiar)) return true;
  const cut = familiar.search(/[:@][^/]*$/);
  return cut > 0 && goPathMatch(pattern, familiar.slice(0, cut));
}

/** IMAGE_LIST_FILTERS are the filter keys GET /images/json accepts (moby `acceptedImageFilterTags`). */
export const IMAGE_LIST_FILTERS = ['dangling', 'label', 'label!', 'before', 'since', 'reference', 'until'];

/** ListPlan is a validated image-list filter: what each image must satisfy. */
export interface ListPlan {
  dangling?: boolean;
  references: string[];
  /** createdBefore/After are unix seconds from `before`/`since` images and `until`. */
  createdBefore?: number;
  createdAfter?: number;
  untilSeconds?: number;
}

/**
 * selectImages applies a ListPlan and the label filters to image facts and shapes the
 * summaries, newest first (as `docker images` lists them). With `reference`, only matching tags
 * are shown and images without a matching tag are left out.
 */
export function selectImages(images: ImageFacts[], plan: ListPlan, filters: Filters): ImageSummary[] {
  const out: ImageSummary[] = [];
  for (const f of images) {
    const tags = repoTags(f.names);
    const dangling = tags.length === 0;
    if (plan.dangling !== undefined && plan.dangling !== dangling) continue;
    const created = createdSeconds(f.config);
    if (plan.createdBefore !== undefined && !(created < plan.createdBefore)) continue;
    if (plan.createdAfter !== undefined && !(created > plan.createdAfter)) continue;
    if (plan.untilSeconds !== undefined && !(created < plan.untilSeconds)) continue;
    const labels = f.config.config?.Labels ?? {};
    if (!filters.matchKVList('label', labels)) continue;
    if (filters.has('label!') && filters.get('label!').length > 0) {
      const neg = new Filters1(filters.get('label!'));
      if (neg.anyMatch(labels)) continue;
    }
    let shown = f.names;
    if (plan.references.length > 0) {
      shown = f.names.filter((n) => plan.references.some((p) => familiarMatch(p, n)));
      if (shown.length === 0) continue;
    }
    out.push(toSummary(f, shown));
  }
  return out.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
}

/** Filters1 checks `label!` values: an image is excluded when any of them matches its labels. */
class Filters1 {
  constructor(readonly values: string[]) {}
  anyMatch(labels: Record<string, string>): boolean {
    return this.values.some((v) => {
      const eq = v.indexOf('=');
      const k = eq === -1 ? v : v.slice(0, eq);
      if (!Object.prototype.hasOwnProperty.call(labels, k)) return false;
      return eq === -1 || labels[k] === v.slice(eq + 1);
    });
  }
}

/** danglingFilter reads the `dangling` filter (true/false/1/0), moby's wording on bad values. */
export function danglingFilter(filters: Filters): boolean | undefined {
  if (!filters.has('dangling')) return undefined;
  const vs = filters.get('dangling');
  if (vs.length === 0) throw invalidFilterError('dangling');
  return filters.getBoolOrDefault('dangling', false);
}
