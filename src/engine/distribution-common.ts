/**
 * Shared pieces of pull and push: the ports they use, the distribution-source label containerd
 * keeps on blobs (`containerd.io/distribution.source.<registry>=<repo>[,<repo>...]`), and a
 * small concurrency limiter.
 */
import type { CallContext, ContainerdClient } from '../containerd/index.js';
import { NotFoundError } from '../errors/index.js';
import type { TokenCache } from '../registry/auth.js';
import type { Transport } from '../registry/transport.js';
import type { ImageService } from './images/index.js';

/** LABEL_DISTRIBUTION_SOURCE_PREFIX is containerd's label naming the repositories a blob came from. */
export const LABEL_DISTRIBUTION_SOURCE_PREFIX = 'containerd.io/distribution.source.';

/** DistributionDeps are what pull and push need. */
export interface DistributionDeps {
  client: ContainerdClient;
  images: ImageService;
  transport: Transport;
  tokens: TokenCache;
  events?: { publish(type: string, action: string, id: string, attributes?: Record<string, string>): void };
}

/** sourceLabelKey is the distribution-source label key of a registry domain. */
export function sourceLabelKey(domain: string): string {
  return `${LABEL_DISTRIBUTION_SOURCE_PREFIX}${domain}`;
}

/** sourceRepos reads the repositories a blob is known to exist in on a registry. */
export async function sourceRepos(
  client: ContainerdClient,
  digest: string,
  domain: string,
  ctx: CallContext,
): Promise<string[]> {
  try {
    const info = await client.content.info(digest, ctx);
    const v = info.labels[sourceLabelKey(domain)];
    return v ? v.split(',').filter((r) => r !== '') : [];
  } catch (err) {
    if (err instanceof NotFoundError) return [];
    throw err;
  }
}

/** addSourceRepo records that a blob exists in `repo` on `domain` (containerd's AppendDistributionSourceLabel). */
export async function addSourceRepo(
  client: ContainerdClient,
  digest: string,
  domain: string,
  repo: string,
  ctx: CallContext,
): Promise<void> {
  const repos = await sourceRepos(client, digest, domain, ctx);
  if (repos.includes(repo)) return;
  const key = sourceLabelKey(domain);
  const value = [...repos, repo].sort().join(',');
  await client.content.update({ digest, labels: { [key]: value } }, [`labels.${key}`], ctx);
}

/** Limiter runs at most `n` tasks at a time, in the order they ask. */
export class Limiter {
  #free: number;
  readonly #queue: (() => void)[] = [];

  constructor(n: number) {
    this.#free = n;
  }

  /** busy tells whether a new task would have to wait. */
  get busy(): boolean {
    return this.#free === 0;
  }

  /** run waits for a slot, runs fn, frees the slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#queue.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/** sleep waits ms, or rejects when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
