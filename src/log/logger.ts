import { pino, type Logger, type LevelWithSilent } from 'pino';

/** createLogger returns ckptd's root pino logger (JSON lines on stderr, as daemons do). */
export function createLogger(level: LevelWithSilent = 'info'): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination(2),
  );
}

export type { Logger };
