/**
 * EngineError is the one error hierarchy of ckptd. Every layer below HTTP throws these (or
 * wraps foreign errors into them); the HTTP layer maps `kind` to a status once.
 *
 * Branch on `code` (stable, documented in ERROR_CODES) or `kind`, never on message text.
 */
export type ErrorKind =
  | 'InvalidArgument'
  | 'NotFound'
  | 'Conflict'
  | 'AlreadyExists'
  | 'FailedPrecondition'
  | 'PermissionDenied'
  | 'Unauthenticated'
  | 'NotImplemented'
  | 'NotModified'
  | 'Unavailable'
  | 'Cancelled'
  | 'InsufficientStorage'
  | 'Internal';

/** ERROR_CODES documents every error code ckptd emits; a unit test keeps it complete. */
export const ERROR_CODES = {
  CKPTD_INVALID_ARGUMENT: 'A request parameter or body is malformed or out of range.',
  CKPTD_NOT_FOUND: 'The named object (container, image, checkpoint, content...) does not exist.',
  CKPTD_CONFLICT: 'The object is in a state that forbids the operation (running, in use, name taken).',
  CKPTD_ALREADY_EXISTS: 'An object with that name or digest already exists.',
  CKPTD_FAILED_PRECONDITION: 'A precondition of the operation does not hold.',
  CKPTD_PERMISSION_DENIED: 'The operation is not permitted (read-only rootfs, forbidden path).',
  CKPTD_UNAUTHENTICATED: 'A registry refused the credentials given (or asked for some).',
  CKPTD_NOT_IMPLEMENTED: 'The operation is not implemented by ckptd or by containerd.',
  CKPTD_NOT_MODIFIED: 'Nothing to do: the object is already in the requested state.',
  CKPTD_UNAVAILABLE: 'containerd (or another backend) cannot be reached right now; retry later.',
  CKPTD_CANCELLED: 'The operation was cancelled (client gone, daemon shutting down, deadline).',
  CKPTD_NO_SPACE:
    'The host has no space left where the operation writes (data root, containerd root): ' +
    'free space and retry; what the operation had written is removed.',
  CKPTD_INTERNAL: 'An unexpected failure; the message says which action failed.',
  CKPTD_API_VERSION: 'The client asked for an API version outside the supported range.',
} as const;

/** ErrorCode is one documented code of ERROR_CODES. */
export type ErrorCode = keyof typeof ERROR_CODES;

const defaultCode: Record<ErrorKind, ErrorCode> = {
  InvalidArgument: 'CKPTD_INVALID_ARGUMENT',
  NotFound: 'CKPTD_NOT_FOUND',
  Conflict: 'CKPTD_CONFLICT',
  AlreadyExists: 'CKPTD_ALREADY_EXISTS',
  FailedPrecondition: 'CKPTD_FAILED_PRECONDITION',
  PermissionDenied: 'CKPTD_PERMISSION_DENIED',
  Unauthenticated: 'CKPTD_UNAUTHENTICATED',
  NotImplemented: 'CKPTD_NOT_IMPLEMENTED',
  NotModified: 'CKPTD_NOT_MODIFIED',
  Unavailable: 'CKPTD_UNAVAILABLE',
  Cancelled: 'CKPTD_CANCELLED',
  InsufficientStorage: 'CKPTD_NO_SPACE',
  Internal: 'CKPTD_INTERNAL',
};

/** EngineErrorOptions carries an optional specific code and the underlying cause. */
export interface EngineErrorOptions {
  code?: ErrorCode;
  cause?: unknown;
}

/** EngineError is the base class; use a subclass to pick the kind. */
export abstract class EngineError extends Error {
  abstract readonly kind: ErrorKind;
  readonly #code: ErrorCode | undefined;

  constructor(message: string, opts: EngineErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.#code = opts.code;
    this.name = new.target.name;
  }

  /** code is the stable, documented identifier of this error. */
  get code(): ErrorCode {
    return this.#code ?? defaultCode[this.kind];
  }
}

/** InvalidArgumentError: bad input from the client (HTTP 400). */
export class InvalidArgumentError extends EngineError {
  readonly kind = 'InvalidArgument' as const;
}
/** NotFoundError: the object does not exist (HTTP 404). */
export class NotFoundError extends EngineError {
  readonly kind = 'NotFound' as const;
}
/** ConflictError: state conflict (HTTP 409). */
export class ConflictError extends EngineError {
  readonly kind = 'Conflict' as const;
}
/** AlreadyExistsError: name or digest taken (HTTP 409). */
export class AlreadyExistsError extends EngineError {
  readonly kind = 'AlreadyExists' as const;
}
/** FailedPreconditionError: a precondition does not hold (HTTP 400). */
export class FailedPreconditionError extends EngineError {
  readonly kind = 'FailedPrecondition' as const;
}
/** PermissionDeniedError: not permitted (HTTP 403). */
export class PermissionDeniedError extends EngineError {
  readonly kind = 'PermissionDenied' as const;
}
/** UnauthenticatedError: a registry refused the credentials (HTTP 401, dockerd's errdefs.Unauthenticated). */
export class UnauthenticatedError extends EngineError {
  readonly kind = 'Unauthenticated' as const;
}
/** NotImplementedError: unsupported operation (HTTP 501). */
export class NotImplementedError extends EngineError {
  readonly kind = 'NotImplemented' as const;
}
/** NotModifiedError: already in the requested state (HTTP 304). */
export class NotModifiedError extends EngineError {
  readonly kind = 'NotModified' as const;
}
/** UnavailableError: backend unreachable (HTTP 503). */
export class UnavailableError extends EngineError {
  readonly kind = 'Unavailable' as const;
}
/** CancelledError: the operation was aborted (logged as 499, the client is gone). */
export class CancelledError extends EngineError {
  readonly kind = 'Cancelled' as const;
}
/**
 * NoSpaceError: the disk (or quota) where the operation writes is full (HTTP 507 Insufficient
 * Storage). Build it with noSpaceError (no-space.ts), which keeps "no space left on device" in
 * the message whatever layer (Node fs, containerd, tar, zstd, CRIU) reported it.
 */
export class NoSpaceError extends EngineError {
  readonly kind = 'InsufficientStorage' as const;
}
/** InternalError: unexpected failure (HTTP 500). */
export class InternalError extends EngineError {
  readonly kind = 'Internal' as const;
}

/** isEngineError narrows unknown values to EngineError. */
export function isEngineError(err: unknown): err is EngineError {
  return err instanceof EngineError;
}

/** isNotFound: the error is a NotFoundError (HTTP 404), e.g. a missing container or image. */
export function isNotFound(err: unknown): err is NotFoundError {
  return err instanceof NotFoundError;
}

/** isConflict: the error is a ConflictError or AlreadyExistsError (HTTP 409). */
export function isConflict(err: unknown): err is ConflictError | AlreadyExistsError {
  return err instanceof ConflictError || err instanceof AlreadyExistsError;
}

/**
 * wrapError prefixes the action that failed to an error, keeping its kind when it is an
 * EngineError and turning anything else into an InternalError.
 */
export function wrapError(action: string, err: unknown): EngineError {
  if (err instanceof EngineError) {
    const Ctor = err.constructor as new (m: string, o: EngineErrorOptions) => EngineError;
    return new Ctor(`${action}: ${err.message}`, { code: err.code, cause: err });
  }
  const msg = err instanceof Error ? err.message : String(err);
  if (isNoSpace(err)) return new NoSpaceError(withNoSpaceText(`${action}: ${msg}`), { cause: err });
  return new InternalError(`${action}: ${msg}`, { cause: err });
}

const NO_SPACE_TEXT = /no space left on device|disk quota exceeded|\bENOSPC\b|\bEDQUOT\b/i;

/**
 * isNoSpace says whether err (or an error in its cause chain) is a full disk or quota: a Node
 * errno ENOSPC/EDQUOT, or a message saying so (containerd's gRPC details, the stderr of tar,
 * zstd or CRIU that a caller put into its message).
 */
export function isNoSpace(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 16; depth++) {
    if (e instanceof NoSpaceError) return true;
    const x = e as {
      code?: unknown;
      message?: unknown;
      details?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (x.code === 'ENOSPC' || x.code === 'EDQUOT') return true;
    if (typeof x.message === 'string' && NO_SPACE_TEXT.test(x.message)) return true;
    if (typeof x.details === 'string' && NO_SPACE_TEXT.test(x.details)) return true;
    if (typeof e === 'string') return NO_SPACE_TEXT.test(e);
    if (Array.isArray(x.errors) && x.errors.some((a) => isNoSpace(a))) return true;
    e = x.cause;
  }
  return false;
}

/** withNoSpaceText makes sure a message names the cause in the words users search for. */
export function withNoSpaceText(msg: string): string {
  return /no space left on device/i.test(msg) ? msg : `${msg}: no space left on device`;
}

/**
 * noSpaceError returns err as a NoSpaceError (HTTP 507, message naming "no space left on
 * device") when it is a full disk, and undefined otherwise.
 */
export function noSpaceError(err: unknown): NoSpaceError | undefined {
  if (err instanceof NoSpaceError) return err;
  if (!isNoSpace(err)) return undefined;
  const msg = err instanceof Error ? err.message : String(err);
  return new NoSpaceError(withNoSpaceText(msg), { cause: err });
}
