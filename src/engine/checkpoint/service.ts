/**
 * CheckpointService implements CheckpointBackend over containerd, runc and CRIU: it holds the
 * options, the per-container lock and the directories, lists and deletes checkpoints, and hands
 * each operation to its file (create, restore, transfer).
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { CompressionKind } from '../../archive/compression.js';
import { InvalidArgumentError, NotFoundError } from '../../errors/index.js';
import { validateCheckpointId } from '../../oci/names.js';
import { ContainerLocks } from '../container-locks.js';
import type { StartOptions } from '../containers/index.js';
import { resolveCheckpointDir } from './checkpoint-dirs.js';
import { createCheckpoint } from './create.js';
import {
  CHECKPOINT_IMAGES_DIR,
  CONFIG_DUMP,
  checkpointStagingDir,
  containerCheckpointsDir,
  exists,
} from './layout.js';
import { ownMountPoints } from '../../host/mountinfo.js';
import { checkpointRestore, createFromCheckpoint } from './restore.js';
import { checkpointExport, checkpointImport } from './transfer.js';
import type {
  CheckpointBackend,
  CheckpointContext,
  CheckpointCreateOptions,
  CheckpointExport,
  CheckpointResult,
  CheckpointServiceOptions,
  CheckpointSummary,
  RestoreOptions,
  RestoreResult,
} from './types.js';

/**
 * CheckpointService implements CheckpointBackend over containerd, runc and CRIU.
 */
export class CheckpointService implements CheckpointBackend {
  readonly #o: CheckpointServiceOptions;
  readonly #ctx: CheckpointContext;

  constructor(o: CheckpointServiceOptions) {
    this.#o = o;
    const locks = o.locks ?? new ContainerLocks();
    const stagingDir = checkpointStagingDir(o.dataRoot);
    this.#ctx = {
      o,
      stagingDir,
      locked: (id, fn) => locks.run(id, fn),
      checkDir: (dir) => resolveCheckpointDir(dir, o.dataRoot, o.checkpointDirs ?? []),
      checkpointsDir: (id, dir) => dir ?? containerCheckpointsDir(o.dataRoot, id),
    };
  }

  /** stagingDir holds temporary checkpoints (exports) and imports being unpacked. */
  get stagingDir(): string {
    return this.#ctx.stagingDir;
  }

  /**
   * clearStaging removes what a previous run of the daemon left in the staging directory (an
   * export or import cut short by a crash). Called once at start, before any request.
   */
  async clearStaging(): Promise<void> {
    // never recurse into something mounted below it
    const inside = ((await ownMountPoints()) ?? []).filter((m) => m.startsWith(`${this.stagingDir}/`));
    if (inside.length > 0) {
      this.#o.logger?.warn({ mounts: inside }, 'checkpoint staging has mounts below it: left in place');
      return;
    }
    await rm(this.stagingDir, { recursive: true, force: true });
  }

  async checkpointCreate(
    ref: string,
    opts: CheckpointCreateOptions,
    signal?: AbortSignal,
  ): Promise<CheckpointResult> {
    const ctx = this.#ctx;
    // dockerd looks the container up first: an unknown one is a 404 whatever the name
    const c = await this.#o.containers.containerInspect(ref, signal);
    if (opts.name === undefined) throw new InvalidArgumentError('name is required (or export=true)');
    const name = validateCheckpointId(opts.name);
    const dir = await ctx.checkDir(opts.dir);
    return ctx.locked(c.Id, () => createCheckpoint(ctx, c, name, ctx.checkpointsDir(c.Id, dir), opts));
  }

  checkpointExport(
    ref: string,
    opts: CheckpointCreateOptions & { compress: CompressionKind },
    signal?: AbortSignal,
  ): Promise<CheckpointExport> {
    return checkpointExport(this.#ctx, ref, opts, signal);
  }

  async checkpointList(ref: string, dir?: string, signal?: AbortSignal): Promise<CheckpointSummary[]> {
    const d = await this.#ctx.checkDir(dir);
    const c = await this.#o.containers.containerInspect(ref, signal);
    const parent = this.#ctx.checkpointsDir(c.Id, d);
    const entries = await readdir(parent, { withFileTypes: true }).catch(() => []);
    const out: CheckpointSummary[] = [];
    for (const e of entries) {
      if (e.isDirectory() && (await exists(join(parent, e.name, CONFIG_DUMP)))) out.push({ Name: e.name });
    }
    return out.sort((a, b) => (a.Name < b.Name ? -1 : 1));
  }

  async checkpointDelete(ref: string, name: string, dir?: string, signal?: AbortSignal): Promise<void> {
    const n = validateCheckpointId(name);
    const d = await this.#ctx.checkDir(dir);
    const c = await this.#o.containers.containerInspect(ref, signal);
    const ckDir = join(this.#ctx.checkpointsDir(c.Id, d), n);
    if (!(await exists(join(ckDir, CONFIG_DUMP))) && !(await exists(join(ckDir, CHECKPOINT_IMAGES_DIR)))) {
      throw new NotFoundError(`checkpoint ${n} does not exist for container ${c.Name.replace(/^\//, '')}`);
    }
    await rm(ckDir, { recursive: true, force: true });
  }

  async startFromCheckpoint(ref: string, opts: StartOptions, signal?: AbortSignal): Promise<void> {
    await this.checkpointRestore(
      ref,
      {
        ...(opts.checkpoint !== undefined ? { checkpoint: opts.checkpoint } : {}),
        ...(opts.checkpointDir ? { dir: opts.checkpointDir } : {}),
      },
      signal,
    );
  }

  checkpointRestore(ref: string, opts: RestoreOptions, signal?: AbortSignal): Promise<RestoreResult> {
    return checkpointRestore(this.#ctx, ref, opts, signal);
  }

  checkpointImport(input: Readable, opts: RestoreOptions, signal?: AbortSignal): Promise<RestoreResult> {
    return checkpointImport(this.#ctx, input, opts, signal);
  }

  /**
   * createFromCheckpoint creates a new container from the unpacked checkpoint `ckDir` exactly as
   * an import would and applies its rootfs diff, without restoring the task (restore.ts).
   */
  createFromCheckpoint(
    ckDir: string,
    checkpoint: string,
    opts: RestoreOptions,
    signal?: AbortSignal,
  ): Promise<string> {
    return createFromCheckpoint(this.#ctx, ckDir, checkpoint, opts, signal);
  }
}
