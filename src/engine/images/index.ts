/**
 * The image engine: store.ts (containerd image records: names, lookups, delete), queries.ts
 * (list/inspect/history/df views over views.ts), load.ts and unpack.ts (content in, snapshots
 * out), service.ts (ImageService: the ImagesBackend of backend.ts).
 */
export { ImageService, type ImageServiceOptions } from './service.js';
export {
  danglingName,
  isDanglingName,
  type ImageEvents,
  type ManifestDescriptor,
  type ResolvedImage,
} from './store.js';
export type { UnpackHooks } from './unpack.js';
export type * from './backend.js';
