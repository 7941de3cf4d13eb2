import type { Any__Output } from '../gen/google/protobuf/Any.js';
import type { CheckpointOptions } from '../gen/containerd/runc/v1/CheckpointOptions.js';
import type { Options, Options__Output } from '../gen/containerd/runc/v1/Options.js';
import type { CheckpointOptions__Output } from '../gen/containerd/runc/v1/CheckpointOptions.js';
import { InvalidArgumentError } from '../errors/index.js';
import protobuf from 'protobufjs';
import { CONVERSION_OPTIONS, protoRoot } from './proto.js';

/** ProtoAny is a packed google.protobuf.Any as sent to and received from containerd. */
export type ProtoAny = Any__Output;

/** RuncOptions are containerd.runc.v1.Options (container runtime options, Tasks.Create options). */
export type RuncOptions = Options;
/** RuncCheckpointOptions are containerd.runc.v1.CheckpointOptions (Tasks.Checkpoint options). */
export type RuncCheckpointOptions = CheckpointOptions;

/** RUNC_OPTIONS_TYPE_URL is the type_url containerd's typeurl gives runc Options. */
export const RUNC_OPTIONS_TYPE_URL = 'containerd.runc.v1.Options';
/** RUNC_CHECKPOINT_OPTIONS_TYPE_URL is the type_url of runc CheckpointOptions. */
export const RUNC_CHECKPOINT_OPTIONS_TYPE_URL = 'containerd.runc.v1.CheckpointOptions';
/** OCI_SPEC_TYPE_URL is the type_url containerd registers for an OCI runtime spec (JSON value). */
export const OCI_SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
/** OCI_PROCESS_TYPE_URL is the type_url of an OCI process spec (Tasks.Exec spec, JSON value). */
export const OCI_PROCESS_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
/** OCI_RESOURCES_TYPE_URL is the type_url of OCI Linux resources (Tasks.Update, JSON value). */
export const OCI_RESOURCES_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';

const JSON_TYPE_URLS = new Set([OCI_SPEC_TYPE_URL, OCI_PROCESS_TYPE_URL, OCI_RESOURCES_TYPE_URL]);

/**
 * messageNameOf turns a type_url into a protobuf full name: containerd's typeurl uses bare
 * names (`containerd.events.TaskExit`); Google-style URLs carry a `type.googleapis.com/` prefix.
 */
export function messageNameOf(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash === -1 ? typeUrl : typeUrl.slice(slash + 1);
}

/** packMessage encodes `value` as the protobuf message `fullName` (declared in protos/) into an Any. */
export function packMessage(fullName: string, value: object, typeUrl: string = fullName): ProtoAny {
  const type = protoRoot.lookupType(fullName);
  // verify() ignores unknown keys: catch camelCase slips (criuImagePath) that would pack nothing.
  const unknown = Object.keys(value).filter((k) => !(k in type.fields));
  if (unknown.length > 0)
    throw new InvalidArgumentError(`cannot pack ${fullName}: unknown field(s) ${unknown.join(', ')}`);
  const err = type.verify(value);
  if (err) throw new InvalidArgumentError(`cannot pack ${fullName}: ${err}`);
  return { type_url: typeUrl, value: Buffer.from(type.encode(type.fromObject(value)).finish()) };
}

/**
 * unpackMessage decodes an Any whose type is declared in protos/ into a plain object (same
 * conversions as gRPC replies); undefined when the type is unknown or for JSON payloads.
 */
export function unpackMessage(any: ProtoAny): Record<string, unknown> | undefined {
  if (JSON_TYPE_URLS.has(any.type_url)) return undefined;
  const type = protoRoot.lookup(messageNameOf(any.type_url));
  if (!(type instanceof protobuf.Type)) return undefined;
  return type.toObject(type.decode(any.value), CONVERSION_OPTIONS);
}

/** packRuncOptions packs runc Options (e.g. criu_image_path) as an Any for containerd. */
export function packRuncOptions(options: RuncOptions): ProtoAny {
  return packMessage('containerd.runc.v1.Options', options, RUNC_OPTIONS_TYPE_URL);
}

/** unpackRuncOptions decodes runc Options from a container's runtime options Any. */
export function unpackRuncOptions(any: ProtoAny): Options__Output {
  if (any.type_url !== RUNC_OPTIONS_TYPE_URL) {
    throw new InvalidArgumentError(`runtime options are ${any.type_url}, not ${RUNC_OPTIONS_TYPE_URL}`);
  }
  return unpackMessage(any) as unknown as Options__Output;
}

/** packCheckpointOptions packs runc CheckpointOptions (exit, image_path, ...) as an Any. */
export function packCheckpointOptions(options: RuncCheckpointOptions): ProtoAny {
  return packMessage('containerd.runc.v1.CheckpointOptions', options, RUNC_CHECKPOINT_OPTIONS_TYPE_URL);
}

/** unpackCheckpointOptions decodes runc CheckpointOptions from an Any. */
export function unpackCheckpointOptions(any: ProtoAny): CheckpointOptions__Output {
  if (any.type_url !== RUNC_CHECKPOINT_OPTIONS_TYPE_URL) {
    throw new InvalidArgumentError(
      `checkpoint options are ${any.type_url}, not ${RUNC_CHECKPOINT_OPTIONS_TYPE_URL}`,
    );
  }
  return unpackMessage(any) as unknown as CheckpointOptions__Output;
}

/** packJson packs a JSON document as an Any with the given type_url (containerd's JSON types). */
export function packJson(typeUrl: string, value: unknown): ProtoAny {
  return { type_url: typeUrl, value: Buffer.from(JSON.stringify(value)) };
}

/** packSpec packs an OCI runtime spec as the Any containerd stores in Container.spec. */
export function packSpec(spec: object): ProtoAny {
  return packJson(OCI_SPEC_TYPE_URL, spec);
}

/** unpackSpec parses the OCI runtime spec out of Container.spec. */
export function unpackSpec<T = Record<string, unknown>>(any: ProtoAny): T {
  if (any.type_url !== OCI_SPEC_TYPE_URL) {
    throw new InvalidArgumentError(`container spec is ${any.type_url}, not ${OCI_SPEC_TYPE_URL}`);
  }
  return JSON.parse(any.value.toString('utf8')) as T;
}
