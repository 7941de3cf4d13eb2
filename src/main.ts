#!/usr/bin/env node
import { parseFlags, USAGE } from './config/flags.js';
import { startDaemon } from './daemon.js';
import { takeSocketActivation } from './http/socket-activation.js';
import { takeNotifySocket } from './host/sd-notify.js';
import { isEngineError } from './errors/index.js';
import { createLogger } from './log/logger.js';
import { CKPTD_VERSION } from './util/version.js';

async function main(): Promise<number> {
  let flags;
  try {
    flags = await parseFlags(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`ckptd: ${isEngineError(err) ? err.message : String(err)}\n`);
    return 2;
  }
  if (flags.action === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (flags.action === 'version') {
    process.stdout.write(`ckptd version ${CKPTD_VERSION}\n`);
    return 0;
  }
  const logger = createLogger(flags.config.logLevel);
  // a promise nobody awaited failed (a bug, or a cleanup racing a removal): log it, keep serving
  // the other containers instead of ending the daemon (Node's default since v15)
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection'));
  // systemd's LISTEN_* and NOTIFY_SOCKET are meant for this process only: out of the
  // environment before containerd or any other child starts
  const activated = takeSocketActivation();
  const notifier = takeNotifySocket(logger);
  let daemon;
  try {
    daemon = await startDaemon(flags.config, logger, { activated });
  } catch (err) {
    logger.fatal({ err }, `ckptd failed to start: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  // Type=notify: the API serves on every -H now
  await notifier.notify('READY=1', 'STATUS=serving the Docker API');
  const done = new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal: sig }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal: sig }, 'shutting down');
      void notifier.notify('STOPPING=1');
      daemon.shutdown().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'unclean shutdown');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return done;
}

main().then(
  (code) => {
    process.exitCode = code;
    // give pino's async destination a moment to flush, then leave even if a handle lingers
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err: unknown) => {
    process.stderr.write(`ckptd: ${String(err)}\n`);
    process.exit(1);
  },
);
