/**
 * Failed starts as dockerd reports them (moby `daemon/errors.go` `setExitCodeFromError`): the
 * runtime's words become the API error and `State.Error`, and the exit code recorded in `State`
 * says why (126 cannot be invoked, 127 not found, 128 anything else). The docker CLI turns the
 * same words into its own exit code (`toStatusError`: "executable file not found" or "no such
 * file or directory" -> 127, "permission denied" or "is a directory" -> 126, else 125).
 */
import { InternalError, InvalidArgumentError, type EngineError } from '../errors/index.js';

/** StartFailure is how a failed start is recorded and answered. */
export interface StartFailure {
  /** exitCode goes into State.ExitCode. */
  exitCode: 126 | 127 | 128;
  /** error is the API error (400 when the container's config cannot be started, else 500). */
  error: EngineError;
}

const INVALID_COMMAND = [
  'executable file not found',
  'no such file or directory',
  'system cannot find the file specified',
  'failed to run runc create/exec call',
];

/**
 * startFailure classifies the runtime's message for a failed start, as dockerd does, with
 * dockerd's wording (`desc` is what dockerd would print: for a failed task create it starts
 * with "failed to create task for container: ").
 */
export function startFailure(desc: string, cause?: unknown): StartFailure {
  const lower = desc.toLowerCase();
  const opts = cause === undefined ? {} : { cause };
  const invalid = (exitCode: 126 | 127, message: string): StartFailure => ({
    exitCode,
    error: new InvalidArgumentError(message, opts),
  });
  if (lower.includes('permission denied')) return invalid(126, desc);
  // Go 1.20 reports executing a directory as EISDIR; the CLI looks for "permission denied"
  if (lower.includes('is a directory')) return invalid(126, `${desc}: permission denied`);
  if (lower.includes('not a directory')) {
    return invalid(
      127,
      `${desc}: Are you trying to mount a directory onto a file (or vice-versa)? ` +
        'Check if the specified host path exists and is the expected type',
    );
  }
  if (INVALID_COMMAND.some((m) => lower.includes(m))) return invalid(127, desc);
  return { exitCode: 128, error: new InternalError(desc, opts) };
}

/**
 * runtimeMessage is containerd's own message for a failed call: the gRPC status details kept as
 * the cause of the engine error, without the "containerd Tasks.Create:" the client adds.
 */
export function runtimeMessage(err: unknown): string {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const details = (cause as { details?: unknown } | undefined)?.details;
  if (typeof details === 'string' && details !== '') return details;
  return err instanceof Error ? err.message : String(err);
}
