/**
 * ImagesBackend: the engine interface the image routes call (moby `router/image/backend.go`),
 * apart from its implementation (ImageService) so handlers are tested with fakes.
 */
import type { Readable } from 'node:stream';
import type { Filters } from '../../oci/filters.js';
import type { HistoryItem, ImageInspect, ImageSummary } from './views.js';

export type { HistoryItem, ImageInspect, ImageSummary } from './views.js';

/** LoadedImage is one image a load stored: its ID and the familiar tags it got. */
export interface LoadedImage {
  id: string;
  repoTags: string[];
}

/** DeleteItem is one line of DELETE /images/{name}'s answer. */
export type DeleteItem = { Untagged: string } | { Deleted: string };

/** ImagesPruneReport is POST /images/prune's answer. */
export interface ImagesPruneReport {
  ImagesDeleted: DeleteItem[] | null;
  SpaceReclaimed: number;
}

/** ListImagesOptions are GET /images/json's parameters. */
export interface ListImagesOptions {
  all?: boolean;
  filters: Filters;
}

/** RemoveImageOptions are DELETE /images/{name}'s parameters. */
export interface RemoveImageOptions {
  force?: boolean;
  /** noprune is accepted and ignored: there are no parent images to prune in containerd's store. */
  noprune?: boolean;
}

/**
 * ImagesBackend is what the image routes call (moby `router/image/backend.go`), so handlers
 * can be tested with a fake.
 */
export interface ImagesBackend {
  /** loadImage stores every image of an archive stream; all or nothing. */
  loadImage(input: Readable, signal: AbortSignal): Promise<LoadedImage[]>;
  /** images lists images (GET /images/json). */
  images(opts: ListImagesOptions, signal: AbortSignal): Promise<ImageSummary[]>;
  /** imageInspect describes one image (GET /images/{name}/json). */
  imageInspect(name: string, signal: AbortSignal): Promise<ImageInspect>;
  /** imageHistory lists an image's history, newest first. */
  imageHistory(name: string, signal: AbortSignal): Promise<HistoryItem[]>;
  /** tagImage gives the image `source` the name repo:tag. */
  tagImage(source: string, repo: string, tag: string, signal: AbortSignal): Promise<void>;
  /** imageDelete untags and/or deletes an image. */
  imageDelete(name: string, opts: RemoveImageOptions, signal: AbortSignal): Promise<DeleteItem[]>;
  /** imagesPrune deletes images no container uses: dangling ones, or all with `dangling=false`. */
  imagesPrune(filters: Filters, signal: AbortSignal): Promise<ImagesPruneReport>;
}
