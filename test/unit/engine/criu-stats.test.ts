import assert from 'node:assert/strict';
import { test } from 'node:test';
import { criuLogError, parseCriuDumpStats, parseCriuRestoreStats } from '../../../src/engine/criu-stats.js';

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** image builds a CRIU stats image: two magics, the length, StatsEntry{field: {k: v...}}. */
function image(field: 1 | 2, values: Record<number, number>): Buffer {
  const inner = Object.entries(values).flatMap(([k, v]) => [...varint(Number(k) * 8), ...varint(v)]);
  const top = [...varint(field * 8 + 2), ...varint(inner.length), ...inner];
  const head = Buffer.alloc(12);
  head.writeUInt32LE(0x54564319, 0);
  head.writeUInt32LE(0x57646556, 4);
  head.writeUInt32LE(top.length, 8);
  return Buffer.concat([head, Buffer.from(top)]);
}

test('parseCriuDumpStats decodes stats-dump times (us -> ms) and page counts', () => {
  const s = parseCriuDumpStats(image(1, { 1: 1500, 2: 250_000, 3: 1000, 4: 2000, 5: 65536, 7: 16384 }));
  assert.deepEqual(s, {
    freezingTimeMs: 1.5,
    frozenTimeMs: 250,
    memdumpTimeMs: 1,
    memwriteTimeMs: 2,
    pagesScanned: 65536,
    pagesWritten: 16384,
  });
});

test('parseCriuRestoreStats decodes stats-restore; garbage is undefined, not an exception', () => {
  assert.deepEqual(parseCriuRestoreStats(image(2, { 3: 3000, 4: 9000, 5: 42 })), {
    forkingTimeMs: 3,
    restoreTimeMs: 9,
    pagesRestored: 42,
  });
  assert.equal(parseCriuDumpStats(Buffer.from('short')), undefined);
  assert.equal(
    parseCriuDumpStats(Buffer.concat([image(1, { 1: 1 }).subarray(0, 12), Buffer.from([0xff])])),
    undefined,
  );
});

test("criuLogError keeps CRIU's last Error lines without timestamps", () => {
  const log = [
    '(00.001) Version: 4.1.1',
    "(00.002) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted",
    '(00.010) Error (criu/sk-inet.c:188): inet: Connected TCP socket, consider using --tcp-established option.',
    '(00.011) Error (criu/cr-dump.c:1681): Dump files (pid: 7) failed with -1',
    '',
  ].join('\n');
  assert.equal(
    criuLogError(log, 2),
    'Error (criu/sk-inet.c:188): inet: Connected TCP socket, consider using --tcp-established option.; ' +
      'Error (criu/cr-dump.c:1681): Dump files (pid: 7) failed with -1',
  );
  assert.equal(criuLogError(''), '');
});
