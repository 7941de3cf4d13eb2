import { type EngineError, type ErrorKind } from './errors.js';

const statusByKind: Record<ErrorKind, number> = {
  InvalidArgument: 400,
  NotFound: 404,
  Conflict: 409,
  AlreadyExists: 409,
  FailedPrecondition: 400,
  PermissionDenied: 403,
  Unauthenticated: 401,
  NotImplemented: 501,
  NotModified: 304,
  Unavailable: 503,
  // 499 is nginx's and moby's "client closed request": logged, never seen by a live client.
  Cancelled: 499,
  Internal: 500,
};

/** httpStatusOf maps an EngineError to the HTTP status dockerd uses for that kind. */
export function httpStatusOf(err: EngineError): number {
  return statusByKind[err.kind];
}
