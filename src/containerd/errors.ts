import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import {
  AlreadyExistsError,
  CancelledError,
  EngineError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NoSpaceError,
  NotFoundError,
  NotImplementedError,
  PermissionDeniedError,
  UnavailableError,
} from '../errors/index.js';

/**
 * GrpcCallInfo names the call an error came from, for messages: the socket address and the
 * method path (`/containerd.services.content.v1.Content/Info`).
 */
export interface GrpcCallInfo {
  address: string;
  method?: string;
}

/** isServiceError narrows unknown values to grpc-js' ServiceError (an Error with a status code). */
export function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === 'number' &&
    typeof (err as Partial<ServiceError>).details === 'string'
  );
}

// Transport failures grpc-js reports (never connected, connection dropped mid-call): these mean
// "containerd is not there", whatever status code they come with.
const TRANSPORT_FAILURE =
  /No connection established|ECONNREFUSED|ENOENT|ECONNRESET|EPIPE|Connection dropped|Connection closed|RST_STREAM|GOAWAY|Failed to connect/i;
// A deadline that expired before a connection was picked: containerd never answered.
const DEADLINE_BEFORE_CONNECT = /Waiting for LB pick|waiting for name resolution/i;

/**
 * isContainerdGone tells whether err is a transport failure of a containerd call (containerd
 * died, restarted or never answered) rather than containerd answering UNAVAILABLE itself (an
 * ingest "ref ... locked"): retrying the same call on a broken stream is pointless then.
 */
export function isContainerdGone(err: unknown): boolean {
  if (!(err instanceof EngineError) || err.kind !== 'Unavailable') return false;
  const cause = err.cause;
  if (!isServiceError(cause)) return /^containerd is not available at /.test(err.message);
  const details = cause.details || cause.message;
  return TRANSPORT_FAILURE.test(details) || DEADLINE_BEFORE_CONNECT.test(details);
}

/**
 * fromGrpcError maps a gRPC failure to the EngineError subclass for its status code, once, at
 * the edge of the containerd layer (containerd's errgrpc.ToNative). Non-gRPC errors become
 * InternalError; EngineErrors pass through. The original error is kept as `cause`.
 */
export function fromGrpcError(err: unknown, info: GrpcCallInfo): EngineError {
  if (err instanceof EngineError) return err;
  if (!isServiceError(err)) {
    const msg = err instanceof Error ? err.message : String(err);
    return new InternalError(`containerd${callName(info)}: ${msg}`, { cause: err });
  }
  const details = err.details || err.message;
  const opts = { cause: err };
  // containerd reports a full disk as Unknown/Internal with the errno text (content writers,
  // snapshotters, the diff applier): one 507 kind, whatever the status code.
  if (/no space left on device|disk quota exceeded/i.test(details)) {
    return new NoSpaceError(`containerd${callName(info)}: ${details}`, opts);
  }
  const unavailable = (): UnavailableError =>
    new UnavailableError(`containerd is not available at ${info.address}: ${details}`, opts);
  switch (err.code) {
    case GrpcStatus.INVALID_ARGUMENT:
      return new InvalidArgumentError(details, opts);
    case GrpcStatus.NOT_FOUND:
      return new NotFoundError(details, opts);
    case GrpcStatus.ALREADY_EXISTS:
      return new AlreadyExistsError(details, opts);
    case GrpcStatus.FAILED_PRECONDITION:
      return new FailedPreconditionError(details, opts);
    case GrpcStatus.PERMISSION_DENIED:
      return new PermissionDeniedError(details, opts);
    case GrpcStatus.UNIMPLEMENTED:
      return new NotImplementedError(`containerd${callName(info)}: ${details}`, opts);
    case GrpcStatus.UNAVAILABLE:
      // containerd also answers UNAVAILABLE itself (e.g. "ref ... locked"): keep its words then.
      return TRANSPORT_FAILURE.test(details) ? unavailable() : new UnavailableError(details, opts);
    case GrpcStatus.CANCELLED:
      return new CancelledError(`containerd${callName(info)} cancelled: ${details}`, opts);
    case GrpcStatus.DEADLINE_EXCEEDED:
      if (DEADLINE_BEFORE_CONNECT.test(details)) return unavailable();
      return new InternalError(`containerd${callName(info)}: deadline exceeded (${details})`, opts);
    default:
      if (TRANSPORT_FAILURE.test(details)) return unavailable();
      return new InternalError(`containerd${callName(info)}: ${details}`, opts);
  }
}

function callName(info: GrpcCallInfo): string {
  if (!info.method) return '';
  // "/containerd.services.content.v1.Content/Info" -> " Content.Info"
  const m = /\.([A-Za-z]+)\/([A-Za-z]+)$/.exec(info.method);
  return m ? ` ${m[1]}.${m[2]}` : ` ${info.method}`;
}
