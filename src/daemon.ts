import { chmod, mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { parseHost, type Config } from './config/config.js';
import { ContainerdClient } from './containerd/index.js';
import { EventsService } from './engine/events.js';
import { gatherHostFacts } from './engine/host-facts.js';
import { SystemService, type TaskState } from './engine/system-service.js';
import { AlreadyExistsError } from './errors/index.js';
import { API_VERSION, MIN_API_VERSION } from './http/api-version.js';
import { buildServer } from './http/server.js';
import { listen } from './http/listen.js';
import { ManagedContainerd } from './supervisor/managed-containerd.js';
import { CKPTD_VERSION, GIT_COMMIT } from './util/version.js';

/** SYSTEM_CONTAINERD_SOCKET is where a system containerd answers, if one runs. */
export const SYSTEM_CONTAINERD_SOCKET = '/run/containerd/containerd.sock';

/** Daemon is a running ckptd. */
export interface Daemon {
  /** containerdAddress is the socket of the containerd ckptd uses. */
  readonly containerdAddress: string;
  /** managed tells whether ckptd started that containerd itself. */
  readonly managed: boolean;
  /** shutdown stops accepting, aborts long streams, lets short requests finish, stops a managed containerd. */
  shutdown(): Promise<void>;
}

/** containerdAnswers probes a containerd socket with the Version RPC. */
async function containerdAnswers(address: string, timeoutMs = 2000): Promise<boolean> {
  const c = new ContainerdClient({ address, namespace: 'default' });
  try {
    await c.version.version({ deadlineMs: timeoutMs });
    return true;
  } catch {
    return false;
  } finally {
    c.close();
  }
}

/**
 * startDaemon is ckptd's composition root: it resolves containerd (given, system, or a
 * managed one), wires the containerd client, the engine services and the HTTP server, and
 * listens on every -H address.
 */
export async function startDaemon(config: Config, logger: Logger): Promise<Daemon> {
  await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  await chmod(config.dataRoot, 0o711);
  const facts = await gatherHostFacts(config.dataRoot);
  if (!facts.criu) logger.warn('criu not found on PATH: checkpoint and restore will fail (run scripts/setup-host.sh)');

  let managed: ManagedContainerd | undefined;
  let address = config.containerd;
  if (address === undefined) {
    if (await containerdAnswers(SYSTEM_CONTAINERD_SOCKET)) {
      address = SYSTEM_CONTAINERD_SOCKET;
      logger.info({ address }, 'using the system containerd');
    } else {
      managed = new ManagedContainerd({
        dataRoot: config.dataRoot,
        logger: logger.child({ component: 'containerd' }),
        ready: (a) => containerdAnswers(a, 1000),
      });
      await managed.start();
      address = managed.address;
    }
  } else {
    logger.info({ address }, 'using the given containerd');
  }

  const client = new ContainerdClient({
    address,
    namespace: config.containerdNamespace,
    logger: logger.child({ component: 'containerd-client' }),
  });
  try {
    await client.namespaces.create(config.containerdNamespace, {});
  } catch (err) {
    // AlreadyExists is the normal case; an unreachable containerd is served as 503s until it is back
    if (!(err instanceof AlreadyExistsError)) logger.warn({ err }, 'cannot ensure the containerd namespace yet');
  }

  const events = new EventsService({
    source: { subscribe: (filters, signal) => client.events.subscribe(filters, { signal, namespace: '' }) },
    namespace: config.containerdNamespace,
    logger: logger.child({ component: 'events' }),
    lookup: async (id) => {
      try {
        const c = await client.containers.get(id);
        return { labels: c.labels, image: c.image };
      } catch {
        return undefined;
      }
    },
  });
  events.start();

  const system = new SystemService({
    deps: {
      containerdVersion: (signal) => client.version.version({ signal }),
      containerStates: async (signal) => {
        const [containers, tasks] = await Promise.all([
          client.containers.list([], { signal }),
          client.tasks.list('', { signal }),
        ]);
        const status = new Map(tasks.map((t) => [t.id, t.status]));
        return containers.map((c): TaskState => {
          const s = String(status.get(c.id) ?? '');
          if (s === 'RUNNING') return 'running';
          if (s === 'PAUSED' || s === 'PAUSING') return 'paused';
          return 'stopped';
        });
      },
      imageCount: async (signal) => (await client.images.list([], { signal })).length,
    },
    facts,
    events,
    version: CKPTD_VERSION,
    gitCommit: GIT_COMMIT,
    apiVersion: API_VERSION,
    minApiVersion: MIN_API_VERSION,
    dataRoot: config.dataRoot,
    snapshotter: config.snapshotter,
    namespace: config.containerdNamespace,
    containerdAddress: address,
    managedContainerd: managed !== undefined,
  });

  const shutdownCtl = new AbortController();
  const app = await buildServer({ system, logger, version: CKPTD_VERSION, shutdownSignal: shutdownCtl.signal });
  let listeners;
  try {
    listeners = await listen(app, config.hosts.map(parseHost), { group: config.group, logger });
  } catch (err) {
    await events.stop();
    client.close();
    await managed?.stop();
    throw err;
  }
  logger.info(
    { hosts: config.hosts, containerd: address, managed: managed !== undefined, version: CKPTD_VERSION },
    'ckptd is serving',
  );

  let stopping: Promise<void> | undefined;
  return {
    containerdAddress: address,
    managed: managed !== undefined,
    shutdown() {
      stopping ??= (async () => {
        // 1. no new connections; 2. long streams (events, archives) end now and release
        // their leases; 3. short requests get shutdownTimeout to finish
        const closing = listeners.close();
        shutdownCtl.abort();
        const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), config.shutdownTimeout * 1000).unref());
        if ((await Promise.race([closing.then(() => 'closed' as const), timeout])) === 'timeout') {
          logger.warn('requests still running after the shutdown timeout: closing their connections');
          listeners.closeAllConnections();
          await closing;
        }
        await app.close();
        await events.stop();
        client.close();
        await managed?.stop();
        logger.info('ckptd stopped');
      })();
      return stopping;
    },
  };
}
