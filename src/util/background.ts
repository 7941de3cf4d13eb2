import type { Logger } from '../log/logger.js';

/**
 * background runs work the caller deliberately does not wait for (cleanup after a response,
 * a best-effort thaw) and logs its failure instead of leaving an unhandled rejection. Use it
 * in place of a bare `.catch(() => {})` when the failure is worth knowing about.
 */
export function background(what: string, work: Promise<unknown>, log?: Pick<Logger, 'warn'>): void {
  work.catch((err: unknown) => {
    log?.warn({ err }, `${what} failed`);
  });
}
