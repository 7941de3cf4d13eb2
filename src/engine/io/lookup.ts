/**
 * What container IO needs to know about a container, resolved by the containers engine. The
 * interface is narrow on purpose: IO never reads the containers engine's records.
 */
import type { ContainerdClient } from '../../containerd/index.js';
import { NotFoundError } from '../../errors/index.js';

/** ContainerIoInfo is a resolved container as IO sees it. */
export interface ContainerIoInfo {
  /** id is the full 64-hex container ID. */
  id: string;
  tty: boolean;
  openStdin: boolean;
  /** stdinOnce closes the container's stdin when the first attached client's stdin ends (`docker run -i`). */
  stdinOnce: boolean;
  running: boolean;
  /** paused: the task is frozen (running is false then). */
  paused?: boolean;
}

/**
 * ContainerLookup resolves a client's container reference (full ID, name, `/name`, unique ID
 * prefix) as Docker does. It throws NotFoundError(`No such container: <ref>`) when nothing
 * matches (and the containers engine's own error for an ambiguous prefix).
 */
export interface ContainerLookup {
  lookup(ref: string, signal?: AbortSignal): Promise<ContainerIoInfo>;
}

/**
 * containerdLookup resolves containers by exact containerd ID only, reading tty/openStdin from
 * the OCI spec (process.terminal) and running from the task. It stands in until the containers
 * engine provides names and prefixes, and serves tests.
 */
export function containerdLookup(client: ContainerdClient): ContainerLookup {
  return {
    async lookup(ref, signal) {
      let c;
      try {
        c = await client.containers.get(ref, { signal });
      } catch (err) {
        if (err instanceof NotFoundError) throw new NotFoundError(`No such container: ${ref}`);
        throw err;
      }
      let tty = false;
      try {
        const spec = JSON.parse(Buffer.from(c.spec?.value ?? []).toString('utf8')) as {
          process?: { terminal?: boolean };
        };
        tty = spec.process?.terminal === true;
      } catch {
        tty = false;
      }
      let running = false;
      try {
        running = (await client.tasks.get(c.id, '', { signal })).status === 'RUNNING';
      } catch {
        running = false;
      }
      return { id: c.id, tty, openStdin: false, stdinOnce: false, running };
    },
  };
}
