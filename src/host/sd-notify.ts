/**
 * sd_notify(3) for a Type=notify unit: READY=1 once the API serves, STOPPING=1 when shutdown
 * begins. Node has no AF_UNIX datagram sockets, so the message is sent by systemd's own
 * `systemd-notify`, run as ckptd's child: the unit needs NotifyAccess=all (the sender is not
 * the main pid). systemd-notify waits until the manager has processed the message
 * (sd_notify_barrier), so it is never dropped because the sender exited first.
 *
 * NOTIFY_SOCKET is taken out of the environment at start: containerd notifies READY=1 itself
 * when it finds one, which would tell systemd ckptd is up before the API serves.
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

/** SYSTEMD_NOTIFY is the program that sends the datagram. */
export const SYSTEMD_NOTIFY = '/usr/bin/systemd-notify';

/** SdNotifier sends state changes to the service manager that set NOTIFY_SOCKET. */
export interface SdNotifier {
  /** socket is the NOTIFY_SOCKET address taken from the environment ('' when none). */
  readonly socket: string;
  /** notify sends VARIABLE=VALUE assignments; a failure is logged, never thrown. */
  notify(...assignments: string[]): Promise<void>;
}

/**
 * takeNotifySocket deletes NOTIFY_SOCKET from env and returns a notifier for it; without one
 * (not started by systemd as Type=notify) the notifier does nothing.
 */
export function takeNotifySocket(
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
  program: string = SYSTEMD_NOTIFY,
): SdNotifier {
  const socket = env.NOTIFY_SOCKET ?? '';
  delete env.NOTIFY_SOCKET;
  return {
    socket,
    notify: (...assignments) => {
      if (socket === '') return Promise.resolve();
      return new Promise((resolve) => {
        execFile(
          program,
          assignments,
          { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NOTIFY_SOCKET: socket }, timeout: 15_000 },
          (err, _stdout, stderr) => {
            if (err) {
              logger.warn(
                { err, stderr: String(stderr).trim(), assignments },
                `cannot notify the service manager (${program}): ${err.message}`,
              );
            } else {
              logger.debug({ assignments }, 'notified the service manager');
            }
            resolve();
          },
        );
      });
    },
  };
}
