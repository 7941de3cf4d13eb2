/**
 * NullContainerIO is a ContainerIO that captures nothing: the shim gets empty stdio paths (no
 * FIFOs, output discarded). It stands in where container IO is not wired (tests of the
 * lifecycle, or before the IO engine lands).
 */
import type { ContainerIO, IoOptions, TaskIO } from './io/types.js';

/** nullContainerIO returns a ContainerIO without streams. */
export function nullContainerIO(): ContainerIO {
  return {
    async prepare(_id: string, opts: IoOptions): Promise<TaskIO> {
      return { stdin: '', stdout: '', stderr: '', terminal: opts.tty };
    },
    async reattach() {},
    async closed() {},
    async release() {},
    async remove() {},
  };
}
