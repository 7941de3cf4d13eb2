/**
 * A decoder for CRIU's `stats-dump` and `stats-restore` images (criu `images/stats.proto`):
 * two 32-bit magics, a 32-bit little-endian length, then one `StatsEntry` protobuf message whose
 * field 1 is `DumpStatsEntry` and field 2 `RestoreStatsEntry`. Times are in microseconds.
 * Small enough to decode by hand rather than ship CRIU's protos (crit does the same in Python).
 */

/** CriuDumpStats are CRIU's dump phase times (ms) and page counts (Podman's `--print-stats`). */
export interface CriuDumpStats {
  freezingTimeMs?: number;
  frozenTimeMs?: number;
  memdumpTimeMs?: number;
  memwriteTimeMs?: number;
  pagesScanned?: number;
  pagesSkippedParent?: number;
  pagesWritten?: number;
  pagesLazy?: number;
  pagePipes?: number;
  pagePipeBufs?: number;
  shpagesScanned?: number;
  shpagesSkippedParent?: number;
  shpagesWritten?: number;
}

/** CriuRestoreStats are CRIU's restore phase times (ms) and page counts. */
export interface CriuRestoreStats {
  pagesCompared?: number;
  pagesSkippedCow?: number;
  forkingTimeMs?: number;
  restoreTimeMs?: number;
  pagesRestored?: number;
}

const DUMP_FIELDS: Record<number, keyof CriuDumpStats> = {
  1: 'freezingTimeMs',
  2: 'frozenTimeMs',
  3: 'memdumpTimeMs',
  4: 'memwriteTimeMs',
  5: 'pagesScanned',
  6: 'pagesSkippedParent',
  7: 'pagesWritten',
  9: 'pagesLazy',
  10: 'pagePipes',
  11: 'pagePipeBufs',
  12: 'shpagesScanned',
  13: 'shpagesSkippedParent',
  14: 'shpagesWritten',
};

const RESTORE_FIELDS: Record<number, keyof CriuRestoreStats> = {
  1: 'pagesCompared',
  2: 'pagesSkippedCow',
  3: 'forkingTimeMs',
  4: 'restoreTimeMs',
  5: 'pagesRestored',
};

function varint(b: Buffer, at: number): [number, number] {
  let v = 0n;
  let shift = 0n;
  let i = at;
  for (;;) {
    if (i >= b.length) throw new Error('truncated varint');
    const c = b[i++] as number;
    v |= BigInt(c & 0x7f) << shift;
    shift += 7n;
    if ((c & 0x80) === 0) break;
    if (shift > 63n) throw new Error('varint too long');
  }
  return [Number(v), i];
}

/** protoFields decodes one protobuf message into field number -> last value (numbers or bytes). */
function protoFields(b: Buffer): Map<number, number | Buffer> {
  const out = new Map<number, number | Buffer>();
  let i = 0;
  while (i < b.length) {
    const [key, j] = varint(b, i);
    i = j;
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const [v, k] = varint(b, i);
      out.set(field, v);
      i = k;
    } else if (wire === 2) {
      const [n, k] = varint(b, i);
      if (k + n > b.length) throw new Error('truncated field');
      out.set(field, b.subarray(k, k + n));
      i = k + n;
    } else if (wire === 5) {
      out.set(field, b.readUInt32LE(i));
      i += 4;
    } else if (wire === 1) {
      out.set(field, Number(b.readBigUInt64LE(i)));
      i += 8;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
  return out;
}

function decode<T>(image: Buffer, which: 1 | 2, names: Record<number, string>): T | undefined {
  if (image.length < 12) return undefined;
  const n = image.readUInt32LE(8);
  if (12 + n > image.length) return undefined;
  const top = protoFields(image.subarray(12, 12 + n)).get(which);
  if (!Buffer.isBuffer(top)) return undefined;
  const out: Record<string, number> = {};
  for (const [f, v] of protoFields(top)) {
    const name = names[f];
    if (name === undefined || typeof v !== 'number') continue;
    out[name] = name.endsWith('Ms') ? v / 1000 : v;
  }
  return out as T;
}

/** parseCriuDumpStats decodes a `stats-dump` image; undefined when it is not one. */
export function parseCriuDumpStats(image: Buffer): CriuDumpStats | undefined {
  try {
    return decode<CriuDumpStats>(image, 1, DUMP_FIELDS);
  } catch {
    return undefined;
  }
}

/** parseCriuRestoreStats decodes a `stats-restore` image; undefined when it is not one. */
export function parseCriuRestoreStats(image: Buffer): CriuRestoreStats | undefined {
  try {
    return decode<CriuRestoreStats>(image, 2, RESTORE_FIELDS);
  } catch {
    return undefined;
  }
}

/**
 * criuLogError extracts CRIU's reason from a dump.log/restore.log: the `Error (...)` lines
 * (the last few, joined), else the last non-empty lines. '' when the log is empty.
 */
export function criuLogError(log: string, maxLines = 4): string {
  const lines = log.split('\n').map((l) => l.trim());
  const errors = lines.filter((l) => /\bError\b|^Error|\(err\)/.test(l) && !/^\(\d+\.\d+\) *$/.test(l));
  // the last errors are CRIU's conclusion; earlier ones are often warnings it survived
  const picked = errors.length > 0 ? errors.slice(-maxLines) : lines.filter((l) => l !== '').slice(-2);
  return picked.map((l) => l.replace(/^\(\s*\d+\.\d+\)\s*/, '')).join('; ');
}
