/**
 * The OpenAPI document of ckptd's API, built from the route schemas exactly as the server
 * serves it at /openapi.json, rendered deterministically for the committed openapi/ckptd.json.
 */
import pino from 'pino';
import type { SystemBackend } from '../engine/system.js';
import { NotImplementedError } from '../errors/index.js';
import type { ImagesBackend } from '../engine/images/backend.js';
import type { CommitBackend } from '../engine/commit.js';
import type { ContainersBackend } from '../engine/containers/index.js';
import { registerCommitRoutes } from './routes/commit.routes.js';
import type { ArchiveBackend } from '../engine/archive.js';
import { registerArchiveRoutes } from './routes/archive.routes.js';
import type { CheckpointBackend } from '../engine/checkpoint/index.js';
import { registerCheckpointRoutes } from './routes/checkpoint.routes.js';
import { registerContainersRoutes } from './routes/containers.routes.js';
import { registerImageRoutes } from './routes/images.routes.js';
import { registerVolumeRoutes } from './routes/volumes.routes.js';
import type { VolumesBackend } from '../engine/volumes/store.js';
import type { DistributionBackend } from '../engine/distribution.js';
import { registerRegistryRoutes } from './routes/registry.routes.js';
import { buildServer, type RouteRegistrar } from './server.js';
import type { NetworksBackend } from '../engine/networks.js';
import type { SystemDfBackend } from '../engine/system-df.js';
import { registerNetworkRoutes } from './routes/networks.routes.js';
import { registerUnsupportedRoutes } from './routes/unsupported.routes.js';

/** OPENAPI_FILE is the committed document's path, relative to the repository root. */
export const OPENAPI_FILE = 'openapi/ckptd.json';

const notServing = (): never => {
  throw new NotImplementedError('the OpenAPI generator serves no requests');
};

/** STUB_SYSTEM stands in for the engine: building the document never calls a backend. */
const STUB_SYSTEM: SystemBackend = { version: notServing, info: notServing, events: notServing };

/** STUB_IMAGES stands in for the ImageService. */
const STUB_IMAGES: ImagesBackend = {
  loadImage: notServing,
  images: notServing,
  imageInspect: notServing,
  imageHistory: notServing,
  tagImage: notServing,
  imageDelete: notServing,
  imagesPrune: notServing,
};

/** STUB_CONTAINERS stands in for the ContainerService. */
const STUB_CONTAINERS: ContainersBackend = {
  containerCreate: notServing,
  containerStart: notServing,
  containerStop: notServing,
  containerKill: notServing,
  containerRestart: notServing,
  containerWait: notServing,
  containerPause: notServing,
  containerUnpause: notServing,
  containerRename: notServing,
  containerTop: notServing,
  containerStats: notServing,
  containersPrune: notServing,
  containerRemove: notServing,
  containers: notServing,
  containerInspect: notServing,
  containerUpdate: notServing,
};

/** STUB_COMMIT stands in for the CommitService. */
const STUB_COMMIT: CommitBackend = {
  createImageFromContainer: notServing,
  containerChanges: notServing,
  containerExport: notServing,
};

/** STUB_CHECKPOINT stands in for the CheckpointService. */
const STUB_CHECKPOINT: CheckpointBackend = {
  checkpointCreate: notServing,
  checkpointExport: notServing,
  checkpointList: notServing,
  checkpointDelete: notServing,
  checkpointRestore: notServing,
  checkpointImport: notServing,
  startFromCheckpoint: notServing,
};

/** STUB_ARCHIVE stands in for the ArchiveService. */
const STUB_ARCHIVE: ArchiveBackend = {
  containerStatPath: notServing,
  containerArchivePath: notServing,
  containerExtractToDir: notServing,
  imageSave: notServing,
};

/** STUB_VOLUMES stands in for the VolumeService. */
const STUB_VOLUMES: VolumesBackend = {
  volumeCreate: notServing,
  volumeInspect: notServing,
  volumeList: notServing,
  volumeRemove: notServing,
  volumePrune: notServing,
};

/** STUB_NETWORKS stands in for the NetworkService. */
const STUB_NETWORKS: NetworksBackend = {
  networks: notServing,
  networkInspect: notServing,
  networkCreate: notServing,
  networkConnect: notServing,
  networkDisconnect: notServing,
  networkRemove: notServing,
  networksPrune: notServing,
};

/** STUB_DF stands in for the SystemDfService. */
const STUB_DF: SystemDfBackend = { diskUsage: notServing };

/** STUB_DISTRIBUTION stands in for the DistributionService. */
const STUB_DISTRIBUTION: DistributionBackend = {
  pullImage: notServing,
  pushImage: notServing,
  login: notServing,
};

/** STUB_ROUTES are the route groups documented besides the system group. */
const STUB_ROUTES: RouteRegistrar[] = [
  (app) => registerImageRoutes(app, STUB_IMAGES),
  (app) => registerContainersRoutes(app, STUB_CONTAINERS),
  (app) => registerCommitRoutes(app, STUB_COMMIT),
  (app) => registerCheckpointRoutes(app, STUB_CHECKPOINT),
  (app) => registerArchiveRoutes(app, STUB_ARCHIVE),
  (app) => registerVolumeRoutes(app, STUB_VOLUMES),
  (app) => registerNetworkRoutes(app, STUB_NETWORKS, STUB_DF),
  (app) => registerUnsupportedRoutes(app),
  (app) => registerRegistryRoutes(app, STUB_DISTRIBUTION),
];

/** renderOpenApi builds the app with stub backends and returns its OpenAPI document as JSON text (sorted keys, 2-space indent, trailing newline). */
export async function renderOpenApi(): Promise<string> {
  const app = await buildServer({
    system: STUB_SYSTEM,
    logger: pino({ level: 'silent' }),
    version: '0.0.0',
    routes: STUB_ROUTES,
  });
  try {
    await app.ready();
    return `${JSON.stringify(sortKeys(app.swagger()), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

/** sortKeys returns a copy of a JSON value with every object's keys in code-point order, so the text does not depend on registration order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      Object.defineProperty(out, k, {
        value: sortKeys((value as Record<string, unknown>)[k]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}
