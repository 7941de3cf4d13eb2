/**
 * ImageStore: Docker's images as containerd image records (moby `daemon/containerd/image_*.go`).
 * Images are records named with full references (`docker.io/library/busybox:latest`) targeting
 * a manifest; an untagged image keeps a record named `moby-dangling@<manifest digest>` (moby's
 * containerd store convention) so containerd's GC does not collect it. The image ID is the config
 * digest, as in Docker's classic store. The store names (tag, untag, delete) and looks images up.
 */
import type { Logger } from 'pino';
import type { CallContext, ContainerdClient, Image } from '../../containerd/index.js';
import {
  AlreadyExistsError,
  ConflictError,
  EngineError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
} from '../../errors/index.js';
import { sha256Hex, shortId } from '../../oci/digest.js';
import { hostArchitecture } from '../../host/platform.js';
import {
  parseImageConfig,
  parseIndex,
  parseManifest,
  type ImageConfig,
  type ImageManifest,
} from '../../oci/image-config.js';
import { DANGLING_IMAGE_PREFIX, LABEL_IMAGE_REF } from '../../oci/labels.js';
import { chainIds } from '../../oci/manifest.js';
import { isIndexType, isManifestType } from '../../oci/media-types.js';
import {
  familiarName,
  normalizeName,
  parseAnyReference,
  parseReference,
  truncatedIdHex,
  withTag,
} from '../../oci/reference.js';
import type { DeleteItem, RemoveImageOptions } from './backend.js';

/** ImageEvents is the part of the EventsService the image engine uses. */
export interface ImageEvents {
  publish(type: string, action: string, id: string, attributes?: Record<string, string>): void;
  /** muteImageEcho drops the hub's translation of containerd's own /images/* event for `name`. */
  muteImageEcho?(name: string): void;
}

/** ManifestDescriptor is the manifest an image record (or a resolved image) points at. */
export interface ManifestDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/**
 * ResolvedImage is an image found by resolveImage: everything a container needs to be created
 * from it.
 */
export interface ResolvedImage {
  /** id is the config digest (`sha256:...`), Docker's image ID. */
  id: string;
  /** name is the full reference the lookup matched, or the image's first name, or '' when untagged. */
  name: string;
  /** names are all full references of the image (dangling records excluded). */
  names: string[];
  /** target is the manifest descriptor. */
  target: ManifestDescriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  diffIds: string[];
  /** chainIds are the committed snapshot names of each layer prefix; chainId is the top one ('' without layers). */
  chainIds: string[];
  chainId: string;
}

/** ImageEntry is one image (one config digest) with every record that names it. */
export interface ImageEntry {
  id: string;
  records: Image[];
  names: string[];
  target: ManifestDescriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  manifestDigests: string[];
}

/** ImageStoreOptions wire an ImageStore. */
export interface ImageStoreOptions {
  client: ContainerdClient;
  snapshotter: string;
  logger: Logger;
  events?: ImageEvents;
}

const CACHE_MAX = 512;

/** isDanglingName tells the record name of an untagged image. */
export function isDanglingName(name: string): boolean {
  return name.startsWith(DANGLING_IMAGE_PREFIX);
}

/** danglingName is the record name that keeps an untagged image (moby's containerd store). */
export function danglingName(manifestDigest: string): string {
  return `${DANGLING_IMAGE_PREFIX}${manifestDigest}`;
}

function noSuchImage(name: string): NotFoundError {
  return new NotFoundError(`No such image: ${name}`);
}

/** toProtoDesc is a manifest descriptor as containerd's image records hold it. */
export function toProtoDesc(d: ManifestDescriptor): { media_type: string; digest: string; size: number } {
  return { media_type: d.mediaType, digest: d.digest, size: d.size };
}

/** ImageStore holds the image records: names, lookups, deletion. */
export class ImageStore {
  readonly client: ContainerdClient;
  /** snapshotter is the snapshotter image layers are unpacked into. */
  readonly snapshotter: string;
  readonly logger: Logger;
  readonly events: ImageEvents | undefined;
  /** Parsed immutable content (manifests, configs) by digest; a small LRU. */
  readonly #blobs = new Map<string, unknown>();

  constructor(o: ImageStoreOptions) {
    this.client = o.client;
    this.snapshotter = o.snapshotter;
    this.logger = o.logger;
    this.events = o.events;
  }

  /** keepDangling keeps the image whose manifest is `target` with a dangling record. */
  async keepDangling(target: ManifestDescriptor, ctx: CallContext): Promise<void> {
    const dangling = danglingName(target.digest);
    this.events?.muteImageEcho?.(dangling);
    await this.client.images
      .create({ name: dangling, target: toProtoDesc(target), labels: {} }, ctx)
      .catch((err: unknown) => {
        if (!(err instanceof AlreadyExistsError)) throw err;
      });
  }

  async recordsTargeting(digest: string, ctx: CallContext): Promise<Image[]> {
    return this.client.images.list([`target.digest==${digest}`], ctx);
  }

  /**
   * setName points the record `name` at `target` (create or update). A name moved away from
   * another image leaves that image a dangling record if it has no name left (as moby's
   * containerd store does), and the dangling record of `target` goes once it has a real name.
   */
  async setName(name: string, target: ManifestDescriptor, imageId: string, ctx: CallContext): Promise<void> {
    const images = this.client.images;
    const desc = { media_type: target.mediaType, digest: target.digest, size: target.size };
    let previous: Image | undefined;
    try {
      previous = await images.get(name, ctx);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    if (previous?.target?.digest === target.digest) return;
    this.events?.muteImageEcho?.(name);
    if (previous) await images.update({ name, target: desc }, ['target'], ctx);
    else {
      try {
        await images.create({ name, target: desc, labels: {} }, ctx);
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
        await images.update({ name, target: desc }, ['target'], ctx);
      }
    }
    if (isDanglingName(name)) return;
    this.events?.publish('image', 'tag', imageId, { name: familiarName(name) });
    const old = previous?.target;
    if (old && (await this.recordsTargeting(old.digest, ctx)).length === 0) {
      const dangling = danglingName(old.digest);
      this.events?.muteImageEcho?.(dangling);
      await images.create({ name: dangling, target: old, labels: {} }, ctx).catch((err: unknown) => {
        if (!(err instanceof AlreadyExistsError)) throw err;
      });
    }
    await this.deleteRecord(danglingName(target.digest), false, ctx);
  }

  async deleteRecord(name: string, sync: boolean, ctx: CallContext): Promise<boolean> {
    try {
      this.events?.muteImageEcho?.(name);
      await this.client.images.delete(name, { sync }, ctx);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  async #json<T>(digest: string, parse: (v: unknown) => T, ctx: CallContext): Promise<T> {
    const hit = this.#blobs.get(digest);
    if (hit !== undefined) {
      this.#blobs.delete(digest);
      this.#blobs.set(digest, hit);
      return hit as T;
    }
    const buf = await this.client.content.readBlob(digest, 20 << 20, ctx);
    if (`sha256:${sha256Hex(buf)}` !== digest)
      throw new InternalError(`content ${digest} does not match its digest`);
    const value = parse(buf);
    this.#blobs.set(digest, value);
    if (this.#blobs.size > CACHE_MAX) this.#blobs.delete(this.#blobs.keys().next().value!);
    return value;
  }

  /** manifestOf resolves a record's target to a single-platform manifest (index -> host platform). */
  async manifestOf(
    target: ManifestDescriptor,
    ctx: CallContext,
  ): Promise<{ desc: ManifestDescriptor; manifest: ImageManifest }> {
    if (isIndexType(target.mediaType)) {
      const index = await this.#json(target.digest, parseIndex, ctx);
      const arch = hostArchitecture();
      const candidates = index.manifests.filter(
        (m) =>
          isManifestType(m.mediaType) &&
          (!m.platform || (m.platform.os === 'linux' && m.platform.architecture === arch)),
      );
      for (const m of candidates) {
        try {
          const manifest = await this.#json(m.digest, parseManifest, ctx);
          return { desc: { mediaType: m.mediaType, digest: m.digest, size: m.size }, manifest };
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
      throw new NotFoundError(
        `image index ${target.digest} has no manifest for linux/${arch} in the content store`,
      );
    }
    return { desc: target, manifest: await this.#json(target.digest, parseManifest, ctx) };
  }

  /** entries groups every image record by image ID (config digest). Broken records are skipped. */
  async entries(ctx: CallContext): Promise<Map<string, ImageEntry>> {
    const records = await this.client.images.list([], ctx);
    const byId = new Map<string, ImageEntry>();
    await Promise.all(
      records.map(async (rec) => {
        const t = rec.target;
        if (!t) return;
        try {
          const { desc, manifest } = await this.manifestOf(
            { mediaType: t.media_type, digest: t.digest, size: Number(t.size) },
            ctx,
          );
          const config = await this.#json(manifest.config.digest, parseImageConfig, ctx);
          const id = manifest.config.digest;
          let e = byId.get(id);
          if (!e) {
            e = { id, records: [], names: [], target: desc, manifest, config, manifestDigests: [] };
            byId.set(id, e);
          }
          e.records.push(rec);
          if (!isDanglingName(rec.name)) e.names.push(rec.name);
          if (!e.manifestDigests.includes(t.digest)) e.manifestDigests.push(t.digest);
        } catch (err) {
          if (err instanceof EngineError && err.kind === 'Cancelled') throw err;
          this.logger.debug({ err, image: rec.name }, 'skipping an image whose content cannot be read');
        }
      }),
    );
    for (const e of byId.values()) {
      e.names.sort();
      e.records.sort((a, b) => a.name.localeCompare(b.name));
    }
    return byId;
  }

  /**
   * find looks an image up as moby's containerd store does: a full ID (`sha256:<hex>` or 64
   * hex) matches the config digest; a reference matches a record by its normalized name
   * (`busybox` -> `docker.io/library/busybox:latest`) or, with a digest, by repository and
   * manifest digest; failing that, 4 to 63 hex digits (optionally `sha256:`) match a unique ID
   * prefix. An ambiguous prefix is `No such image`, as in moby. Returns the matched name too.
   */
  async find(input: string, ctx: CallContext): Promise<{ entry: ImageEntry; name: string; byName: boolean }> {
    const entries = await this.entries(ctx);
    let any;
    try {
      any = parseAnyReference(input);
    } catch (err) {
      if (truncatedIdHex(input) === undefined) {
        if (err instanceof InvalidArgumentError) throw noSuchImage(input);
        throw err;
      }
    }
    if (any?.kind === 'digest') {
      const e = entries.get(any.digest);
      if (e) return { entry: e, name: e.names[0] ?? '', byName: false };
    } else if (any?.kind === 'named') {
      const ref = any.ref;
      if (ref.digest !== undefined) {
        for (const e of entries.values()) {
          const repoMatch = e.names.some((n) => parseReference(n).name === ref.name);
          if (repoMatch && (e.manifestDigests.includes(ref.digest) || e.id === ref.digest)) {
            return { entry: e, name: ref.toString(), byName: false };
          }
        }
      } else {
        const full = normalizeName(input);
        for (const e of entries.values()) {
          const rec = e.records.find((r) => r.name === full);
          if (rec) return { entry: await this.entryForRecord(e, rec, ctx), name: full, byName: true };
        }
      }
    }
    const hex = truncatedIdHex(input);
    if (hex !== undefined && hex.length < 64) {
      const matches = [...entries.values()].filter((e) => e.id.slice(7).startsWith(hex));
      if (matches.length === 1)
        return { entry: matches[0]!, name: matches[0]!.names[0] ?? '', byName: false };
    }
    throw noSuchImage(input);
  }

  /** entryForRecord narrows an entry's target to the manifest a named record points at. */
  async entryForRecord(e: ImageEntry, rec: Image, ctx: CallContext): Promise<ImageEntry> {
    const t = rec.target;
    if (!t || t.digest === e.target.digest) return e;
    const { desc, manifest } = await this.manifestOf(
      { mediaType: t.media_type, digest: t.digest, size: Number(t.size) },
      ctx,
    );
    return { ...e, target: desc, manifest };
  }

  /**
   * resolveImage finds an image by full or familiar reference, `name@sha256:...`, full ID,
   * 64-hex ID or unique ID prefix, and returns what a container needs from it (ID, names,
   * manifest, parsed config, diff IDs, chain IDs). Not found: NotFoundError `No such image: x`.
   */
  async resolveImage(nameOrId: string, signal?: AbortSignal): Promise<ResolvedImage> {
    const ctx: CallContext = signal ? { signal } : {};
    const { entry, name } = await this.find(nameOrId, ctx);
    const diffIds = [...entry.config.rootfs.diff_ids];
    const chain = chainIds(diffIds);
    return {
      id: entry.id,
      name,
      names: [...entry.names],
      target: entry.target,
      manifest: entry.manifest,
      config: entry.config,
      diffIds,
      chainIds: chain,
      chainId: chain[chain.length - 1] ?? '',
    };
  }

  async labelContent(digest: string, labels: Record<string, string>, ctx: CallContext): Promise<void> {
    const paths = Object.keys(labels).map((k) => `labels.${k}`);
    await this.client.content.update({ digest, labels }, paths, ctx);
  }

  /** containersUsing lists containerd containers created from the image (any name of it, or its ID). */
  async containersUsing(e: ImageEntry, ctx: CallContext): Promise<{ id: string; running: boolean }[]> {
    const refs = new Set<string>([e.id, ...e.records.map((r) => r.name)]);
    const containers = await this.client.containers.list([], ctx);
    const users = containers.filter((c) => {
      if (refs.has(c.image)) return true;
      const asked = c.labels[LABEL_IMAGE_REF];
      if (asked === undefined) return false;
      try {
        return refs.has(normalizeName(asked));
      } catch {
        return false;
      }
    });
    if (users.length === 0) return [];
    const tasks = await this.client.tasks.list('', ctx);
    const running = new Set(tasks.filter((t) => String(t.status) !== 'STOPPED').map((t) => t.id));
    return users
      .map((c) => ({ id: c.id, running: running.has(c.id) }))
      .sort((a, b) => Number(b.running) - Number(a.running));
  }

  /** tagImage names the image `source` `repo:tag` (tag defaults to `latest`); moves the name if taken. */
  async tagImage(source: string, repo: string, tag: string, signal: AbortSignal): Promise<void> {
    const target = withTag(repo, tag);
    const ctx: CallContext = { signal };
    const { entry } = await this.find(source, ctx);
    await this.setName(target, entry.target, entry.id, ctx);
  }

  /**
   * imageDelete removes an image reference, or the image, as `docker rmi` expects:
   * - by name: untags it; 409 when it is the image's last name and a container uses the image
   *   (unless force, which untags and keeps the image as dangling); the last name gone and no
   *   container using it, the image is deleted (`images.delete(sync)`, containerd's GC frees
   *   content and snapshots).
   * - by ID or digest: 409 when it has names in several repositories (unless force), when a
   *   running container uses it (never forced), or a stopped one does (unless force); then
   *   every name is untagged and the image deleted.
   */
  async imageDelete(
    name: string,
    opts: RemoveImageOptions,
    signal: AbortSignal,
    onDeleted?: (e: ImageEntry) => void,
  ): Promise<DeleteItem[]> {
    const ctx: CallContext = { signal };
    const { entry, name: matched, byName } = await this.find(name, ctx);
    const users = await this.containersUsing(entry, ctx);
    const out: DeleteItem[] = [];
    const short = shortId(entry.id);
    if (byName) {
      const last = entry.names.length <= 1;
      const user = users[0];
      if (last && user && !opts.force) {
        throw new ConflictError(
          `conflict: unable to remove repository reference "${name}" (must force) - container ${shortId(user.id)} is using its referenced image ${short}`,
        );
      }
      if (!last || user) {
        if (last) {
          // Forced while in use: keep the image as dangling for its containers.
          await this.keepDangling(entry.target, ctx);
        }
        await this.deleteRecord(matched, false, ctx);
        out.push({ Untagged: familiarName(matched) });
        this.events?.publish('image', 'untag', entry.id, { name: familiarName(matched) });
        return out;
      }
    } else {
      const repos = new Set(entry.names.map((n) => parseReference(n).name));
      if (repos.size > 1 && !opts.force) {
        throw new ConflictError(
          `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`,
        );
      }
      const running = users.find((u) => u.running);
      if (running) {
        throw new ConflictError(
          `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${shortId(running.id)}`,
        );
      }
      const stopped = users[0];
      if (stopped && !opts.force) {
        throw new ConflictError(
          `conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${shortId(stopped.id)}`,
        );
      }
    }
    const records = entry.records;
    for (const [i, rec] of records.entries()) {
      const lastOne = i === records.length - 1;
      const deleted = await this.deleteRecord(rec.name, lastOne, ctx);
      if (deleted && !isDanglingName(rec.name)) {
        out.push({ Untagged: familiarName(rec.name) });
        this.events?.publish('image', 'untag', entry.id, { name: familiarName(rec.name) });
      }
    }
    out.push({ Deleted: entry.id });
    this.events?.publish('image', 'delete', entry.id, { name: entry.id });
    onDeleted?.(entry);
    return out;
  }
}
