/**
 * Registry authentication (distribution's `registry/client/auth` and moby's registry auth):
 * WWW-Authenticate challenges, Basic credentials, the Bearer token flow (token endpoint with
 * `service` and `scope`, tokens reused per scope until they expire) and the X-Registry-Auth
 * header the Docker CLI sends (base64url JSON).
 */
import { InvalidArgumentError } from '../errors/index.js';

/** Credentials are what the client gave: a user and password, or an identity (refresh) token. */
export type Credentials =
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'identity'; username: string; identityToken: string };

/** Challenge is one parsed WWW-Authenticate challenge. */
export interface Challenge {
  /** scheme in lower case: `basic` or `bearer`. */
  scheme: string;
  params: Record<string, string>;
}

/**
 * parseChallenges parses a WWW-Authenticate header value (RFC 7235: `Scheme k="v", k2=v2`,
 * several challenges separated by commas), as distribution's `challenge.ResponseChallenges`.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const v of values) {
    let i = 0;
    let current: Challenge | undefined;
    const s = v;
    const skipWs = (): void => {
      while (i < s.length && /[\s,]/.test(s[i]!)) i++;
    };
    const token = (): string => {
      const start = i;
      while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i]!)) i++;
      return s.slice(start, i);
    };
    while (i < s.length) {
      skipWs();
      const word = token();
      if (word === '') {
        i++;
        continue;
      }
      while (i < s.length && s[i] === ' ') i++;
      if (s[i] === '=') {
        i++;
        let value = '';
        if (s[i] === '"') {
          i++;
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\' && i + 1 < s.length) i++;
            value += s[i];
            i++;
          }
          i++;
        } else value = token();
        if (current) current.params[word.toLowerCase()] = value;
      } else {
        current = { scheme: word.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}

/** basicHeader is the Authorization value for Basic credentials. */
export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/**
 * decodeRegistryAuth decodes the X-Registry-Auth header (moby `registry.DecodeAuthConfig`):
 * base64url (padded or not; standard base64 is accepted too) JSON `{username, password,
 * serveraddress}` or `{identitytoken}`. Empty, `{}` or a header without credentials is
 * anonymous (undefined). Malformed is a 400, as dockerd's `invalid X-Registry-Auth header`.
 */
export function decodeRegistryAuth(header: string | undefined): Credentials | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  let obj: unknown;
  try {
    const b64 = header.trim().replace(/-/g, '+').replace(/_/g, '/');
    obj = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`invalid X-Registry-Auth header: ${(err as Error).message}`);
  }
  return credentialsFromAuthConfig(obj, 'X-Registry-Auth');
}

/**
 * credentialsFromAuthConfig reads Docker's AuthConfig (`username`, `password`, `auth`,
 * `identitytoken`, `registrytoken`); undefined when it holds no credentials.
 */
export function credentialsFromAuthConfig(obj: unknown, where: string): Credentials | undefined {
  if (obj === null || obj === undefined) return undefined;
  if (typeof obj !== 'object' || Array.isArray(obj)) {
    throw new InvalidArgumentError(`invalid ${where}: expected a JSON object`);
  }
  const o = obj as Record<string, unknown>;
  const str = (k: string): string => {
    const v = o[k];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new InvalidArgumentError(`invalid ${where}: ${k} must be a string`);
    return v;
  };
  let username = str('username');
  let password = str('password');
  const auth = str('auth');
  if (auth !== '' && username === '' && password === '') {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new InvalidArgumentError(`invalid ${where}: auth is not base64 "user:password"`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const identityToken = str('identitytoken');
  if (str('registrytoken') !== '') {
    throw new InvalidArgumentError(
      `${where}: registrytoken is not supported by ckptd; use identitytoken or a password`,
    );
  }
  if (identityToken !== '') return { kind: 'identity', username, identityToken };
  if (username === '' && password === '') return undefined;
  return { kind: 'basic', username, password };
}

/** credentialsKey identifies credentials in token caches without keeping the secret readable. */
export function credentialsKey(c: Credentials | undefined): string {
  if (!c) return 'anonymous';
  const secret = c.kind === 'basic' ? c.password : c.identityToken;
  return `${c.kind}:${c.username}:${Buffer.from(secret).toString('base64url').length}:${hash(secret)}`;
}

function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16);
}

/** TokenEntry is a cached Bearer token. */
interface TokenEntry {
  token: string;
  expiresAt: number;
}

/** TOKEN_MIN_LIFETIME_S is what a token without `expires_in` is trusted for (distribution: 60 s). */
export const TOKEN_MIN_LIFETIME_S = 60;

/**
 * TokenCache keeps Bearer tokens per (registry host, credentials, scope) until shortly before
 * they expire, so the layers of one pull, and consecutive pulls, reuse one token per scope.
 */
export class TokenCache {
  readonly #entries = new Map<string, TokenEntry>();

  /** get returns a live token for the key, if any. */
  get(key: string): string | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (Date.now() >= e.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.token;
  }

  /** set stores a token for `expiresInS` seconds (at least TOKEN_MIN_LIFETIME_S), minus a margin. */
  set(key: string, token: string, expiresInS: number | undefined): void {
    const life = Math.max(expiresInS ?? TOKEN_MIN_LIFETIME_S, TOKEN_MIN_LIFETIME_S);
    if (this.#entries.size > 1024) this.#entries.clear();
    this.#entries.set(key, { token, expiresAt: Date.now() + (life - 5) * 1000 });
  }
}

/** scopeKey normalizes a list of scopes into a cache key. */
export function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}
