import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG, loadConfigFile, validateConfig, type Config } from './config.js';
import { InvalidArgumentError } from '../errors/index.js';

/** USAGE is ckptd's --help text. */
export const USAGE = `Usage: ckptd [OPTIONS]

A Docker Engine API daemon over containerd, for container state capture.

Options:
  -H, --host list                 Daemon socket(s) to listen on: unix:///path, tcp://addr:port, or
                                  fd://, fd://N, fd://NAME for sockets passed by systemd
                                  (repeatable; default unix:///run/ckptd.sock)
  -G, --group string              Group owning unix sockets (default "docker" if it exists, else root)
      --containerd string         containerd socket; when absent and nothing answers at
                                  /run/containerd/containerd.sock, ckptd runs its own containerd
      --containerd-namespace str  containerd namespace for ckptd's containers and images (default "default")
      --data-root string          Root of persistent state (default "/var/lib/ckptd")
  -l, --log-level string          trace|debug|info|warn|error|fatal (default "info")
      --snapshotter string        containerd snapshotter (default "overlayfs")
      --shutdown-timeout int      Seconds to let requests finish on SIGTERM (default 15)
      --checkpoint-dirs list      Host directory a checkpoint dir/checkpoint-dir may be under, besides
                                  the data root (repeatable)
      --read-timeout int          Seconds a client may take to send request headers, or stay
                                  silent while sending a request body (default 30)
      --max-connections int       Most open API connections over all hosts (default 1024)
      --insecure-registry list    Registry (host[:port] or CIDR) that may be reached over plain
                                  HTTP; loopback registries always may (repeatable)
      --registry-certs-dir string Per-registry TLS files: <dir>/<host:port>/*.crt (CAs),
                                  *.cert + *.key (client pair) (default "/etc/docker/certs.d")
      --config string             JSON config file with the same keys (flags win)
  -v, --version                   Print version and exit
  -h, --help                      Print this help and exit
`;

/** ParsedFlags is the outcome of parseFlags: run with a config, or print and exit. */
export type ParsedFlags = { action: 'run'; config: Config } | { action: 'help' } | { action: 'version' };

/**
 * parseFlags parses dockerd-style flags, merges a --config file under them (flags win) and
 * over the defaults, and validates the result.
 */
export async function parseFlags(argv: string[]): Promise<ParsedFlags> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string', short: 'H', multiple: true },
        group: { type: 'string', short: 'G' },
        containerd: { type: 'string' },
        'containerd-namespace': { type: 'string' },
        'data-root': { type: 'string' },
        'log-level': { type: 'string', short: 'l' },
        snapshotter: { type: 'string' },
        'shutdown-timeout': { type: 'string' },
        'checkpoint-dirs': { type: 'string', multiple: true },
        'read-timeout': { type: 'string' },
        'max-connections': { type: 'string' },
        'insecure-registry': { type: 'string', multiple: true },
        'registry-certs-dir': { type: 'string' },
        config: { type: 'string' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const v = parsed.values;
  if (v.help) return { action: 'help' };
  if (v.version) return { action: 'version' };
  const fromFile = v.config ? await loadConfigFile(v.config) : {};
  const fromFlags: Partial<Config> = {};
  if (v.host) fromFlags.hosts = v.host;
  if (v.group !== undefined) fromFlags.group = v.group;
  if (v.containerd !== undefined) fromFlags.containerd = v.containerd;
  if (v['containerd-namespace'] !== undefined) fromFlags.containerdNamespace = v['containerd-namespace'];
  if (v['data-root'] !== undefined) fromFlags.dataRoot = v['data-root'];
  if (v['log-level'] !== undefined) fromFlags.logLevel = v['log-level'] as Config['logLevel'];
  if (v.snapshotter !== undefined) fromFlags.snapshotter = v.snapshotter;
  if (v['checkpoint-dirs'] !== undefined) fromFlags.checkpointDirs = v['checkpoint-dirs'];
  if (v['insecure-registry'] !== undefined) fromFlags.insecureRegistries = v['insecure-registry'];
  if (v['registry-certs-dir'] !== undefined) fromFlags.registryCertsDir = v['registry-certs-dir'];
  if (v['shutdown-timeout'] !== undefined) {
    const n = Number(v['shutdown-timeout']);
    if (!Number.isFinite(n)) throw new InvalidArgumentError('--shutdown-timeout must be a number of seconds');
    fromFlags.shutdownTimeout = n;
  }
  if (v['read-timeout'] !== undefined) {
    const n = Number(v['read-timeout']);
    if (!Number.isFinite(n)) throw new InvalidArgumentError('--read-timeout must be a number of seconds');
    fromFlags.readTimeout = n;
  }
  if (v['max-connections'] !== undefined) {
    const n = Number(v['max-connections']);
    if (!Number.isInteger(n)) throw new InvalidArgumentError('--max-connections must be an integer');
    fromFlags.maxConnections = n;
  }
  return { action: 'run', config: validateConfig({ ...DEFAULT_CONFIG, ...fromFile, ...fromFlags }) };
}
