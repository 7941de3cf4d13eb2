import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from '../errors/index.js';
import { isIP } from 'node:net';

/** Config is ckptd's typed configuration; flags and the --config JSON file use the same keys. */
export interface Config {
  /** hosts to listen on: `unix:///path`, `tcp://addr:port` or `fd://[N|NAME]` (socket activation). */
  hosts: string[];
  /** group owning unix sockets; undefined = `docker` if it exists, else root. */
  group: string | undefined;
  /** containerd socket; undefined = /run/containerd/containerd.sock if it answers, else managed. */
  containerd: string | undefined;
  containerdNamespace: string;
  dataRoot: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  /** snapshotter used for containers and images. */
  snapshotter: string;
  /** seconds to wait for in-flight requests on shutdown before aborting them. */
  shutdownTimeout: number;
  /** checkpointDirs are host directories (besides the data root) a checkpoint `dir` may name. */
  checkpointDirs: string[];
  /** seconds a client may take to send headers, or stay silent while sending a body. */
  readTimeout: number;
  /** most open API connections over all hosts; beyond, new ones are closed. */
  maxConnections: number;
  /** insecureRegistries may be reached over plain HTTP (host[:port] or CIDR; loopback always may). */
  insecureRegistries: string[];
  /** registryCertsDir holds `<host:port>/{*.crt,*.cert,*.key}` as dockerd's /etc/docker/certs.d. */
  registryCertsDir: string;
}

/** DEFAULT_CONFIG holds dockerd-like defaults. */
export const DEFAULT_CONFIG: Config = {
  hosts: ['unix:///run/ckptd.sock'],
  group: undefined,
  containerd: undefined,
  containerdNamespace: 'default',
  dataRoot: '/var/lib/ckptd',
  logLevel: 'info',
  snapshotter: 'overlayfs',
  shutdownTimeout: 15,
  checkpointDirs: [],
  readTimeout: 30,
  maxConnections: 1024,
  insecureRegistries: [],
  registryCertsDir: '/etc/docker/certs.d',
};

const LOG_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

/** fileKeyMap maps the JSON config file's dockerd-style keys to Config keys. */
const fileKeyMap: Record<string, keyof Config> = {
  hosts: 'hosts',
  host: 'hosts',
  group: 'group',
  containerd: 'containerd',
  'containerd-namespace': 'containerdNamespace',
  containerdNamespace: 'containerdNamespace',
  'data-root': 'dataRoot',
  dataRoot: 'dataRoot',
  'log-level': 'logLevel',
  logLevel: 'logLevel',
  snapshotter: 'snapshotter',
  'shutdown-timeout': 'shutdownTimeout',
  shutdownTimeout: 'shutdownTimeout',
  'checkpoint-dirs': 'checkpointDirs',
  checkpointDirs: 'checkpointDirs',
  'read-timeout': 'readTimeout',
  readTimeout: 'readTimeout',
  'max-connections': 'maxConnections',
  maxConnections: 'maxConnections',
  'insecure-registries': 'insecureRegistries',
  insecureRegistries: 'insecureRegistries',
  'registry-certs-dir': 'registryCertsDir',
  registryCertsDir: 'registryCertsDir',
};

/** loadConfigFile reads a JSON config file and returns the keys it sets. */
export async function loadConfigFile(path: string): Promise<Partial<Config>> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch (err) {
    throw new InvalidArgumentError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new InvalidArgumentError(`config file ${path} must hold a JSON object`);
  }
  const out: Partial<Config> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = fileKeyMap[k];
    if (!key) throw new InvalidArgumentError(`config file ${path}: unknown key "${k}"`);
    (out as Record<string, unknown>)[key] = key === 'hosts' && typeof v === 'string' ? [v] : v;
  }
  return out;
}

/** validateConfig checks types and values, returning the config unchanged when valid. */
export function validateConfig(c: Config): Config {
  if (!Array.isArray(c.hosts) || c.hosts.length === 0 || c.hosts.some((h) => typeof h !== 'string')) {
    throw new InvalidArgumentError('hosts must be a non-empty list of unix://, tcp:// or fd:// addresses');
  }
  for (const h of c.hosts) parseHost(h);
  if (
    typeof c.containerdNamespace !== 'string' ||
    !/^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/.test(c.containerdNamespace)
  ) {
    throw new InvalidArgumentError(`invalid containerd namespace "${String(c.containerdNamespace)}"`);
  }
  if (typeof c.dataRoot !== 'string' || !c.dataRoot.startsWith('/')) {
    throw new InvalidArgumentError('data-root must be an absolute path');
  }
  if (!LOG_LEVELS.has(c.logLevel))
    throw new InvalidArgumentError(`invalid log level "${String(c.logLevel)}"`);
  if (c.containerd !== undefined && (typeof c.containerd !== 'string' || c.containerd === '')) {
    throw new InvalidArgumentError('containerd must be a socket path');
  }
  if (
    !Array.isArray(c.checkpointDirs) ||
    c.checkpointDirs.some((d) => typeof d !== 'string' || !d.startsWith('/') || d.includes('\0'))
  ) {
    throw new InvalidArgumentError('checkpoint-dirs must be a list of absolute paths');
  }
  if (typeof c.shutdownTimeout !== 'number' || !(c.shutdownTimeout >= 0)) {
    throw new InvalidArgumentError('shutdown-timeout must be a number of seconds >= 0');
  }
  if (typeof c.readTimeout !== 'number' || !(c.readTimeout > 0) || c.readTimeout > 86_400) {
    throw new InvalidArgumentError('read-timeout must be a number of seconds > 0 (at most 86400)');
  }
  if (!Number.isInteger(c.maxConnections) || c.maxConnections < 1) {
    throw new InvalidArgumentError('max-connections must be an integer >= 1');
  }
  if (!Array.isArray(c.insecureRegistries)) {
    throw new InvalidArgumentError('insecure-registries must be a list of host[:port] or CIDR entries');
  }
  validateInsecureRegistries(c.insecureRegistries);
  if (typeof c.registryCertsDir !== 'string' || !c.registryCertsDir.startsWith('/')) {
    throw new InvalidArgumentError('registry-certs-dir must be an absolute path');
  }
  return c;
}

/**
 * ListenAddress is a parsed -H value. `fd` is a socket passed by systemd (LISTEN_FDS): select
 * is '' for every passed socket, digits for one fd number (>= 3), else a LISTEN_FDNAMES name.
 */
export type ListenAddress =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'fd'; select: string };

/** parseHost parses a dockerd-style -H value (`unix:///path`, `tcp://addr:port`, `fd://[N|NAME]`). */
export function parseHost(h: string): ListenAddress {
  if (h.startsWith('fd://')) {
    const select = h.slice('fd://'.length);
    if (select === '' || select === '*') return { kind: 'fd', select: '' };
    if (/^\d+$/.test(select)) {
      if (Number(select) < 3)
        throw new InvalidArgumentError(`invalid host "${h}": socket activation passes fds from 3 on`);
      return { kind: 'fd', select: String(Number(select)) };
    }
    // systemd's FileDescriptorName=: at most 255 printable ASCII characters, no ':'
    if (!/^[\x21-\x7e]{1,255}$/.test(select) || select.includes(':'))
      throw new InvalidArgumentError(`invalid host "${h}": expected fd://, fd://N or fd://NAME`);
    return { kind: 'fd', select };
  }
  if (h.startsWith('unix://')) {
    const path = h.slice('unix://'.length);
    if (!path.startsWith('/'))
      throw new InvalidArgumentError(`invalid host "${h}": unix socket path must be absolute`);
    return { kind: 'unix', path };
  }
  if (h.startsWith('tcp://')) {
    const rest = h.slice('tcp://'.length);
    const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(rest);
    if (!m) throw new InvalidArgumentError(`invalid host "${h}": expected tcp://addr:port`);
    const port = Number(m[2]);
    if (port > 65535) throw new InvalidArgumentError(`invalid host "${h}": port out of range`);
    const host = (m[1] ?? '').replace(/^\[|\]$/g, '') || '127.0.0.1';
    return { kind: 'tcp', host, port };
  }
  throw new InvalidArgumentError(`invalid host "${h}": only unix://, tcp:// and fd:// are supported`);
}

/** validateInsecureRegistries checks `--insecure-registry` entries (host[:port] or CIDR). */
export function validateInsecureRegistries(entries: readonly string[]): void {
  for (const e of entries) {
    if (typeof e !== 'string' || e === '') {
      throw new InvalidArgumentError('insecure-registries must be a list of host[:port] or CIDR entries');
    }
    if (/^[a-z]+:\/\//i.test(e)) {
      throw new InvalidArgumentError(`insecure registry ${e} should not contain '://'`);
    }
    if (e.includes('/')) {
      const [addr, bits] = e.split('/');
      const fam = isIP(addr ?? '');
      const n = Number(bits);
      if (fam === 0 || !Number.isInteger(n) || n < 0 || n > (fam === 4 ? 32 : 128)) {
        throw new InvalidArgumentError(`insecure registry ${e} is not a valid CIDR`);
      }
    }
  }
}
