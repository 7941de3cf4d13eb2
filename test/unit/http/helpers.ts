/**
 * Test helpers for the HTTP layer: an app over FakeSystem with captured log lines, and a tiny
 * HTTP client for real unix-socket servers.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildServer } from '../../../src/http/server.js';
import { FakeSystem } from './fake-system.js';

/** LogLine is one parsed pino line. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

/** TestApp bundles an app, its fake backend and its log lines. */
export interface TestApp {
  app: FastifyInstance;
  system: FakeSystem;
  logs: LogLine[];
  logger: pino.Logger;
  shutdown: AbortController;
  /** force is the shutdown timeout: it aborts every in-flight request. */
  force: AbortController;
}

/** makeApp builds the server over a FakeSystem, logging into memory. */
export async function makeApp(
  opts: { bodyLimit?: number; extraRoutes?: (app: FastifyInstance) => void } = {},
): Promise<TestApp> {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const system = new FakeSystem();
  const shutdown = new AbortController();
  const force = new AbortController();
  const app = await buildServer({
    forceSignal: force.signal,
    system,
    logger,
    version: '9.9.9-test',
    shutdownSignal: shutdown.signal,
    ...(opts.bodyLimit !== undefined ? { bodyLimit: opts.bodyLimit } : {}),
  });
  opts.extraRoutes?.(app);
  return { app, system, logs, logger, shutdown, force };
}

/** requestLines returns the completion log lines. */
export function requestLines(logs: LogLine[]): LogLine[] {
  return logs.filter(
    (l) => l.msg === 'request completed' || l.msg === 'request failed after headers were sent',
  );
}

/** waitFor polls `cond` until it holds or `ms` elapse. */
export async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** tempDir makes a temp directory and returns it with a remover. */
export async function tempDir(
  prefix = 'ckptd-http-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** get issues a GET over a unix socket and resolves with the response (body unread). */
export function getOverSocket(
  socketPath: string,
  path: string,
): { req: http.ClientRequest; res: Promise<http.IncomingMessage> } {
  const req = http.request({ socketPath, path, method: 'GET', headers: { host: 'docker' } });
  const res = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  req.end();
  return { req, res };
}

/** readBody collects a response body. */
export async function readBody(res: http.IncomingMessage): Promise<string> {
  let s = '';
  for await (const chunk of res) s += (chunk as Buffer).toString('utf8');
  return s;
}
