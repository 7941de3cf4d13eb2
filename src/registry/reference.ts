/**
 * Registry addressing as dockerd does it (moby `registry/config.go`, distribution/reference):
 * the repository a user names is parsed by oci/reference (`busybox` -> `docker.io/library/busybox`),
 * and its domain becomes the host ckptd talks to (`docker.io` -> `registry-1.docker.io`).
 */
import { InvalidArgumentError } from '../errors/index.js';
import { DEFAULT_DOMAIN, parseReference, type Reference } from '../oci/reference.js';

/** DOCKER_HUB_REGISTRY_HOST is the host serving docker.io's v2 API. */
export const DOCKER_HUB_REGISTRY_HOST = 'registry-1.docker.io';
/** DOCKER_HUB_INDEX_SERVER is the server address the CLI and dockerd use for Hub credentials. */
export const DOCKER_HUB_INDEX_SERVER = 'https://index.docker.io/v1/';

/** RemoteRef is a parsed repository reference with the host its registry answers on. */
export interface RemoteRef {
  /** ref is the normalized reference (`docker.io/library/busybox:latest`). */
  ref: Reference;
  /** domain is the reference's domain (`docker.io`, `localhost:5000`). */
  domain: string;
  /** host is the host[:port] to connect to (`registry-1.docker.io` for docker.io). */
  host: string;
  /** repo is the repository path inside the registry (`library/busybox`). */
  repo: string;
}

/** registryHost maps a reference domain to the host serving its v2 API. */
export function registryHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_HUB_REGISTRY_HOST : domain;
}

/** remoteRef parses a user-given reference and says where its registry is. */
export function remoteRef(s: string): RemoteRef {
  const ref = parseReference(s);
  return { ref, domain: ref.domain, host: registryHost(ref.domain), repo: ref.path };
}

/**
 * serverAddressHost turns a login server address (`https://index.docker.io/v1/`,
 * `localhost:5000`, `http://r.example:5000/`) into the registry domain, as dockerd's
 * `ConvertToHostname` plus its Hub aliasing: an empty address is Docker Hub.
 */
export function serverAddressHost(address: string | undefined): string {
  let a = (address ?? '').trim();
  if (a === '') return DEFAULT_DOMAIN;
  a = a.replace(/^[a-z]+:\/\//i, '');
  a = a.split('/')[0] ?? '';
  if (a === '') throw new InvalidArgumentError(`invalid registry address "${address}"`);
  if (a === 'index.docker.io' || a === 'registry-1.docker.io' || a === 'docker.io') return DEFAULT_DOMAIN;
  return a.toLowerCase();
}

/** splitHostPort splits `host[:port]` (IPv6 in brackets) into its host name and port. */
export function splitHostPort(hostPort: string): { hostname: string; port: string | undefined } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPort);
  if (!m) return { hostname: hostPort, port: undefined };
  return { hostname: (m[1] ?? '').replace(/^\[|\]$/g, ''), port: m[2] };
}
