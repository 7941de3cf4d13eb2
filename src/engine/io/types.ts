/**
 * The contract between the container lifecycle (src/engine/containers/) and container IO
 * (src/engine/io/): FIFOs for the shim, log capture, attach and exec streams.
 */

/** TaskIO are the FIFO paths handed to containerd's Tasks.Create / Tasks.Exec (stdin/stdout/stderr). */
export interface TaskIO {
  /** stdin FIFO path, or '' when the process gets no stdin. */
  stdin: string;
  stdout: string;
  /** stderr FIFO path; '' with a TTY (the terminal merges both streams into stdout). */
  stderr: string;
  terminal: boolean;
}

/** IoOptions describe a container's init process streams. */
export interface IoOptions {
  tty: boolean;
  openStdin: boolean;
}

/** ContainerIO is what the lifecycle calls around a container's init process. */
export interface ContainerIO {
  /**
   * prepare creates the FIFOs of a container's init process under ckptd's exec dir and starts
   * copying its output into the container's log and to attached clients. Call it before
   * Tasks.Create; the FIFO read ends are open when it resolves.
   */
  prepare(containerId: string, opts: IoOptions): Promise<TaskIO>;
  /**
   * reattach re-opens the FIFOs of a task that kept running while ckptd was down (they
   * persist under the exec dir) and resumes copying. A no-op when they do not exist.
   */
  reattach(containerId: string, opts: IoOptions): Promise<void>;
  /** closed resolves when the init process's output streams reached EOF (all output logged). */
  closed(containerId: string): Promise<void>;
  /** release closes the FIFOs and removes them once the task is deleted. */
  release(containerId: string): Promise<void>;
  /** remove deletes everything IO kept for a removed container (its log file included). */
  remove(containerId: string): Promise<void>;
}
