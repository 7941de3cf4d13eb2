/**
 * RegistrySession: one operation's conversation with one registry repository over the
 * distribution API v2 (OCI distribution spec): auth challenges answered once per scope, manifests,
 * blob streams (with Range for resume), blob uploads (cross-repository mount, monolithic PUT or
 * chunked PATCH) and manifest PUT. Bodies are streams; nothing is buffered but manifests.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { EngineError, InternalError, InvalidArgumentError, UnauthenticatedError } from '../errors/index.js';
import {
  basicHeader,
  credentialsKey,
  parseChallenges,
  scopeKey,
  type Challenge,
  type Credentials,
  type TokenCache,
} from './auth.js';
import { readBody, readFailure, toEngineError } from './errors.js';
import type { Endpoint, RegistryRequest, Transport } from './transport.js';

/** MAX_MANIFEST_BYTES bounds a manifest or index read into memory (containerd: 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 << 20;
const MAX_REDIRECTS = 5;

/** SessionOptions open a session on one registry host. */
export interface SessionOptions {
  transport: Transport;
  tokens: TokenCache;
  host: string;
  credentials: Credentials | undefined;
  signal?: AbortSignal;
}

/** FetchedManifest is a manifest (or index) as the registry served it. */
export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  /** digest from Docker-Content-Digest, or computed when the registry sent none. */
  headerDigest: string | undefined;
}

/** UploadStart is the outcome of POST /blobs/uploads/: mounted, or a location to send to. */
export type UploadStart = { mounted: true } | { mounted: false; location: string };

/** RegistrySession talks to one registry host with one set of credentials. */
export class RegistrySession {
  readonly host: string;
  readonly #transport: Transport;
  readonly #tokens: TokenCache;
  readonly #creds: Credentials | undefined;
  readonly #signal: AbortSignal | undefined;
  /** The challenge the registry answered with (undefined until a 401 was seen; null = open). */
  #challenge: Challenge | null | undefined;

  constructor(o: SessionOptions) {
    this.host = o.host;
    this.#transport = o.transport;
    this.#tokens = o.tokens;
    this.#creds = o.credentials;
    this.#signal = o.signal;
  }

  // One endpoint per session (a pull, a push, a login): certs.d is read once per operation.
  #ep: Promise<Endpoint> | undefined;

  async #endpoint(): Promise<Endpoint> {
    if (!this.#ep) {
      this.#ep = this.#transport.endpoint(this.host, this.#signal);
      this.#ep.catch(() => (this.#ep = undefined));
    }
    return this.#ep;
  }

  /** url builds an absolute URL on the registry's endpoint. */
  async url(path: string): Promise<string> {
    return `${(await this.#endpoint()).base}${path}`;
  }

  /**
   * login checks the credentials against the registry as dockerd's `loginV2`: GET /v2/, answer
   * its challenge (Basic, or a token with no scope), and require a 200.
   */
  async login(): Promise<void> {
    const ep = await this.#endpoint();
    const url = `${ep.base}/v2/`;
    let res = await this.#transport.send(this.#req('GET', url), ep);
    if (res.statusCode === 401) {
      res.resume();
      this.#challenge = pickChallenge(parseChallenges(res.headers['www-authenticate']));
      if (!this.#challenge)
        throw new UnauthenticatedError(`login attempt to ${url} failed with status: 401 Unauthorized`);
      if (!this.#creds) throw new UnauthenticatedError(`Get "${url}": unauthorized: authentication required`);
      const auth = await this.#authorization([], true);
      res = await this.#transport.send(this.#req('GET', url, auth ? { authorization: auth } : {}), ep);
    }
    if (res.statusCode !== 200) {
      res.resume();
      throw new UnauthenticatedError(
        `login attempt to ${url} failed with status: ${res.statusCode} ${res.statusMessage ?? ''}`.trimEnd(),
      );
    }
    res.resume();
  }

  #req(
    method: RegistryRequest['method'],
    url: string,
    headers: Record<string, string> = {},
  ): RegistryRequest {
    return { method, url, headers, ...(this.#signal ? { signal: this.#signal } : {}) };
  }

  /**
   * #authorization returns the Authorization header for the scopes under the known challenge,
   * fetching (and caching) a Bearer token when needed; undefined when the registry is open.
   */
  async #authorization(scopes: readonly string[], forLogin = false): Promise<string | undefined> {
    const ch = this.#challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      if (!this.#creds || this.#creds.kind !== 'basic') return undefined;
      return basicHeader(this.#creds.username, this.#creds.password);
    }
    const key = `${this.host}|${credentialsKey(this.#creds)}|${scopeKey(scopes)}`;
    const cached = forLogin ? undefined : this.#tokens.get(key);
    if (cached) return `Bearer ${cached}`;
    const { token, expiresIn } = await this.#fetchToken(ch, scopes);
    this.#tokens.set(key, token, expiresIn);
    return `Bearer ${token}`;
  }

  async #fetchToken(
    ch: Challenge,
    scopes: readonly string[],
  ): Promise<{ token: string; expiresIn?: number }> {
    const realm = ch.params.realm;
    if (!realm) throw new InternalError(`registry ${this.host}: bearer challenge without a realm`);
    const u = new URL(realm);
    const service = ch.params.service;
    const creds = this.#creds;
    let res: IncomingMessage;
    const ep = await this.#endpoint();
    const tokenEp: Endpoint = { ...ep, base: u.origin };
    if (creds?.kind === 'identity') {
      // OAuth2 refresh-token grant, as distribution's token handler with an identity token.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'docker',
        ...(service ? { service } : {}),
      });
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      const body = Buffer.from(form.toString());
      res = await this.#transport.send(
        {
          ...this.#req('POST', u.toString(), {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': String(body.length),
          }),
          body,
        },
        tokenEp,
      );
    } else {
      if (service) u.searchParams.set('service', service);
      for (const s of scopes) u.searchParams.append('scope', s);
      if (creds?.kind === 'basic') {
        u.searchParams.set('account', creds.username);
      }
      const headers: Record<string, string> = {};
      if (creds?.kind === 'basic') headers.authorization = basicHeader(creds.username, creds.password);
      res = await this.#transport.send(this.#req('GET', u.toString(), headers), tokenEp);
    }
    if (res.statusCode !== 200) {
      const f = await readFailure(res);
      const base = `${ep.base}/v2/`;
      if (f.status === 401) throw new UnauthenticatedError(`Get "${base}": ${f.text}`);
      throw toEngineError(f, `Get "${u.origin}${u.pathname}": `);
    }
    const body = await readBody(res, 1 << 20);
    let v: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      v = JSON.parse(body.toString('utf8')) as typeof v;
    } catch {
      throw new InternalError(`registry ${this.host}: token server answered with something not JSON`);
    }
    const token = typeof v.token === 'string' && v.token ? v.token : v.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new InternalError(`registry ${this.host}: token server answered without a token`);
    }
    return { token, ...(typeof v.expires_in === 'number' ? { expiresIn: v.expires_in } : {}) };
  }

  /**
   * send sends a request with the authorization known for its scopes; on a 401 with a
   * challenge, it authorizes and, when the body can be sent again, retries once.
   */
  async send(
    method: RegistryRequest['method'],
    path: string,
    scopes: readonly string[],
    opts: { headers?: Record<string, string>; body?: Buffer | Readable; absolute?: boolean } = {},
  ): Promise<IncomingMessage> {
    const ep = await this.#endpoint();
    const url = opts.absolute ? path : `${ep.base}${path}`;
    const attempt = async (): Promise<IncomingMessage> => {
      const auth = await this.#authorization(scopes);
      const req = this.#req(method, url, { ...opts.headers, ...(auth ? { authorization: auth } : {}) });
      if (opts.body !== undefined) req.body = opts.body;
      return this.#transport.send(req, ep);
    };
    let res = await attempt();
    const replayable = opts.body === undefined || Buffer.isBuffer(opts.body);
    if (res.statusCode === 401 && this.#challenge === undefined) {
      const ch = pickChallenge(parseChallenges(res.headers['www-authenticate']));
      if (ch && replayable) {
        res.resume();
        this.#challenge = ch;
        res = await attempt();
      } else if (ch) this.#challenge = ch;
    }
    return res;
  }

  /** authorize makes sure the registry's challenge for `scopes` is known and answered (before a streamed body). */
  async authorize(scopes: readonly string[]): Promise<void> {
    if (this.#challenge !== undefined) return;
    const res = await this.send('GET', '/v2/', scopes);
    res.resume();
    if (this.#challenge === undefined) this.#challenge = null;
  }

  /** getManifest fetches a manifest or index by tag or digest with the given Accept list. */
  async getManifest(repo: string, reference: string, accept: readonly string[]): Promise<FetchedManifest> {
    const res = await this.send('GET', `/v2/${repo}/manifests/${reference}`, [pullScope(repo)], {
      headers: { accept: accept.join(', ') },
    });
    if (res.statusCode !== 200) throw toEngineError(await readFailure(res));
    const len = Number(res.headers['content-length'] ?? 0);
    if (len > MAX_MANIFEST_BYTES) {
      res.destroy();
      throw new InvalidArgumentError(
        `manifest ${repo}:${reference} is larger than ${MAX_MANIFEST_BYTES} bytes`,
      );
    }
    const bytes = await readBody(res, MAX_MANIFEST_BYTES + 1);
    if (bytes.length > MAX_MANIFEST_BYTES) {
      throw new InvalidArgumentError(
        `manifest ${repo}:${reference} is larger than ${MAX_MANIFEST_BYTES} bytes`,
      );
    }
    const ct = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    const hd = res.headers['docker-content-digest'];
    return { bytes, mediaType: ct, headerDigest: typeof hd === 'string' ? hd : undefined };
  }

  /**
   * blob opens a blob stream from byte `offset` (Range), following redirects (without the
   * Authorization header off the registry's origin). Resolves with the body and whether the
   * registry honoured the range.
   */
  async blob(repo: string, digest: string, offset = 0): Promise<{ body: IncomingMessage; ranged: boolean }> {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    let res = await this.send('GET', `/v2/${repo}/blobs/${digest}`, [pullScope(repo)], { headers });
    for (let i = 0; i < MAX_REDIRECTS && isRedirect(res.statusCode); i++) {
      const location = res.headers.location;
      res.resume();
      if (!location) throw new InternalError(`registry ${this.host}: redirect without a location`);
      const target = new URL(location, await this.url('/'));
      const ep = await this.#endpoint();
      res = await this.#transport.send(this.#req('GET', target.toString(), headers), ep);
    }
    if (res.statusCode === 200) return { body: res, ranged: false };
    if (res.statusCode === 206 && offset > 0) return { body: res, ranged: true };
    throw toEngineError(await readFailure(res), `fetching blob ${digest}: `);
  }

  /** hasBlob tells whether the repository has the blob (HEAD). */
  async hasBlob(repo: string, digest: string, scopes: readonly string[]): Promise<boolean> {
    const res = await this.send('HEAD', `/v2/${repo}/blobs/${digest}`, scopes);
    res.resume();
    if (res.statusCode === 200 || res.statusCode === 307) return true;
    if (res.statusCode === 404) return false;
    throw toEngineError({ status: res.statusCode ?? 0, errors: [], text: headText(res.statusCode ?? 0) });
  }

  /** startUpload opens an upload, or mounts the blob from `from` (same registry) when given. */
  async startUpload(
    repo: string,
    scopes: readonly string[],
    mount?: { digest: string; from: string },
  ): Promise<UploadStart> {
    const q = mount
      ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}`
      : '';
    const res = await this.send('POST', `/v2/${repo}/blobs/uploads/${q}`, scopes, {
      headers: { 'content-length': '0' },
    });
    if (res.statusCode === 201 && mount) {
      res.resume();
      return { mounted: true };
    }
    if (res.statusCode !== 202) throw toEngineError(await readFailure(res));
    res.resume();
    return { mounted: false, location: await this.#location(res) };
  }

  async #location(res: IncomingMessage): Promise<string> {
    const loc = res.headers.location;
    if (!loc) throw new InternalError(`registry ${this.host}: upload answer without a Location`);
    return new URL(loc, await this.url('/')).toString();
  }

  /** patchChunk sends bytes [start, start+length) of an upload; returns the next location. */
  async patchChunk(
    location: string,
    scopes: readonly string[],
    body: Readable,
    start: number,
    length: number,
  ): Promise<string> {
    const res = await this.send('PATCH', location, scopes, {
      absolute: true,
      body,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(length),
        'content-range': `${start}-${start + length - 1}`,
      },
    });
    if (res.statusCode !== 202) throw toEngineError(await readFailure(res));
    res.resume();
    return this.#location(res);
  }

  /** finishUpload closes an upload with PUT ?digest= (with the whole blob as body for a monolithic upload). */
  async finishUpload(
    location: string,
    scopes: readonly string[],
    digest: string,
    body?: { stream: Readable; size: number },
  ): Promise<void> {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    const res = await this.send('PUT', u.toString(), scopes, {
      absolute: true,
      ...(body ? { body: body.stream } : {}),
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(body ? body.size : 0),
      },
    });
    if (res.statusCode !== 201) throw toEngineError(await readFailure(res));
    res.resume();
  }

  /** putManifest uploads a manifest under a tag (or digest); returns the registry's digest. */
  async putManifest(
    repo: string,
    reference: string,
    mediaType: string,
    bytes: Buffer,
  ): Promise<string | undefined> {
    const res = await this.send('PUT', `/v2/${repo}/manifests/${reference}`, [pushScope(repo)], {
      body: bytes,
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
    });
    if (res.statusCode !== 201) throw toEngineError(await readFailure(res));
    res.resume();
    const d = res.headers['docker-content-digest'];
    return typeof d === 'string' ? d : undefined;
  }
}

function isRedirect(status: number | undefined): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function headText(status: number): string {
  if (status === 401) return 'unauthorized: authentication required';
  if (status === 403) return 'denied: requested access to the resource is denied';
  return `received unexpected HTTP status: ${status}`;
}

function pickChallenge(chs: Challenge[]): Challenge | undefined {
  return chs.find((c) => c.scheme === 'bearer') ?? chs.find((c) => c.scheme === 'basic');
}

/** pullScope is the token scope to read a repository. */
export function pullScope(repo: string): string {
  return `repository:${repo}:pull`;
}

/** pushScope is the token scope to write a repository. */
export function pushScope(repo: string): string {
  return `repository:${repo}:pull,push`;
}

/** isEngine tells EngineErrors apart (re-exported for the engine's retry logic). */
export function isRetryable(err: unknown): boolean {
  return err instanceof EngineError && err.kind === 'Unavailable';
}
