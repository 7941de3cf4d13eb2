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
  // RFC 4918's Insufficient Storage. dockerd answers 500 with the ENOSPC text; moby's client
  // (errdefs.FromStatusCode) files every 5xx but 501/503 as errdefs.System, as it does 500, and
  // the CLI prints the message either way: 507 changes nothing for clients and tells a full disk
  // from a bug.
  InsufficientStorage: 507,
  Internal: 500,
};

/** httpStatusOf maps an EngineError to the HTTP status dockerd uses for that kind. */
export function httpStatusOf(err: EngineError): number {
  return statusByKind[err.kind];
}
