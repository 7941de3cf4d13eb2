/**
 * The on-disk layout of a checkpoint, in one place (checkpointctl's `metadata` constants:
 * `ConfigDumpFile`, `SpecDumpFile`, `RootFsDiffTar`, `DeletedFilesFile`, ...). A checkpoint is a
 * directory in the Podman/CRI-O layout, plus ckptd's own `ckptd.dump`; an export is a tar of it.
 * This is a leaf: the archive code (packing, extraction checks) and the checkpoint engine both
 * name these files from here, never with a literal of their own.
 */

/** CHECKPOINT_IMAGES_DIR is where CRIU's images go inside a checkpoint (`metadata.CheckpointDirectory`). */
export const CHECKPOINT_IMAGES_DIR = 'checkpoint';
/** CONFIG_DUMP is Podman's container config (`metadata.ConfigDumpFile`): names the base image. */
export const CONFIG_DUMP = 'config.dump';
/** SPEC_DUMP is the OCI runtime spec the container ran with (`metadata.SpecDumpFile`). */
export const SPEC_DUMP = 'spec.dump';
/** CKPTD_DUMP is ckptd's own file in a checkpoint: the Docker config of the container. */
export const CKPTD_DUMP = 'ckptd.dump';
/** NETWORK_STATUS is Podman's network state (`metadata.NetworkStatusFile`); ckptd never writes it. */
export const NETWORK_STATUS = 'network.status';
/** ROOTFS_DIFF_TAR is the rootfs changes file of the Podman layout (`metadata.RootFsDiffTar`). */
export const ROOTFS_DIFF_TAR = 'rootfs-diff.tar';
/** DELETED_FILES is the JSON list of paths deleted from the image rootfs (`metadata.DeletedFilesFile`). */
export const DELETED_FILES = 'deleted.files';
/** CHECKPOINT_VOLUMES_DIR holds `<volume>.tar` per volume (`metadata.CheckpointVolumesDirectory`). */
export const CHECKPOINT_VOLUMES_DIR = 'volumes';
/** STATS_DUMP is CRIU's dump statistics image (`metadata.StatsDump`). */
export const STATS_DUMP = 'stats-dump';
/** STATS_RESTORE is CRIU's restore statistics image (`metadata.StatsRestore`). */
export const STATS_RESTORE = 'stats-restore';
/** DUMP_LOG is CRIU's dump log, in the checkpoint's work directory (`metadata.DumpLogFile`). */
export const DUMP_LOG = 'dump.log';
/** RESTORE_LOG is CRIU's restore log, in the restore's work directory (`metadata.RestoreLogFile`). */
export const RESTORE_LOG = 'restore.log';
/** INVENTORY_IMG is the CRIU image every complete dump has. */
export const INVENTORY_IMG = 'inventory.img';

/** METADATA_FILES are the JSON files of a checkpoint, each size-capped on import. */
export const METADATA_FILES: ReadonlySet<string> = new Set([
  CONFIG_DUMP,
  SPEC_DUMP,
  DELETED_FILES,
  NETWORK_STATUS,
  CKPTD_DUMP,
]);

/** checkpointVolumeTar is the path of a volume's content inside a checkpoint. */
export function checkpointVolumeTar(volume: string): string {
  return `${CHECKPOINT_VOLUMES_DIR}/${volume}.tar`;
}

/** CHECKPOINTS_DIR is a container's directory of checkpoints: `<data-root>/containers/<id>/checkpoints`. */
export const CHECKPOINTS_DIR = 'checkpoints';
/** CHECKPOINT_STAGING_DIR is `<data-root>/checkpoint-staging`: exports and imports in progress. */
export const CHECKPOINT_STAGING_DIR = 'checkpoint-staging';
/** IMPORTED_CHECKPOINT is the name an import kept with `keep` has among the container's checkpoints. */
export const IMPORTED_CHECKPOINT = 'imported';
