/**
 * Registry transport as dockerd sets it up (moby `registry/config.go`, `registry/registry.go`):
 * HTTPS with the system CAs plus `/etc/docker/certs.d/<host:port>/*.crt` and a client
 * certificate pair (`*.cert` + `*.key`); plain HTTP only for registries that are insecure: on a
 * loopback address (127.0.0.0/8, ::1, which dockerd lists as insecure by default) or named by
 * `--insecure-registry` (host[:port] or CIDR). An insecure registry is tried over HTTPS first
 * (without certificate verification, as dockerd) and over HTTP when TLS fails.
 */
import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { rootCertificates } from 'node:tls';
import { validateInsecureRegistries } from '../config/config.js';
import { CancelledError, InvalidArgumentError, UnavailableError } from '../errors/index.js';
import { splitHostPort } from './reference.js';

/** DEFAULT_CERTS_DIR is dockerd's per-registry TLS directory. */
export const DEFAULT_CERTS_DIR = '/etc/docker/certs.d';

/** TransportOptions configure how registries are reached. */
export interface TransportOptions {
  /** insecureRegistries: `host[:port]` or CIDR entries allowed over plain HTTP (dockerd's flag). */
  insecureRegistries: readonly string[];
  /** certsDir holds `<host:port>/ca.crt`, `client.cert`, `client.key`; default /etc/docker/certs.d. */
  certsDir?: string;
  /** timeoutMs bounds connecting and each period of silence on a response (default 60 s). */
  timeoutMs?: number;
}

/** Endpoint is where a registry's v2 API answers: a base URL and the agent to use. */
export interface Endpoint {
  /** base is `https://host[:port]` or `http://host[:port]`. */
  base: string;
  agent: http.Agent;
  insecure: boolean;
}

/** RequestInit describes one registry request. */
export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** body: bytes, or a stream (then set content-length in headers when known). */
  body?: Buffer | Readable;
  signal?: AbortSignal;
}

/** tlsKey identifies the TLS material an agent was made with. */
function tlsKey(tls: https.AgentOptions): string {
  const h = createHash('sha256');
  for (const part of [tls.ca, tls.cert, tls.key]) {
    h.update(JSON.stringify(part === undefined ? null : [part].flat().map((x) => String(x))));
  }
  return h.digest('hex');
}

/** UNKNOWN_AUTHORITY are OpenSSL's verification failures Go reports as an unknown authority. */
const UNKNOWN_AUTHORITY = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/**
 * tlsWording words a TLS failure as Go's crypto/tls and crypto/x509 (what dockerd prints), with
 * OpenSSL's reason kept after it; undefined for other errors.
 */
export function tlsWording(code: string | undefined, message: string): string | undefined {
  if (code === undefined) return undefined;
  if (UNKNOWN_AUTHORITY.has(code)) return `x509: certificate signed by unknown authority (${message})`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return `x509: certificate has expired or is not yet valid (${message})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `x509: ${message}`;
  if (/ALERT_CERTIFICATE_REQUIRED$/.test(code)) return `remote error: tls: certificate required (${message})`;
  if (/ALERT_BAD_CERTIFICATE$/.test(code)) return `remote error: tls: bad certificate (${message})`;
  if (/ALERT_UNKNOWN_CA$/.test(code)) return `remote error: tls: unknown certificate authority (${message})`;
  return undefined;
}

function nodeError(err: unknown): { code?: string; message: string } {
  const e = err as { code?: string; message?: string };
  return { ...(e.code ? { code: e.code } : {}), message: e.message ?? String(err) };
}

/** Transport resolves endpoints and sends requests, as dockerd's registry HTTP client. */
export class Transport {
  readonly #insecure: readonly string[];
  readonly #certsDir: string;
  readonly #timeoutMs: number;
  readonly #endpoints = new Map<string, { key: string; endpoint: Promise<Endpoint> }>();
  readonly #plainAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  constructor(opts: TransportOptions) {
    validateInsecureRegistries(opts.insecureRegistries);
    this.#insecure = opts.insecureRegistries;
    this.#certsDir = opts.certsDir ?? DEFAULT_CERTS_DIR;
    this.#timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** close drops pooled connections. */
  close(): void {
    this.#plainAgent.destroy();
    for (const e of this.#endpoints.values())
      e.endpoint.then((ep) => ep.agent.destroy()).catch(() => undefined);
    this.#endpoints.clear();
  }

  /** isInsecure tells whether `host[:port]` may be reached over plain HTTP (loopback or listed). */
  async isInsecure(hostPort: string): Promise<boolean> {
    if (this.#insecure.includes(hostPort)) return true;
    const { hostname } = splitHostPort(hostPort);
    if (this.#insecure.includes(hostname)) return true;
    let addrs: string[];
    if (isIP(hostname)) addrs = [hostname];
    else {
      try {
        addrs = (await lookup(hostname, { all: true })).map((a) => a.address);
      } catch {
        return false;
      }
    }
    const list = new BlockList();
    list.addSubnet('127.0.0.0', 8, 'ipv4');
    list.addAddress('::1', 'ipv6');
    for (const e of this.#insecure) {
      if (!e.includes('/')) continue;
      const [addr, bits] = e.split('/') as [string, string];
      list.addSubnet(addr, Number(bits), isIP(addr) === 6 ? 'ipv6' : 'ipv4');
    }
    return addrs.some((a) => list.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4'));
  }

  /**
   * endpoint returns the base URL and agent for a registry host, probing HTTPS then HTTP for an
   * insecure registry. The certs.d directory is read on every call (as dockerd reads it for each
   * pull or push): the answer is cached per host and TLS material, so a CA or client pair added
   * or removed takes effect on the next operation.
   */
  async endpoint(hostPort: string, signal?: AbortSignal): Promise<Endpoint> {
    const tls = await this.#tlsOptions(hostPort);
    const key = tlsKey(tls);
    const known = this.#endpoints.get(hostPort);
    if (known && known.key === key) return known.endpoint;
    const p = this.#resolve(hostPort, tls, signal);
    const entry = { key, endpoint: p };
    this.#endpoints.set(hostPort, entry);
    p.catch(() => {
      if (this.#endpoints.get(hostPort) === entry) this.#endpoints.delete(hostPort);
    });
    return p;
  }

  /** forget drops a cached endpoint (after a connection failure, so the next try probes again). */
  forget(hostPort: string): void {
    this.#endpoints.delete(hostPort);
  }

  async #tlsOptions(hostPort: string): Promise<https.AgentOptions> {
    const dir = join(this.#certsDir, hostPort);
    let files: string[];
    try {
      files = (await readdir(dir)).sort();
    } catch {
      return {};
    }
    const cas: string[] = [];
    let cert: Buffer | undefined;
    let key: Buffer | undefined;
    for (const f of files) {
      if (f.endsWith('.crt')) cas.push(await readFile(join(dir, f), 'utf8'));
      else if (f.endsWith('.cert')) {
        const keyFile = `${f.slice(0, -'.cert'.length)}.key`;
        if (!files.includes(keyFile)) {
          throw new InvalidArgumentError(`missing key ${keyFile} for client certificate ${f}`);
        }
        cert = await readFile(join(dir, f));
        key = await readFile(join(dir, keyFile));
      } else if (f.endsWith('.key')) {
        const certFile = `${f.slice(0, -'.key'.length)}.cert`;
        if (!files.includes(certFile)) {
          throw new InvalidArgumentError(`missing client certificate ${certFile} for key ${f}`);
        }
      }
    }
    return {
      ...(cas.length > 0 ? { ca: [...rootCertificates, ...cas] } : {}),
      ...(cert && key ? { cert, key } : {}),
    };
  }

  async #resolve(hostPort: string, tls: https.AgentOptions, signal?: AbortSignal): Promise<Endpoint> {
    const insecure = await this.isInsecure(hostPort);
    const agent = new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      ...tls,
      ...(insecure ? { rejectUnauthorized: false } : {}),
    });
    const secure: Endpoint = { base: `https://${hostPort}`, agent, insecure };
    if (!insecure) return secure;
    // dockerd tries HTTPS first on an insecure registry, then plain HTTP.
    try {
      const res = await this.send(
        { method: 'GET', url: `${secure.base}/v2/`, ...(signal ? { signal } : {}) },
        secure,
      );
      res.resume();
      return secure;
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      agent.destroy();
      return { base: `http://${hostPort}`, agent: this.#plainAgent, insecure };
    }
  }

  /**
   * send sends one request and resolves with the response once its head arrived (any status).
   * Network failures are UnavailableError worded as Go's client (`Get "url": dial tcp ...`).
   */
  send(req: RegistryRequest, ep: Endpoint): Promise<http.IncomingMessage> {
    const url = new URL(req.url);
    const mod = url.protocol === 'https:' ? https : http;
    const agent = url.origin === ep.base ? ep.agent : undefined;
    const verb = req.method[0] + req.method.slice(1).toLowerCase();
    return new Promise((resolve, reject) => {
      if (req.signal?.aborted) {
        reject(new CancelledError(`${verb} "${req.url}": request cancelled`));
        return;
      }
      const r = mod.request(
        url,
        {
          method: req.method,
          headers: { 'user-agent': 'ckptd', ...req.headers },
          ...(agent ? { agent } : {}),
          ...(req.signal ? { signal: req.signal } : {}),
          timeout: this.#timeoutMs,
        },
        (res) => {
          // A body cut after its head is seen by whoever reads it (for-await, readBody); one
          // only drained with resume() must not turn the cut into an uncaught 'error'.
          res.on('error', () => undefined);
          res.setTimeout(this.#timeoutMs, () =>
            res.destroy(
              new UnavailableError(`${verb} "${req.url}": net/http: timeout awaiting response body`),
            ),
          );
          resolve(res);
        },
      );
      r.on('timeout', () => r.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
      r.on('error', (err) => {
        if (req.signal?.aborted) {
          reject(new CancelledError(`${verb} "${req.url}": request cancelled`));
          return;
        }
        const e = nodeError(err);
        const addr = `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
        let why = e.message;
        if (e.code === 'ECONNREFUSED') why = `dial tcp ${addr}: connect: connection refused`;
        else if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN')
          why = `dial tcp: lookup ${url.hostname}: no such host`;
        else if (e.code === 'ECONNRESET' || e.code === 'EPIPE')
          why = `read tcp ${addr}: connection reset by peer`;
        else why = tlsWording(e.code, e.message) ?? why;
        reject(new UnavailableError(`${verb} "${req.url}": ${why}`, { cause: err }));
      });
      const body = req.body;
      if (body === undefined) r.end();
      else if (Buffer.isBuffer(body)) r.end(body);
      else {
        // pipeline: a request that fails destroys the body (a content read stream) too.
        pipeline(body, r).catch((err: unknown) =>
          r.destroy(err instanceof Error ? err : new Error(String(err))),
        );
      }
    });
  }
}
