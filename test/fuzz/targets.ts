/**
 * Fuzz targets: every parser of untrusted bytes ckptd has — tars for `docker cp` in, image
 * archives for `docker load`, checkpoint rootfs diffs for import, CRIU image files, create bodies,
 * filters and whole HTTP requests. Each property states what must hold for ANY input:
 *  - the parser answers or refuses with a client error (an EngineError mapping below 500) —
 *    never a TypeError, a raw fs error or a 500 for bad bytes;
 *  - nothing lands outside the destination directory;
 *  - it ends (fast-check's per-run timeout catches a hang).
 * Used by test/unit/fuzz.test.ts (bounded, in CI) and scripts/fuzz.ts (long runs).
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { applyRootfsDiff, parseDeletedFiles } from '../../src/archive/checkpoint-archive.js';
import { extractTar } from '../../src/archive/container-archive.js';
import { readImageArchive, type BlobSink } from '../../src/archive/image-archive-reader.js';
import { ScopedRoot } from '../../src/archive/scoped-fs.js';
import { CriuImageError, decodeImage, encodeImage, MAGIC, type ImageKind } from '../../src/criu/images.js';
import { EngineError, httpStatusOf } from '../../src/errors/index.js';
import { checkCreateRequest, checkPlatform } from '../../src/oci/create-fields.js';
import { parseFilters } from '../../src/oci/filters.js';
import { entryArb, mutate, mutationArb, packTar, tarArb } from './arbitraries.js';

/** Finding is a property violation: the input that caused it is in fast-check's report. */
export class Finding extends Error {}

/** clientError passes EngineErrors below 500 and turns anything else into a Finding. */
export function clientError(err: unknown, what: string): void {
  if (err instanceof EngineError && httpStatusOf(err) < 500) return;
  const e = err as Error;
  throw new Finding(`${what}: not a client error: ${e?.constructor?.name} ${e?.message ?? String(err)}`, {
    cause: err,
  });
}

/** Snapshot of a directory tree: path -> type + content hash / link target. */
async function tree(dir: string, prefix = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const p = join(dir, name);
    const rel = `${prefix}${name}`;
    const st = await lstat(p);
    if (st.isDirectory()) {
      out.set(rel, `d${st.mode & 0o7777}`);
      for (const [k, v] of await tree(p, `${rel}/`)) out.set(k, v);
    } else if (st.isSymbolicLink()) out.set(rel, `l${await readlink(p)}`);
    else if (st.isFile())
      out.set(
        rel,
        `f${st.mode & 0o7777}:${createHash('sha256')
          .update(await readFile(p))
          .digest('hex')}`,
      );
    else out.set(rel, `o${st.mode}`);
  }
  return out;
}

/**
 * Sandbox is a directory with the destination inside it and bait around it: a file, a directory
 * and a symlink to /etc beside the destination. After the run, everything outside the
 * destination must be exactly as before.
 */
class Sandbox {
  private constructor(
    readonly base: string,
    readonly dest: string,
    private readonly before: Map<string, string>,
  ) {}

  static async make(): Promise<Sandbox> {
    const base = await mkdtemp(join(tmpdir(), 'ckptd-fuzz-'));
    const dest = join(base, 'dest');
    await mkdir(dest);
    await mkdir(join(base, 'outside'));
    await writeFile(join(base, 'outside', 'secret'), 'secret\n');
    await writeFile(join(base, 'a'), 'bait beside dest\n');
    const before = await tree(base);
    before.delete('dest');
    return new Sandbox(base, dest, before);
  }

  async assertNothingOutside(what: string): Promise<void> {
    const after = await tree(this.base);
    for (const k of [...after.keys()]) if (k === 'dest' || k.startsWith('dest/')) after.delete(k);
    const changed = [...new Set([...after.keys(), ...this.before.keys()])].filter(
      (k) => after.get(k) !== this.before.get(k),
    );
    if (changed.length > 0)
      throw new Finding(`${what}: wrote outside the destination: ${changed.join(', ')}`);
  }

  async dispose(): Promise<void> {
    await rm(this.base, { recursive: true, force: true });
  }
}

/** FuzzParams are the fast-check run parameters runTarget sets. */
export interface FuzzParams {
  numRuns: number;
  interruptAfterTimeLimit: number;
  markInterruptAsFailure: boolean;
  timeout: number;
  endOnFailure: boolean;
  seed?: number;
}

/** FuzzTarget is one property: `assert` runs it under the given parameters, calling onRun per input. */
export interface FuzzTarget {
  name: string;
  assert(params: FuzzParams, onRun: () => void): Promise<void>;
}

function target<T>(name: string, arb: fc.Arbitrary<T>, check: (x: T) => Promise<void> | void): FuzzTarget {
  return {
    name,
    assert: (params, onRun) =>
      fc.assert(
        fc.asyncProperty(arb, async (x) => {
          onRun();
          await check(x);
        }),
        params,
      ),
  };
}

const TIMEOUT_MS = 10_000;

// ---- docker cp in: extractTar into a pinned directory ----
const cpIn = target('cp-in tar', fc.tuple(tarArb, fc.boolean()), async ([tarP, noOverwrite]) => {
  const bytes = await tarP;
  const box = await Sandbox.make();
  try {
    const root = await ScopedRoot.open(box.dest);
    try {
      await extractTar(root, '/', Readable.from([bytes]), {
        signal: AbortSignal.timeout(TIMEOUT_MS),
        noOverwriteDirNonDir: noOverwrite,
        maxEntries: 64,
        maxBytes: 1 << 20,
      }).catch((err: unknown) => clientError(err, 'extractTar'));
    } finally {
      await root.close();
    }
    await box.assertNothingOutside('extractTar');
  } finally {
    await box.dispose();
  }
});

// ---- docker load: the image archive reader (manifest.json / index.json / blobs) ----
const hashingSink: BlobSink = {
  async write(_path, stream, opts) {
    const h = createHash('sha256');
    let size = 0;
    for await (const c of stream) {
      h.update(c as Buffer);
      size += (c as Buffer).length;
    }
    const digest = `sha256:${h.digest('hex')}`;
    if (opts.expectedDigest !== undefined && opts.expectedDigest !== digest)
      throw new Finding('sink got a digest the reader did not check'); // the reader must refuse first? no: sinks refuse
    return { digest, size };
  },
};
const jsonishArb = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.constant(
    JSON.stringify([
      { Config: 'blobs/sha256/00', RepoTags: ['x:latest'], Layers: ['../../etc/passwd', '/abs'] },
    ]),
  ),
  fc.constant(
    JSON.stringify({ schemaVersion: 2, manifests: [{ digest: 'sha256:zz', mediaType: 'x', size: -1 }] }),
  ),
  fc.string({ maxLength: 64 }),
);
const loadArchiveArb = fc
  .tuple(
    fc.array(entryArb, { maxLength: 5 }),
    fc.option(jsonishArb, { nil: undefined }),
    fc.option(jsonishArb, { nil: undefined }),
    mutationArb,
  )
  .map(async ([entries, manifest, index, m]) => {
    const meta = [
      ...(manifest !== undefined ? [{ name: 'manifest.json', body: manifest }] : []),
      ...(index !== undefined ? [{ name: 'index.json', body: index }] : []),
    ].map((x) => ({
      name: x.name,
      type: 'file' as const,
      linkname: '',
      mode: 0o644,
      body: Buffer.from(x.body),
      uid: 0,
      gid: 0,
    }));
    return mutate(await packTar([...meta, ...entries]), m);
  });
const load = target('load archive', loadArchiveArb, async (archiveP) => {
  const bytes = await archiveP;
  // a sink that refuses a wrong digest is a content store's job: count that refusal as a client error
  const sink: BlobSink = {
    write: (p, s, o) =>
      hashingSink.write(p, s, o).catch((err: unknown) => {
        if (err instanceof Finding) throw Object.assign(new Error('digest mismatch'), { clientSide: true });
        throw err;
      }),
  };
  await readImageArchive(Readable.from([bytes]), sink, {
    signal: AbortSignal.timeout(TIMEOUT_MS),
    limits: { maxEntries: 64, maxUncompressedBytes: 1 << 22 },
  }).catch((err: unknown) => {
    if ((err as { clientSide?: boolean }).clientSide) return;
    clientError(err, 'readImageArchive');
  });
});

// ---- checkpoint import: rootfs-diff.tar and deleted.files applied onto a rootfs ----
const rootfsDiff = target(
  'checkpoint rootfs diff',
  fc.tuple(
    tarArb,
    fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .array(fc.constantFrom('../x', '/a', 'a', '/', '..', '/outside/secret', 'lnk/x'), { maxLength: 4 })
        .map((a) => JSON.stringify(a)),
    ),
  ),
  async ([tarP, deletedText]) => {
    const bytes = await tarP;
    const box = await Sandbox.make();
    try {
      let deleted: string[] = [];
      try {
        deleted = parseDeletedFiles(deletedText);
      } catch (err) {
        clientError(err, 'parseDeletedFiles');
      }
      await applyRootfsDiff(box.dest, Readable.from([bytes]), deleted, AbortSignal.timeout(TIMEOUT_MS), {
        maxEntries: 64,
      }).catch((err: unknown) => clientError(err, 'applyRootfsDiff'));
      await box.assertNothingOutside('applyRootfsDiff');
    } finally {
      await box.dispose();
    }
  },
);

// ---- CRIU image files (checked before CRIU sees a checkpoint) ----
const KINDS: ImageKind[] = [
  'INVENTORY',
  'PSTREE',
  'CORE',
  'IDS',
  'CREDS',
  'MNTS',
  'SECCOMP',
  'CGROUP',
  'NETDEV',
];
const SEEDS: Partial<Record<ImageKind, Buffer>> = {
  PSTREE: encodeImage('PSTREE', [{ pid: 1, ppid: 0, pgid: 1, sid: 1, threads: [1] }] as never),
  CREDS: encodeImage('CREDS', [
    {
      uid: 0,
      gid: 0,
      euid: 0,
      egid: 0,
      suid: 0,
      sgid: 0,
      fsuid: 0,
      fsgid: 0,
      capInh: [0, 0],
      capPrm: [1, 0],
      capEff: [1, 0],
      capBnd: [1, 0],
      secbits: 0,
      groups: [],
    },
  ] as never),
};
const criuImage = target(
  'CRIU image decode',
  fc.tuple(
    fc.constantFrom(...KINDS),
    fc.oneof(
      fc.uint8Array({ maxLength: 256 }).map((u) => Buffer.from(u)),
      fc.tuple(fc.constantFrom(...KINDS), fc.uint8Array({ maxLength: 128 })).map(([k, u]) => {
        const head = Buffer.alloc(12);
        head.writeUInt32LE(MAGIC.IMG_COMMON, 0);
        head.writeUInt32LE(MAGIC[k], 4);
        head.writeUInt32LE(u.length, 8);
        return Buffer.concat([head, Buffer.from(u)]);
      }),
      fc
        .tuple(fc.constantFrom(...(Object.values(SEEDS) as Buffer[])), mutationArb)
        .map(([b, m]) => mutate(b, m)),
    ),
  ),
  ([kind, buf]) => {
    try {
      decodeImage('fuzz.img', buf, kind);
    } catch (err) {
      if (!(err instanceof CriuImageError)) throw new Finding(`decodeImage: ${String(err)}`, { cause: err });
    }
  },
);

// ---- JSON bodies and query strings ----
const FIELD_NAMES = [
  'Image',
  'Cmd',
  'Env',
  'User',
  'Volumes',
  'Healthcheck',
  'HostConfig',
  'Labels',
  'ExposedPorts',
  'StopSignal',
  'Entrypoint',
  'WorkingDir',
  'Tty',
];
const HOST_FIELD_NAMES = [
  'Binds',
  'CapAdd',
  'Privileged',
  'Memory',
  'Devices',
  'Ulimits',
  'SecurityOpt',
  'Mounts',
  'RestartPolicy',
  'PortBindings',
  'Sysctls',
  'Tmpfs',
  'CpuShares',
  'LogConfig',
];
const createBody = target(
  'create body',
  fc.tuple(
    fc.dictionary(
      fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.string({ maxLength: 6 })),
      fc.jsonValue({ maxDepth: 3 }),
      { maxKeys: 5 },
    ),
    fc.option(
      fc.dictionary(
        fc.oneof(fc.constantFrom(...HOST_FIELD_NAMES), fc.string({ maxLength: 6 })),
        fc.jsonValue({ maxDepth: 3 }),
        { maxKeys: 5 },
      ),
      { nil: undefined },
    ),
    fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
  ),
  ([config, hc, platform]) => {
    try {
      checkCreateRequest({ ...config, ...(hc !== undefined ? { HostConfig: hc } : {}) });
      checkPlatform(platform);
    } catch (err) {
      clientError(err, 'checkCreateRequest');
    }
  },
);
const filters = target(
  'filters',
  fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc
      .dictionary(
        fc.constantFrom('label', 'status', 'name', 'id', 'before', 'health', 'x'),
        fc.oneof(
          fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
          fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
        ),
      )
      .map((v) => JSON.stringify(v)),
  ),
  (raw) => {
    for (const [what, f] of [
      ['oci parseFilters', () => parseFilters(raw)],
      ['oci parseFilters toRecord', () => parseFilters(raw).toRecord()],
    ] as const) {
      try {
        f();
      } catch (err) {
        clientError(err, what);
      }
    }
  },
);

export const TARGETS: FuzzTarget[] = [cpIn, load, rootfsDiff, criuImage, createBody, filters];
