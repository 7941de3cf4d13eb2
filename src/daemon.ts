import { chmod, mkdir } from 'node:fs/promises';
import { PauseMarks } from './engine/pause-marks.js';
import { clearTempRoot, LEASE_DATA_ROOT_LABEL, removeOwnLeases } from './engine/recovery.js';
import { settleInterruptedCheckpoints } from './engine/checkpoint-recovery.js';
import { ReconnectRecovery } from './engine/reconnect-recovery.js';
import { useTempRoot } from './host/temp-dirs.js';
import { ContainerLocks } from './engine/container-locks.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseHost, type Config } from './config/config.js';
import { ContainerdClient } from './containerd/index.js';
import { ArchiveService, localContentStore } from './engine/archive.js';
import { CommitService } from './engine/commit.js';
import { CheckpointService } from './engine/checkpoint/index.js';
import { CheckpointImageService, withCheckpointImages } from './engine/checkpoint/checkpoint-image.js';
import { ContainerService, ContainerStore, type CheckpointStarter } from './engine/containers/index.js';
import { EventsService } from './engine/events.js';
import { ContainerView, containerdViewSource, watchMutations } from './engine/container-view.js';
import { ContainerIOService } from './engine/io/container-io.js';
import { containerdExecTasks, ExecService } from './engine/io/exec.js';
import { HealthService } from './engine/health/health-service.js';
import { execProbe } from './engine/health/exec-probe.js';
import { gatherHostFacts } from './engine/host-facts.js';
import { ImageService } from './engine/images/index.js';
import { SystemService, type TaskState } from './engine/system-service.js';
import { AlreadyExistsError } from './errors/index.js';
import { API_VERSION, MIN_API_VERSION } from './http/api-version.js';
import { buildServer, type RouteRegistrar } from './http/server.js';
import { registerArchiveRoutes } from './http/routes/archive.routes.js';
import { registerCommitRoutes } from './http/routes/commit.routes.js';
import { registerCheckpointRoutes } from './http/routes/checkpoint.routes.js';
import { registerContainersRoutes } from './http/routes/containers.routes.js';
import { registerContainerIoRoutes } from './http/routes/container-io.routes.js';
import { listen } from './http/listen.js';
import { resolveListenTargets, type ActivatedSocket } from './http/socket-activation.js';
import { registerImageRoutes } from './http/routes/images.routes.js';
import { registerVolumeRoutes } from './http/routes/volumes.routes.js';
import { VolumeService } from './engine/volumes/store.js';
import { registerNetworkRoutes } from './http/routes/networks.routes.js';
import { registerUnsupportedRoutes } from './http/routes/unsupported.routes.js';
import { NetworkService, networkContainersOf } from './engine/networks.js';
import { SystemDfService } from './engine/system-df.js';
import { registerRegistryRoutes } from './http/routes/registry.routes.js';
import { DistributionService } from './engine/distribution.js';
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
export async function startDaemon(
  config: Config,
  logger: Logger,
  opts: { activated?: ActivatedSocket[] } = {},
): Promise<Daemon> {
  // -H fd://: the sockets systemd passed (main.ts took them out of the environment); checked
  // before anything starts, so a unit without its socket fails at once with dockerd's message
  const targets = resolveListenTargets(config.hosts.map(parseHost), opts.activated ?? []);
  await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  await chmod(config.dataRoot, 0o711);
  const facts = await gatherHostFacts(config.dataRoot);
  if (!facts.criu)
    logger.warn('criu not found on PATH: checkpoint and restore will fail (run scripts/setup-host.sh)');

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
    leaseLabels: { [LEASE_DATA_ROOT_LABEL]: config.dataRoot },
    logger: logger.child({ component: 'containerd-client' }),
  });
  try {
    await client.namespaces.create(config.containerdNamespace, {});
  } catch (err) {
    // AlreadyExists is the normal case; an unreachable containerd is served as 503s until it is back
    if (!(err instanceof AlreadyExistsError))
      logger.warn({ err }, 'cannot ensure the containerd namespace yet');
  }
  // what a killed previous run left: its leases, its temp mounts (nothing of this run exists yet)
  const recoveryLog = logger.child({ component: 'recovery' });
  await removeOwnLeases(client.leases, config.dataRoot, recoveryLog).catch((err: unknown) =>
    recoveryLog.warn({ err }, 'recovery: cannot list leases yet'),
  );
  await useTempRoot(join(config.dataRoot, 'tmp'));
  const pauseMarks = new PauseMarks(config.dataRoot);
  // a dump a killed run left going ends first: CRIU re-freezes a leave-running container (issue 16)
  await settleInterruptedCheckpoints(join(config.dataRoot, 'containers'), recoveryLog);
  await pauseMarks
    .recover({ get: (id) => client.tasks.get(id), resume: (id) => client.tasks.resume(id) }, recoveryLog)
    .catch((err: unknown) => recoveryLog.warn({ err }, 'recovery: cannot check frozen containers yet'));
  await clearTempRoot(join(config.dataRoot, 'tmp'), recoveryLog);
  // the same recovery (minus what this run holds) each time containerd comes back (issue 16)
  const reconnects = new ReconnectRecovery({
    onReconnect: (fn) => client.connection.onReconnect(fn),
    leases: client.leases,
    leaseInUse: (id) => client.leaseInUse(id),
    tasks: { get: (id) => client.tasks.get(id), resume: (id) => client.tasks.resume(id) },
    pauseMarks,
    dataRoot: config.dataRoot,
    logger: recoveryLog,
  });
  reconnects.start();

  // container view (issue 14): list/inspect from memory, fed by the events subscription below
  const containerView = new ContainerView({
    source: containerdViewSource(client),
    logger: logger.child({ component: 'container-view' }),
  });
  watchMutations(client, containerView);
  const events = new EventsService({
    tap: containerView,
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

  const routes: RouteRegistrar[] = [];
  // ---- images (issue 3) ----
  const images = new ImageService({
    client,
    snapshotter: config.snapshotter,
    logger: logger.child({ component: 'images' }),
    events,
  });
  routes.push((app) => registerImageRoutes(app, images));
  // ---- registries: pull, push, login (issue 13) ----
  const distribution = new DistributionService({
    client,
    images,
    events,
    insecureRegistries: config.insecureRegistries,
    certsDir: config.registryCertsDir,
  });
  routes.push((app) => {
    registerRegistryRoutes(app, distribution);
    app.addHook('onClose', async () => distribution.close());
  });
  // ---- containers (issue 3), volumes (issue 12), container IO (issue 3), health (issue 12) ----
  // Wired in order, each engine given what it calls, no setters: the container store (records,
  // lookup) first; volumes, IO and exec look containers up in it; health probes run through
  // exec; the container service gets all of them. The checkpoint engine, which needs the
  // container service, serves its `start?checkpoint=` through startFromCheckpoint below.
  // one mutex per container, shared by every service that changes one (moby: container.Lock)
  const locks = new ContainerLocks();
  const containersLog = logger.child({ component: 'containers' });
  const store = new ContainerStore({
    containerd: client,
    dataRoot: config.dataRoot,
    snapshotter: config.snapshotter,
    logger: containersLog,
    // list and inspect answer from the event-fed view of containerd's containers
    view: containerView,
  });
  // the local driver under <data-root>/volumes
  const volumes = new VolumeService({
    dataRoot: config.dataRoot,
    logger: logger.child({ component: 'volumes' }),
    users: () => store.volumeUsers(),
  });
  await volumes.init();
  routes.push((app) => registerVolumeRoutes(app, volumes));
  // FIFOs under <data-root>/exec/<namespace>/<id>/ (they persist, so a restarted ckptd
  // reattaches), logs in <data-root>/containers/<id>/<id>-json.log as dockerd keeps them.
  const containerIO = new ContainerIOService({
    execRoot: join(config.dataRoot, 'exec', config.containerdNamespace),
    containersRoot: join(config.dataRoot, 'containers'),
    lookup: store,
    tasks: {
      resizePty: (id, width, height, execId) => client.tasks.resizePty(id, width, height, execId),
      closeIO: (id, execId) => client.tasks.closeIO(id, execId),
    },
    logger: logger.child({ component: 'container-io' }),
  });
  const execs = new ExecService({
    lookup: store,
    tasks: containerdExecTasks(client),
    fifoDir: (id) => containerIO.fifoDir(id),
    logger: logger.child({ component: 'exec' }),
    events,
  });
  // probes are execs; monitors follow start/stop/pause/restore
  const health = new HealthService({
    probe: execProbe(execs),
    containersDir: store.containersDir,
    events,
    logger: logger.child({ component: 'health' }),
  });
  // The checkpoint engine is built from the container service (below) and serves its
  // `start?checkpoint=`: the service gets this function, which reaches the engine when called
  // (requests and init() come after startDaemon has built both).
  const startFromCheckpoint: CheckpointStarter = (ref, opts, signal) =>
    checkpoints.startFromCheckpoint(ref, opts, signal);
  const containers = new ContainerService({
    store,
    locks,
    client,
    images,
    io: containerIO,
    health,
    volumes,
    startFromCheckpoint,
    // exec instances and health state live until their container is removed, as in dockerd
    onRemoved: [(id) => execs.forgetContainer(id), (id) => health.forget(id)],
    namespace: config.containerdNamespace,
    snapshotter: config.snapshotter,
    cgroupVersion: facts.cgroupVersion === '2' ? 2 : 1,
    logger: containersLog,
  });
  routes.push((app) => {
    // create/start of a checkpoint image restore it (checkpoint images, below)
    registerContainersRoutes(app, withCheckpointImages(containers, checkpointImages));
    // init() reconciles with containerd once every route is registered (reattaching IO)
    app.addHook('onReady', async () => containers.init());
    app.addHook('onClose', async () => containers.close());
  });
  routes.push((app) => registerContainerIoRoutes(app, containerIO, execs));

  // ---- commit, changes, export (issue 4) ----
  const commits = new CommitService({
    pauseMarks,
    client,
    containers,
    images,
    events,
    logger: logger.child({ component: 'commit' }),
    contentDir: localContentStore(client),
  });
  routes.push((app) => registerCommitRoutes(app, commits));
  // ---- checkpoint and restore (issue 5) ----
  // CRIU writes into <data-root>/containers/<id>/checkpoints/<name>/ (Podman layout); the
  // containers engine delegates `start?checkpoint=` here.
  const checkpoints = new CheckpointService({
    pauseMarks,
    locks,
    client,
    containers,
    images,
    events,
    dataRoot: config.dataRoot,
    volumes,
    checkpointDirs: config.checkpointDirs,
    health,
    logger: logger.child({ component: 'checkpoint' }),
  });
  await checkpoints.clearStaging();
  // checkpoints as OCI images (Podman/CRI-O layout); a missing base image is pulled (no credentials)
  const checkpointImages = new CheckpointImageService({
    pullImage: (ref, signal) =>
      distribution.pullImage({
        fromImage: ref,
        signal: signal ?? new AbortController().signal,
        progress: () => undefined,
      }),
    client,
    checkpoints,
    containers,
    images,
    dataRoot: config.dataRoot,
    version: CKPTD_VERSION,
    cgroupVersion: facts.cgroupVersion === '2' ? '2' : '1',
    logger: logger.child({ component: 'checkpoint-image' }),
  });
  routes.push((app) => registerCheckpointRoutes(app, checkpoints, checkpointImages));
  // ---- archives: cp, save (issue 6) ----
  // docker cp works on the container's root through pinned descriptors, paused (the pause
  // holds are shared with commit); docker save has tar send the blob files of containerd's
  // content store when this host can read them, else one Content.Read per blob.
  const archives = new ArchiveService({
    locks,
    client,
    containers,
    images,
    pauser: commits.pauser,
    events,
    logger: logger.child({ component: 'archive' }),
    contentDir: localContentStore(client),
  });
  routes.push((app) => registerArchiveRoutes(app, archives));
  // ---- networks (none, host), disk usage, refused Docker routes (issue 12) ----
  const networks = new NetworkService({
    dataRoot: config.dataRoot,
    containers: networkContainersOf(containers),
  });
  await networks.init();
  const diskUsage = new SystemDfService({ images, containers, volumes });
  routes.push((app) => {
    registerNetworkRoutes(app, networks, diskUsage);
    registerUnsupportedRoutes(app);
  });

  const shutdownCtl = new AbortController();
  const forceCtl = new AbortController();
  const app = await buildServer({
    system,
    logger,
    version: CKPTD_VERSION,
    shutdownSignal: shutdownCtl.signal,
    forceSignal: forceCtl.signal,
    routes,
  });
  let listeners;
  try {
    listeners = await listen(app, targets, {
      group: config.group,
      logger,
      limits: { readTimeoutMs: config.readTimeout * 1000, maxConnections: config.maxConnections },
    });
  } catch (err) {
    await events.stop();
    await reconnects.stop();
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
        // 1. no new connections; 2. long streams (events, archives, attach) end now and
        // release their leases; 3. short requests get shutdownTimeout to finish, then are aborted
        const closing = listeners.close();
        shutdownCtl.abort();
        const timeout = new Promise<'timeout'>((r) =>
          setTimeout(() => r('timeout'), config.shutdownTimeout * 1000).unref(),
        );
        if ((await Promise.race([closing.then(() => 'closed' as const), timeout])) === 'timeout') {
          logger.warn('requests still running after the shutdown timeout: aborting them');
          forceCtl.abort();
          const grace = new Promise<void>((r) => setTimeout(r, 2000).unref());
          await Promise.race([closing, grace]);
          listeners.closeAllConnections();
          await closing;
        }
        await app.close();
        await events.stop();
        await reconnects.stop();
        client.close();
        await managed?.stop();
        logger.info('ckptd stopped');
      })();
      return stopping;
    },
  };
}
