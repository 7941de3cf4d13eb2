/**
 * Checkpoint and restore (moby `daemon/checkpoint.go`, podman `pkg/checkpoint`): a checkpoint is a
 * directory in the Podman/CRI-O layout (layout.ts) that CRIU writes straight into through
 * containerd's Tasks.Checkpoint, by default in `<data-root>/containers/<id>/checkpoints/<name>/`.
 *
 * - layout.ts   file names, dump types, directories
 * - create.ts   a checkpoint as named steps (containerd's WithCheckpoint* options)
 * - restore.ts  restore in place or into a new container; rebuild.ts rebuilds its create request
 * - transfer.ts export (archive stream) and import
 * - service.ts  CheckpointService: the CheckpointBackend the routes call
 * - checkpoint-trust/, checkpoint-dirs.ts, checkpoint-image.ts: CRIU image checks, the caller's
 *   `dir`, checkpoint images (OCI images holding a checkpoint)
 */
export { CheckpointService } from './service.js';
export type * from './types.js';
export type { CkptdDump, ConfigDump } from './layout.js';
export { CHECKPOINT_IMAGES_DIR, CKPTD_DUMP } from './layout.js';
