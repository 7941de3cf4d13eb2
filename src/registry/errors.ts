/**
 * Registry error answers turned into ckptd errors worded as dockerd's (distribution's errcode:
 * `manifest unknown: manifest unknown`, `unauthorized: authentication required`).
 */
import type { IncomingMessage } from 'node:http';
import {
  EngineError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
} from '../errors/index.js';

/** RegistryErrorDetail is one entry of a registry's `{"errors": [...]}` body. */
export interface RegistryErrorDetail {
  code: string;
  message: string;
}

/** readBody reads a small response body (at most `max` bytes; the rest is discarded). */
export async function readBody(res: IncomingMessage, max = 1 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (total < max) chunks.push(chunk.subarray(0, max - total));
    total += chunk.length;
  }
  return Buffer.concat(chunks);
}

/** parseErrors reads distribution's error body; empty when the body is not one. */
export function parseErrors(body: Buffer): RegistryErrorDetail[] {
  try {
    const v = JSON.parse(body.toString('utf8')) as { errors?: unknown; details?: unknown };
    if (Array.isArray(v.errors)) {
      return v.errors
        .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
        .map((e) => ({ code: String(e.code ?? 'UNKNOWN'), message: String(e.message ?? '') }));
    }
    if (typeof v.details === 'string') return [{ code: 'UNAUTHORIZED', message: v.details }];
  } catch {
    /* not JSON */
  }
  return [];
}

/** errcodeText renders errors as distribution's `errcode.Errors.Error()` does. */
export function errcodeText(errors: RegistryErrorDetail[], status: number, statusText: string): string {
  const one = (e: RegistryErrorDetail): string => {
    const code = e.code.toLowerCase().replace(/_/g, ' ');
    return e.message ? `${code}: ${e.message}` : code;
  };
  if (errors.length === 1) return one(errors[0]!);
  if (errors.length > 1) return `errors:\n${errors.map(one).join('\n')}\n`;
  if (status === 401) return 'unauthorized: authentication required';
  if (status === 403) return 'denied: requested access to the resource is denied';
  return `received unexpected HTTP status: ${status} ${statusText}`;
}

/** RegistryHttpError carries the status and parsed errors of a failed registry answer. */
export interface RegistryFailure {
  status: number;
  errors: RegistryErrorDetail[];
  text: string;
}

/** readFailure reads a failed answer's status and errors. */
export async function readFailure(res: IncomingMessage): Promise<RegistryFailure> {
  const status = res.statusCode ?? 0;
  const body = await readBody(res, 64 << 10).catch(() => Buffer.alloc(0));
  const errors = parseErrors(body);
  return { status, errors, text: errcodeText(errors, status, res.statusMessage ?? '') };
}

/** toEngineError maps a registry failure to the engine error kind dockerd would answer with. */
export function toEngineError(f: RegistryFailure, prefix = ''): EngineError {
  const msg = `${prefix}${f.text}`;
  switch (f.status) {
    case 401:
      return new UnauthenticatedError(msg);
    case 403:
      return new PermissionDeniedError(msg);
    case 404:
      return new NotFoundError(msg);
    case 400:
    case 405:
      return new InvalidArgumentError(msg);
    case 429:
    case 502:
    case 503:
    case 504:
      return new UnavailableError(msg);
    default:
      return new InternalError(msg);
  }
}
