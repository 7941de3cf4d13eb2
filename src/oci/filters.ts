/**
 * The `filters` query parameter of list and events endpoints, parsed as moby's
 * `api/types/filters` does: the CLI's `{"key":{"value":true}}` and docker-py's legacy
 * `{"key":["value"]}` are both accepted, and the match helpers keep moby's semantics.
 */
import { InvalidArgumentError } from '../errors/index.js';

/**
 * invalidFilterError builds moby's `invalidFilter` error: `invalid filter` alone (undecodable
 * JSON), `invalid filter 'key'` (unknown key) or `invalid filter 'key=[v1 v2]'` (bad value).
 */
export function invalidFilterError(key?: string, values?: readonly string[]): InvalidArgumentError {
  let msg = 'invalid filter';
  if (key !== undefined && key !== '') {
    msg += ` '${key}`;
    if (values !== undefined) msg += `=[${values.join(' ')}]`;
    msg += "'";
  }
  return new InvalidArgumentError(msg);
}

/** Filters is a parsed `filters` parameter: each key maps to its set of values. */
export class Filters {
  readonly #fields: Map<string, Set<string>>;

  constructor(fields: Iterable<[string, Iterable<string>]> = []) {
    this.#fields = new Map();
    for (const [k, vs] of fields) this.#fields.set(k, new Set(vs));
  }

  /** size is the number of keys. */
  get size(): number {
    return this.#fields.size;
  }

  /** keys returns the filter keys in insertion order. */
  keys(): string[] {
    return [...this.#fields.keys()];
  }

  /** has reports whether key was given (even with no values). */
  has(key: string): boolean {
    return this.#fields.has(key);
  }

  /** get returns the values of key (empty when absent), in insertion order. */
  get(key: string): string[] {
    return [...(this.#fields.get(key) ?? [])];
  }

  /** toRecord returns a plain `{key: values[]}` copy, for logging and for passing across layers. */
  toRecord(): Record<string, string[]> {
    // Object.fromEntries defines own properties, so a `__proto__` key stays a plain key.
    return Object.fromEntries([...this.#fields].map(([k, vs]) => [k, [...vs]]));
  }

  /** toMap returns a `Map<key, values[]>` copy. */
  toMap(): Map<string, string[]> {
    return new Map([...this.#fields].map(([k, vs]) => [k, [...vs]]));
  }

  /**
   * validateKeys throws `invalid filter 'x'` (InvalidArgumentError) for the first key not in
   * allowed, as moby's `Args.Validate` does before any lookup.
   */
  validateKeys(allowed: Iterable<string>): this {
    const ok = new Set(allowed);
    for (const k of this.#fields.keys()) {
      if (!ok.has(k)) throw invalidFilterError(k);
    }
    return this;
  }

  /** exactMatch reports whether source equals one of key's values; true when key has none. */
  exactMatch(key: string, source: string): boolean {
    const vs = this.#fields.get(key);
    if (vs === undefined || vs.size === 0) return true;
    return vs.has(source);
  }

  /** uniqueExactMatch is exactMatch that also requires key to have exactly one value. */
  uniqueExactMatch(key: string, source: string): boolean {
    const vs = this.#fields.get(key);
    if (vs === undefined || vs.size === 0) return true;
    if (vs.size !== 1) return false;
    return vs.has(source);
  }

  /**
   * match reports whether source matches one of key's values read as regular expressions (an
   * invalid expression simply does not match); true when key has no values. moby uses Go's
   * regexp; the common subset (`^`, `$`, classes, `.*`) behaves the same in JavaScript.
   */
  match(key: string, source: string): boolean {
    const vs = this.#fields.get(key);
    if (vs === undefined || vs.size === 0 || vs.has(source)) return true;
    for (const v of vs) {
      try {
        if (new RegExp(v).test(source)) return true;
      } catch {
        // moby skips patterns that do not compile.
      }
    }
    return false;
  }

  /** fuzzyMatch reports whether source equals a value or starts with one (ID prefixes). */
  fuzzyMatch(key: string, source: string): boolean {
    if (this.exactMatch(key, source)) return true;
    for (const v of this.#fields.get(key) ?? []) {
      if (source.startsWith(v)) return true;
    }
    return false;
  }

  /**
   * matchKVList reports whether labels satisfy every `key` / `key=value` value of the filter
   * (`label=` filters); true when the filter has no values, false when labels are empty.
   */
  matchKVList(key: string, labels: Record<string, string> | undefined): boolean {
    const vs = this.#fields.get(key);
    if (vs === undefined || vs.size === 0) return true;
    if (labels === undefined || Object.keys(labels).length === 0) return false;
    for (const v of vs) {
      const eq = v.indexOf('=');
      const k = eq === -1 ? v : v.slice(0, eq);
      if (!Object.prototype.hasOwnProperty.call(labels, k)) return false;
      if (eq !== -1 && labels[k] !== v.slice(eq + 1)) return false;
    }
    return true;
  }

  /**
   * getBoolOrDefault reads a boolean filter such as `dangling`: `true`/`1` or `false`/`0`;
   * absent -> defaultValue; no, conflicting or other values -> `invalid filter 'k=[v]'`.
   */
  getBoolOrDefault(key: string, defaultValue: boolean): boolean {
    const vs = this.#fields.get(key);
    if (vs === undefined) return defaultValue;
    if (vs.size === 0) throw invalidFilterError(key);
    const isFalse = vs.has('0') || vs.has('false');
    const isTrue = vs.has('1') || vs.has('true');
    if (isFalse === isTrue) throw invalidFilterError(key, [...vs]);
    return isTrue;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * parseFilters parses the raw `filters` query value. Empty or absent gives no filters. Each key
 * may be encoded as `{"value": bool}` (the CLI; every listed value counts, as in moby's Get) or as
 * a legacy `["value", ...]` array (docker-py); `null` means the key with no values. Anything else
 * is InvalidArgumentError `invalid filter`.
 */
export function parseFilters(raw: string | undefined | null): Filters {
  if (raw === undefined || raw === null || raw === '') return new Filters();
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw) as unknown;
  } catch (err) {
    throw new InvalidArgumentError('invalid filter', { cause: err });
  }
  if (parsed === null) return new Filters();
  if (!isPlainObject(parsed)) throw invalidFilterError();
  const entries = Object.entries(parsed);
  // moby first decodes the whole object as map[string]map[string]bool, then as map[string][]string;
  // a document mixing both encodings fails both.
  const modern = entries.every(
    ([, v]) => v === null || (isPlainObject(v) && Object.values(v).every((b) => typeof b === 'boolean')),
  );
  if (modern) {
    return new Filters(entries.map(([k, v]) => [k, v === null ? [] : Object.keys(v as object)]));
  }
  const legacy = entries.every(
    ([, v]) => v === null || (Array.isArray(v) && v.every((s) => typeof s === 'string')),
  );
  if (legacy) {
    return new Filters(entries.map(([k, v]) => [k, (v ?? []) as string[]]));
  }
  throw invalidFilterError();
}

/** validateFilterKeys is parseFilters followed by Filters.validateKeys(allowed). */
export function validateFilterKeys(raw: string | undefined | null, allowed: Iterable<string>): Filters {
  return parseFilters(raw).validateKeys(allowed);
}

/** parseUntil reads an `until` filter value: unix seconds, RFC3339, or a Go duration ago. */
export function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Math.floor(Number(v));
  const ms = Date.parse(v);
  if (!Number.isNaN(ms)) return Math.floor(ms / 1000);
  const m = /^(\d+)(s|m|h)$/.exec(v);
  if (m)
    return Math.floor(Date.now() / 1000) - Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
  throw new InvalidArgumentError(`invalid filter 'until=${v}'`);
}

/**
 * prunable applies the filters of the prune routes (moby `pruneFilters`): `until` (created
 * before), `label` (all must match) and `label!` (none may match).
 */
export function prunable(f: Filters, createdSeconds: number, labels: Record<string, string>): boolean {
  for (const v of f.get('until')) if (createdSeconds >= parseUntil(v)) return false;
  if (!f.matchKVList('label', labels)) return false;
  for (const v of f.get('label!')) {
    const eq = v.indexOf('=');
    const k = eq === -1 ? v : v.slice(0, eq);
    if (Object.prototype.hasOwnProperty.call(labels, k) && (eq === -1 || labels[k] === v.slice(eq + 1)))
      return false;
  }
  return true;
}
