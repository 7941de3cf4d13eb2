import { InternalError } from '../errors/index.js';
import type { CallContext, Connection } from './connection.js';

/**
 * ServiceAdapter is the base of the per-service adapters: it holds the shared Connection and
 * the client's default context (namespace), merged under each call's own context.
 */
export abstract class ServiceAdapter {
  protected readonly conn: Connection;
  readonly #defaults: CallContext;

  constructor(conn: Connection, defaults: CallContext) {
    this.conn = conn;
    this.#defaults = defaults;
  }

  /** ctx merges a call's context over the client defaults (undefined keys do not override). */
  protected ctx(ctx?: CallContext): CallContext {
    const out: CallContext = { ...this.#defaults };
    if (!ctx) return out;
    if (ctx.namespace !== undefined) out.namespace = ctx.namespace;
    if (ctx.lease !== undefined) out.lease = ctx.lease;
    if (ctx.signal !== undefined) out.signal = ctx.signal;
    if (ctx.deadlineMs !== undefined) out.deadlineMs = ctx.deadlineMs;
    return out;
  }
}

/**
 * required unwraps a message field containerd always sets (proto3 makes every message field
 * optional on the wire); a missing one is a protocol violation, reported as InternalError.
 */
export function required<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new InternalError(`containerd returned no ${what}`);
  return value;
}
