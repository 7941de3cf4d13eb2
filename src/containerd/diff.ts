import type { DiffDefinition } from '../gen/containerd/services/diff/v1/Diff.js';
import type {
  Descriptor as DescriptorInput,
  Descriptor__Output,
} from '../gen/containerd/types/Descriptor.js';
import type { Mount as MountInput } from '../gen/containerd/types/Mount.js';
import type { Any } from '../gen/google/protobuf/Any.js';
import { ServiceAdapter, required } from './adapter.js';
import type { CallContext } from './connection.js';
import { serviceDefinition } from './proto.js';

const svc = serviceDefinition<DiffDefinition>('containerd.services.diff.v1.Diff');

/** Descriptor is an OCI content descriptor as containerd returns it (size as decimal string). */
export type Descriptor = Descriptor__Output;
/** DescriptorInit is a descriptor sent to containerd (size as number or string). */
export type DescriptorInit = DescriptorInput;
/** MountInit is a mount sent to containerd. */
export type MountInit = MountInput;

/** DiffOptions tune Diff.Diff: media type of the layer, ingest ref and labels of the blob. */
export interface DiffOptions {
  /** mediaType of the produced layer; '' = gzip OCI layer (containerd's default). */
  mediaType?: string;
  /** ref names the content ingest; '' = containerd picks one. */
  ref?: string;
  /** labels are set on the committed blob (containerd adds `containerd.io/uncompressed`). */
  labels?: Record<string, string>;
}

/** DiffService adapts containerd.services.diff.v1.Diff (the default `walking` differ). */
export class DiffService extends ServiceAdapter {
  /** apply unpacks the layer `diff` onto the mounts and returns the applied (uncompressed) descriptor. */
  async apply(
    diff: DescriptorInit,
    mounts: MountInit[],
    payloads: Record<string, Any> = {},
    ctx?: CallContext,
  ): Promise<Descriptor> {
    const res = await this.conn.unary(svc.Apply, { diff, mounts, payloads }, this.ctx(ctx), {
      longRunning: true,
    });
    return required(res.applied, 'applied descriptor');
  }

  /** diff computes the layer between the lower and upper mounts, stores it as content and returns its descriptor. */
  async diff(
    left: MountInit[],
    right: MountInit[],
    opts: DiffOptions = {},
    ctx?: CallContext,
  ): Promise<Descriptor> {
    const req = {
      left,
      right,
      media_type: opts.mediaType ?? '',
      ref: opts.ref ?? '',
      labels: opts.labels ?? {},
    };
    const res = await this.conn.unary(svc.Diff, req, this.ctx(ctx), { longRunning: true });
    return required(res.diff, 'diff descriptor');
  }
}
