/**
 * The layout of a checkpoint as the engine sees it: the file names (from the archive leaf, which
 * the archive code shares), the dump types written into them, where checkpoints live under the
 * data root, and how a checkpoint's files are read (bounded, never through a link).
 */
import { access, lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECKPOINT_STAGING_DIR, CHECKPOINTS_DIR } from '../../archive/checkpoint-layout.js';
import { InvalidArgumentError } from '../../errors/index.js';
import type { HealthState } from '../health/health-state.js';
import type { CheckpointVolume } from '../volumes/checkpoint-volumes.js';

export * from '../../archive/checkpoint-layout.js';

/** ConfigDump is Podman's config.dump (checkpointctl `ContainerConfig`). */
export interface ConfigDump {
  id: string;
  name: string;
  rootfsImage: string;
  rootfsImageRef: string;
  rootfsImageName: string;
  /** rootfsImageID is libpod's name for the image ID (hex, no algorithm): Podman reads it */
  rootfsImageID?: string;
  runtime: string;
  createdTime: string;
  checkpointedTime: string;
  restoredTime?: string;
  restored?: boolean;
}

/** CkptdDump is ckptd.dump: the Docker-level config a new container is rebuilt from. */
export interface CkptdDump {
  Name: string;
  Config: Record<string, unknown>;
  HostConfig: Record<string, unknown>;
  Image: string;
  /** Volumes are the container's volumes (their content in `volumes/<Name>.tar` of an export). */
  Volumes?: CheckpointVolume[];
  /** Health is State.Health when the checkpoint was taken (a restore continues from it). */
  Health?: HealthState;
}

/** IMAGE_CHECKPOINT is the name of the checkpoint a container created from a checkpoint image holds. */
export const IMAGE_CHECKPOINT = 'image';
/** PENDING_FILE marks (in the container's directory) a container whose first start restores its checkpoint image. */
export const PENDING_FILE = 'checkpoint-image.json';

/** containerCheckpointsDir is a container's default checkpoint parent directory. */
export function containerCheckpointsDir(dataRoot: string, id: string): string {
  return join(dataRoot, 'containers', id, CHECKPOINTS_DIR);
}

/** checkpointStagingDir holds temporary checkpoints (exports) and imports being unpacked. */
export function checkpointStagingDir(dataRoot: string): string {
  return join(dataRoot, CHECKPOINT_STAGING_DIR);
}

/** exists tells whether a path exists. */
export async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/**
 * readBounded reads a checkpoint's text file (at most `max` bytes); undefined when it is absent.
 * lstat: a checkpoint's file is never a link to a host file.
 */
export async function readBounded(path: string, max = 16 * 1024 * 1024): Promise<string | undefined> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return undefined;
  if (!st.isFile() || st.size > max) throw new InvalidArgumentError(`${path}: not a file or too large`);
  return readFile(path, 'utf8');
}
