/**
 * ExecService: `docker exec` (moby `daemon/exec.go`). Exec configs live in memory; start
 * creates the exec's FIFOs, adds the process to the task with Tasks.Exec (the container's spec
 * process overridden by the exec config), waits, starts, and hands the caller its output and
 * stdin. The exit code is recorded before the output stream ends, so the CLI's
 * GET /exec/{id}/json right after sees it.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ContainerdClient } from '../../containerd/index.js';
import { OCI_PROCESS_TYPE_URL } from '../../containerd/index.js';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../errors/index.js';
import { replaceOrAppendEnv } from '../../oci/container-config.js';
import { execUserFromFiles } from '../../oci/runtime-spec.js';
import { confinementHost } from '../confinement-host.js';
import type { AttachSession, StdinSink } from './container-io.js';
import type { ContainerLookup } from './lookup.js';
import type { OutputChunk } from './mux.js';
import {
  closeFifos,
  createFifos,
  fifoPaths,
  mergeOutput,
  removeFifos,
  writeAll,
  type ProcessFifos,
} from './streams.js';
import type { TaskIO } from './types.js';

/** ExecConfig is POST /containers/{id}/exec's body, as Docker names it. */
export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Privileged?: boolean;
  DetachKeys?: string;
  /** ConsoleSize is the initial TTY size [height, width] (API 1.42+). */
  ConsoleSize?: [number, number] | null;
  /** Detach is sent by the docker CLI and ignored by dockerd (detaching is chosen at start). */
  Detach?: boolean;
}

/** ExecInspect is GET /exec/{id}/json's body. */
export interface ExecInspect {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  ProcessConfig: { tty: boolean; entrypoint: string; arguments: string[]; privileged: boolean; user: string };
  OpenStdin: boolean;
  OpenStderr: boolean;
  OpenStdout: boolean;
  CanRemove: boolean;
  ContainerID: string;
  DetachKeys: string;
  Pid: number;
}

/** OciProcess is the part of an OCI process spec exec reads and writes (other keys pass through). */
export interface OciProcess {
  terminal?: boolean;
  user?: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
  args?: string[];
  env?: string[];
  cwd?: string;
  [key: string]: unknown;
}

/** ExecTasks is what exec needs from containerd. */
export interface ExecTasks {
  /** processSpec returns the container's OCI spec `process` (exec defaults). */
  processSpec(containerId: string): Promise<OciProcess>;
  /** etcFile reads /etc/passwd or /etc/group inside the running container; undefined if absent. */
  etcFile(containerId: string, name: 'passwd' | 'group'): Promise<string | undefined>;
  exec(containerId: string, execId: string, io: TaskIO, spec: OciProcess): Promise<void>;
  start(containerId: string, execId: string): Promise<number>;
  wait(containerId: string, execId: string): Promise<number>;
  deleteProcess(containerId: string, execId: string): Promise<void>;
  kill(containerId: string, execId: string, signal: number): Promise<void>;
  resizePty(containerId: string, execId: string, width: number, height: number): Promise<void>;
  /** closeIO closes the process's stdin in the shim (which holds a writer of the FIFO too). */
  closeIO(containerId: string, execId: string): Promise<void>;
}

/** ExecStartOptions are POST /exec/{id}/start's body. */
export interface ExecStartOptions {
  detach: boolean;
  tty?: boolean;
  /** consoleSize [height, width] overrides the one given at create. */
  consoleSize?: [number, number];
}

/**
 * PendingExec is an attached exec checked and ready to start. The caller sends its response
 * head first and then calls start(), as dockerd hijacks the connection before it starts the
 * process: a client that reads the head with a buffered reader and then the stream from the
 * raw socket (docker-py) must not find output already coalesced with the head.
 */
export interface PendingExec {
  tty: boolean;
  /**
   * start starts the process and returns its session. When the process cannot start, it
   * rejects with runc's message (execStartFailureMessage) and exit code 126 is recorded.
   */
  start(): Promise<AttachSession>;
}

/** ExecBackend is what the exec routes call. */
export interface ExecBackend {
  execCreate(ref: string, config: ExecConfig, signal?: AbortSignal): Promise<string>;
  /**
   * execStart checks the exec and, detached, starts it (undefined); attached, it returns the
   * exec to start once the response head is out. Abort `signal` (client gone) kills it.
   */
  execStart(id: string, opts: ExecStartOptions, signal?: AbortSignal): Promise<PendingExec | undefined>;
  execInspect(id: string): ExecInspect;
  execResize(id: string, height: number, width: number): Promise<void>;
}

interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  tty: boolean;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
}

/** ExecServiceOptions configure an ExecService. */
export interface ExecServiceOptions {
  lookup: ContainerLookup;
  tasks: ExecTasks;
  /** fifoDir is the directory of a container's FIFOs (ContainerIOService.fifoDir). */
  fifoDir(containerId: string): string;
  logger: Logger;
  /** drainTimeoutMs bounds the wait for output EOF after the process exited (a daemonized child may hold it). */
  drainTimeoutMs?: number;
  /** events receives exec_create and exec_start (EventsService.publishContainer). */
  events?: { publishContainer(action: string, id: string, attributes?: Record<string, string>): void };
  /** allCapabilities lists what `Privileged` grants: every capability ckptd holds (moby GetAllCapabilities). */
  allCapabilities?: () => Promise<readonly string[]>;
}

/** execEventAction is dockerd's action of an exec event: `exec_start: <entrypoint> <args...>`. */
export function execEventAction(action: 'exec_create' | 'exec_start', cmd: readonly string[]): string {
  return `${action}: ${cmd[0] ?? ''} ${cmd.slice(1).join(' ')}`;
}

const SIGKILL = 9;

/** ExecService keeps exec instances and runs them. */
export class ExecService implements ExecBackend {
  readonly #opts: ExecServiceOptions;
  readonly #execs = new Map<string, ExecRecord>();

  constructor(opts: ExecServiceOptions) {
    this.#opts = opts;
  }

  #get(id: string): ExecRecord {
    const r = this.#execs.get(id);
    if (!r) throw new NotFoundError(`No such exec instance: ${id}`);
    return r;
  }

  async execCreate(ref: string, config: ExecConfig, signal?: AbortSignal): Promise<string> {
    config = withoutContainerField(ref, config);
    checkExecConfig(config);
    const info = await this.#opts.lookup.lookup(ref, signal);
    if (info.paused) throw new ConflictError(`Container ${ref} is paused, unpause the container before exec`);
    if (!info.running) throw new ConflictError(`Container ${info.id} is not running`);
    if (!Array.isArray(config.Cmd) || config.Cmd.length === 0)
      throw new InvalidArgumentError('No exec command specified');
    const id = randomBytes(32).toString('hex');
    this.#execs.set(id, {
      id,
      containerId: info.id,
      config,
      tty: config.Tty === true,
      running: false,
      started: false,
      exitCode: null,
      pid: 0,
    });
    this.#opts.events?.publishContainer(execEventAction('exec_create', config.Cmd), info.id, { execID: id });
    return id;
  }

  execInspect(id: string): ExecInspect {
    const r = this.#get(id);
    const cmd = r.config.Cmd ?? [];
    return {
      ID: r.id,
      Running: r.running,
      ExitCode: r.exitCode,
      ProcessConfig: {
        tty: r.tty,
        entrypoint: cmd[0] ?? '',
        arguments: cmd.slice(1),
        privileged: r.config.Privileged === true,
        user: r.config.User ?? '',
      },
      OpenStdin: r.config.AttachStdin === true,
      OpenStderr: r.config.AttachStderr === true,
      OpenStdout: r.config.AttachStdout === true,
      CanRemove: !r.running && r.started,
      ContainerID: r.containerId,
      DetachKeys: r.config.DetachKeys ?? '',
      Pid: r.pid,
    };
  }

  async execResize(id: string, height: number, width: number): Promise<void> {
    const r = this.#get(id);
    if (!r.running) throw new ConflictError(`Exec ${id} is not running`);
    await this.#opts.tasks.resizePty(r.containerId, id, width, height);
  }

  /** execForget drops one exec's record (a health probe's, once its result is read). */
  execForget(id: string): void {
    this.#execs.delete(id);
  }

  /** forgetContainer drops the exec records of a removed container. */
  forgetContainer(containerId: string): void {
    for (const [id, r] of this.#execs) if (r.containerId === containerId) this.#execs.delete(id);
  }

  async #spec(r: ExecRecord, consoleSize?: [number, number]): Promise<OciProcess> {
    const { tasks } = this.#opts;
    const base = await tasks.processSpec(r.containerId);
    const spec: OciProcess = { ...base, terminal: r.tty, args: r.config.Cmd ?? [] };
    delete spec.consoleSize;
    // moby: the start's size, else the create's, for a terminal only
    const size = consoleSize ?? r.config.ConsoleSize ?? undefined;
    if (r.tty && size !== undefined) spec.consoleSize = { height: size[0], width: size[1] };
    if (r.config.Privileged === true) {
      // moby execSetPlatformOpt: every capability, whatever the container's set (seccomp stays)
      const all = [...(await (this.#opts.allCapabilities ?? defaultAllCapabilities)())];
      spec.capabilities = { bounding: [...all], effective: [...all], permitted: [...all] };
    }
    spec.env = replaceOrAppendEnv(base.env ?? [], r.config.Env ?? []);
    if (r.config.WorkingDir) spec.cwd = r.config.WorkingDir;
    if (r.config.User) {
      const [passwd, group] = await Promise.all([
        tasks.etcFile(r.containerId, 'passwd'),
        tasks.etcFile(r.containerId, 'group'),
      ]);
      let u;
      try {
        u = execUserFromFiles(r.config.User, passwd, group);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message, { cause: err });
      }
      spec.user = { ...(base.user ?? {}), uid: u.uid, gid: u.gid, additionalGids: u.additionalGids ?? [] };
    }
    return spec;
  }

  async execStart(
    id: string,
    opts: ExecStartOptions,
    signal?: AbortSignal,
  ): Promise<PendingExec | undefined> {
    const r = this.#get(id);
    if (r.started)
      throw new ConflictError(
        r.running ? `Exec command ${id} is already running` : `Exec command ${id} has already run`,
      );
    const info = await this.#opts.lookup.lookup(r.containerId, signal);
    if (info.paused) {
      throw new ConflictError(`Container ${r.containerId} is paused, unpause the container before exec`);
    }
    if (!info.running) throw new ConflictError(`Container ${r.containerId} is not running`);
    r.started = true;
    r.tty = opts.tty ?? r.tty;
    this.#opts.events?.publishContainer(execEventAction('exec_start', r.config.Cmd ?? []), r.containerId, {
      execID: id,
    });
    if (opts.detach) {
      try {
        await this.#launch(r, true, opts.consoleSize, signal);
      } catch (err) {
        throw execStartError(err, r.config.Cmd?.[0] ?? '');
      }
      return undefined;
    }
    return { tty: r.tty, start: () => this.#launch(r, false, opts.consoleSize, signal) };
  }

  /** #launch starts the exec's process; detached, its output is drained and dropped. */
  async #launch(
    r: ExecRecord,
    detach: boolean,
    consoleSize: [number, number] | undefined,
    signal?: AbortSignal,
  ): Promise<AttachSession> {
    const id = r.id;
    const { tasks, logger } = this.#opts;
    const tty = r.tty;
    const attachStdin = r.config.AttachStdin === true && !detach;
    const io = fifoPaths(this.#opts.fifoDir(r.containerId), id, { tty, stdin: attachStdin });
    let fifos: ProcessFifos | undefined;
    let exited: Promise<number>;
    try {
      const spec = await this.#spec(r, consoleSize);
      fifos = await createFifos(this.#opts.fifoDir(r.containerId), io);
      await tasks.exec(r.containerId, id, io, spec);
      // Wait before Start (containerd's advice): an instant exit is not missed.
      exited = tasks.wait(r.containerId, id);
      exited.catch(() => undefined);
      r.pid = await tasks.start(r.containerId, id);
      r.running = true;
    } catch (err) {
      // dockerd: an exec that failed to start has exit code 126.
      r.running = false;
      r.exitCode = r.exitCode ?? 126;
      if (fifos) closeFifos(fifos);
      await removeFifos(io).catch(() => undefined);
      await tasks.deleteProcess(r.containerId, id).catch(() => undefined);
      throw err;
    }
    const f = fifos;
    const containerId = r.containerId;
    // On exit: record the code, then delete the process at once. The shim finishes copying
    // what is buffered on delete, and with a TTY it closes its end of the FIFO only then.
    const recorded = exited
      .then(
        (code) => {
          r.exitCode = code;
          r.running = false;
        },
        (err: unknown) => {
          logger.warn({ err, exec: id, container: containerId }, 'waiting for an exec process failed');
          r.exitCode ??= 128 + SIGKILL;
          r.running = false;
        },
      )
      .then(() =>
        tasks
          .deleteProcess(containerId, id)
          .catch((err: unknown) => logger.debug({ err, exec: id }, 'exec delete failed')),
      );
    const cleanup = async () => {
      await recorded;
      closeFifos(f);
      await removeFifos(io).catch(() => undefined);
    };
    const drainTimeout = this.#opts.drainTimeoutMs ?? 2000;

    async function* output(): AsyncGenerator<OutputChunk> {
      let finished = false;
      try {
        const merged = mergeOutput(f.readers);
        // After exit, a background child may keep the pipe open: stop after drainTimeout.
        const afterExit = recorded.then(
          () => new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), drainTimeout).unref()),
        );
        for (;;) {
          const next = await Promise.race([merged.next(), afterExit]);
          if (next === 'timeout') {
            void merged.return(undefined);
            break;
          }
          if (next.done) break;
          yield next.value;
        }
        await recorded;
        finished = true;
      } finally {
        if (!finished && r.running) {
          // The client left mid-stream: like dockerd, terminate the process.
          await tasks.kill(containerId, id, SIGKILL).catch(() => undefined);
        }
        void cleanup();
      }
    }

    const session: AttachSession = { tty, output: output() };
    if (detach) {
      // Nobody reads: drain the FIFOs so the process never blocks on a full pipe.
      void (async () => {
        for await (const _ of session.output) void _;
      })().catch((err: unknown) => logger.warn({ err, exec: id }, 'draining a detached exec failed'));
      return session;
    }
    if (f.stdin) {
      const stdin = f.stdin;
      const sink: StdinSink = {
        write: (chunk, sig) => writeAll(stdin, chunk, sig),
        // The shim keeps its own writer on the stdin FIFO: only CloseIO gives the process EOF
        // (moby does the same). Closing our end first lets buffered input through.
        end: () => {
          stdin.once('close', () => {
            void tasks.closeIO(containerId, id).catch(() => undefined);
          });
          stdin.destroySoon();
        },
      };
      session.stdin = sink;
    }
    if (signal) {
      const kill = () => {
        if (r.running) void tasks.kill(containerId, id, SIGKILL).catch(() => undefined);
      };
      // The client may have left while the process was starting.
      if (signal.aborted) kill();
      else signal.addEventListener('abort', kill, { once: true });
    }
    return session;
  }
}

/**
 * execStartFailureMessage is what dockerd writes into the exec stream when the process could
 * not start: the runtime's own words (containerd's gRPC status message), without ckptd's
 * `containerd Tasks.Start:` context.
 */
export function execStartFailureMessage(err: unknown): string {
  const details = (err as { cause?: { details?: unknown } } | undefined)?.cause?.details;
  if (typeof details === 'string' && details !== '') return details;
  return err instanceof Error ? err.message : String(err);
}

/**
 * execStartError is a detached exec's start failure as dockerd's translateContainerdStartErr
 * classes it: a command not found or not executable is the request's fault (400), with the
 * runtime's words; anything else stays as it was.
 */
export function execStartError(err: unknown, cmd: string): unknown {
  const message = execStartFailureMessage(err);
  const lower = message.toLowerCase();
  const notFound =
    cmd !== '' &&
    lower.includes(cmd.toLowerCase()) &&
    (lower.includes('executable file not found') || lower.includes('no such file or directory'));
  if (notFound || lower.includes('permission denied')) {
    return new InvalidArgumentError(message, { cause: err });
  }
  return err;
}

async function defaultAllCapabilities(): Promise<readonly string[]> {
  return (await confinementHost(false)).capabilities.available;
}

/**
 * withoutContainerField drops `Container`, which docker-py sends in every exec create body
 * (a field of older ExecConfigs; dockerd ignores it): it must name the container of the
 * URL, as docker-py's does, else it is refused.
 */
export function withoutContainerField(ref: string, config: ExecConfig): ExecConfig {
  const { Container: container, ...rest } = config as ExecConfig & { Container?: unknown };
  if (container !== undefined && container !== null && container !== '' && container !== ref) {
    throw new InvalidArgumentError(
      `Container: ${JSON.stringify(container)} is not the container of the request (${JSON.stringify(ref)})`,
    );
  }
  return rest;
}

/** EXEC_FIELDS are the fields of an exec create body ckptd applies (Detach: sent by the CLI, ignored by dockerd). */
const EXEC_FIELDS = new Set([
  'AttachStdin',
  'AttachStdout',
  'AttachStderr',
  'DetachKeys',
  'Tty',
  'ConsoleSize',
  'Env',
  'Cmd',
  'Privileged',
  'User',
  'WorkingDir',
  'Detach',
]);

/**
 * checkExecConfig refuses (400, naming the field) what an exec would not apply: a field Docker's
 * ExecConfig does not have, detach keys (ckptd does not scan stdin for them), a ConsoleSize that
 * is not two unsigned integers, fields of the wrong type.
 */
export function checkExecConfig(config: ExecConfig): void {
  const c = config as Record<string, unknown>;
  for (const [k, v] of Object.entries(c)) {
    if (!EXEC_FIELDS.has(k) && v !== null && v !== undefined) {
      throw new InvalidArgumentError(`${k}: unknown exec field (not part of Docker API 1.47)`);
    }
  }
  if (typeof c.DetachKeys === 'string' && c.DetachKeys !== '') {
    throw new InvalidArgumentError('DetachKeys: detach keys are not implemented by ckptd');
  }
  for (const k of ['AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'Privileged', 'Detach']) {
    if (c[k] !== undefined && c[k] !== null && typeof c[k] !== 'boolean')
      throw new InvalidArgumentError(`${k}: must be a boolean`);
  }
  for (const k of ['User', 'WorkingDir', 'DetachKeys']) {
    if (c[k] !== undefined && c[k] !== null && typeof c[k] !== 'string')
      throw new InvalidArgumentError(`${k}: must be a string`);
  }
  const size = c.ConsoleSize;
  if (size !== undefined && size !== null) {
    if (!Array.isArray(size) || size.length !== 2 || !size.every((n) => Number.isInteger(n) && n >= 0))
      throw new InvalidArgumentError('ConsoleSize: must be [height, width] in characters');
  }
}

/** containerdExecTasks adapts a ContainerdClient to ExecTasks. */
export function containerdExecTasks(client: ContainerdClient): ExecTasks {
  return {
    async processSpec(containerId) {
      const c = await client.containers.get(containerId);
      const spec = JSON.parse(Buffer.from(c.spec?.value ?? []).toString('utf8')) as { process?: OciProcess };
      return spec.process ?? {};
    },
    async etcFile(containerId, name) {
      const t = await client.tasks.get(containerId);
      return readFile(`/proc/${t.pid}/root/etc/${name}`, 'utf8').catch(() => undefined);
    },
    async exec(containerId, execId, io, spec) {
      await client.tasks.exec({
        container_id: containerId,
        exec_id: execId,
        stdin: io.stdin,
        stdout: io.stdout,
        stderr: io.stderr,
        terminal: io.terminal,
        spec: { type_url: OCI_PROCESS_TYPE_URL, value: Buffer.from(JSON.stringify(spec)) },
      });
    },
    start: (containerId, execId) => client.tasks.start(containerId, execId),
    wait: async (containerId, execId) => (await client.tasks.wait(containerId, execId)).exitStatus,
    async deleteProcess(containerId, execId) {
      await client.tasks.deleteProcess(containerId, execId);
    },
    kill: (containerId, execId, signal) => client.tasks.kill(containerId, signal, { execId }),
    resizePty: (containerId, execId, width, height) =>
      client.tasks.resizePty(containerId, width, height, execId),
    closeIO: (containerId, execId) => client.tasks.closeIO(containerId, execId),
  };
}
