/**
 * execProbe runs health probes as execs in the container (moby `cmdProbe.run`): an exec with
 * the container's user, working directory and environment (the exec defaults), stdout and
 * stderr into one buffer capped at 4096 bytes, and the probe timeout counted from the moment
 * the exec started. A probe that runs out of time is killed and reports exit code -1 with
 * "Health check exceeded timeout (...)". The execs emit exec_create, exec_start and exec_die
 * as dockerd's probes do; their records are dropped once the result is read.
 */
import type { ExecBackend } from '../io/exec.js';
import { execStartFailureMessage } from '../io/exec.js';
import { EXEC_START_TIMEOUT_MS, LimitedBuffer, timeoutMessage } from './health-state.js';
import { systemClock, type Clock, type ProbeOutcome, type ProbeRunner } from './monitor.js';

/** ProbeExecs is the part of the exec engine a probe uses. */
export type ProbeExecs = Pick<ExecBackend, 'execCreate' | 'execStart' | 'execInspect'> & {
  /** execForget drops an exec's record (a probe's, once its result is read). */
  execForget?(id: string): void;
};

/** execProbe returns a ProbeRunner over the exec engine. */
export function execProbe(execs: ProbeExecs, clock: Clock = systemClock): ProbeRunner {
  return {
    async run(containerId, argv, timeoutMs, signal): Promise<ProbeOutcome> {
      const id = await execs.execCreate(containerId, {
        Cmd: [...argv],
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
      });
      try {
        const kill = new AbortController();
        const onStop = () => kill.abort();
        if (signal.aborted) kill.abort();
        signal.addEventListener('abort', onStop, { once: true });
        try {
          const pending = await execs.execStart(id, { detach: false }, kill.signal);
          if (pending === undefined) throw new Error(`health check exec ${id} did not attach`);
          let cancelStartTimer: (() => void) | undefined;
          const starting = pending.start();
          const session = await Promise.race([
            starting.catch((err: unknown) => {
              throw new Error(execStartFailureMessage(err), { cause: err });
            }),
            new Promise<never>((_, reject) => {
              cancelStartTimer = clock.setTimeout(() => {
                kill.abort();
                // a start that completes after all: its (killed) output is drained, so its FIFOs go
                void starting.then(
                  async (late) => {
                    for await (const _ of late.output) void _;
                  },
                  () => undefined,
                );
                reject(new Error(`timed out starting health check for container ${containerId}`));
              }, EXEC_START_TIMEOUT_MS);
            }),
          ]).finally(() => cancelStartTimer?.());
          const output = new LimitedBuffer();
          let timedOut = false;
          const cancelTimeout = clock.setTimeout(() => {
            timedOut = true;
            kill.abort();
          }, timeoutMs);
          try {
            for await (const chunk of session.output) output.write(chunk.data);
          } finally {
            cancelTimeout();
          }
          if (timedOut) return { ExitCode: -1, Output: timeoutMessage(timeoutMs, output.toString()) };
          const code = execs.execInspect(id).ExitCode;
          if (code === null) throw new Error(`healthcheck for container ${containerId} has no exit code`);
          return { ExitCode: code, Output: output.toString() };
        } finally {
          signal.removeEventListener('abort', onStop);
        }
      } finally {
        execs.execForget?.(id);
      }
    },
  };
}
