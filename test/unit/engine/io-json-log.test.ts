import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  decodeLogLine,
  encodeLogLine,
  formatRFC3339Nano,
  formatRFC3339NanoFixed,
  JsonLogWriter,
  LineSplitter,
  parseRFC3339Nano,
  readLogEntries,
  type LogEntry,
} from '../../../src/engine/io/json-log.js';

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'ckptd-jsonlog-'))));
after(async () => rm(dir, { recursive: true, force: true }));

const T0 = 1_700_000_000_000_000_000n;
const entry = (i: number, stream: 'stdout' | 'stderr' = 'stdout'): LogEntry => ({
  stream,
  log: `line ${i}\n`,
  timeNano: T0 + BigInt(i) * 1_000_000_000n,
});

async function collect(it: AsyncIterable<LogEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(`${e.stream}:${e.log.trim()}`);
  return out;
}

async function writeAll(path: string, entries: LogEntry[], maxSize?: number): Promise<void> {
  const w = new JsonLogWriter(path, maxSize === undefined ? {} : { maxSize });
  for (const e of entries) w.write(e);
  await w.close();
}

test("formatRFC3339Nano trims trailing zeros like Go's RFC3339Nano; the fixed form keeps nine digits", () => {
  assert.equal(formatRFC3339Nano(T0 + 120_000_000n), '2023-11-14T22:13:20.12Z');
  assert.equal(formatRFC3339Nano(T0), '2023-11-14T22:13:20Z');
  assert.equal(formatRFC3339NanoFixed(T0 + 5n), '2023-11-14T22:13:20.000000005Z');
  assert.equal(parseRFC3339Nano('2023-11-14T22:13:20.000000005Z'), T0 + 5n);
  assert.equal(parseRFC3339Nano('2023-11-15T00:13:20.5+02:00'), T0 + 500_000_000n);
});

test('a json-file line is dockerd format and round-trips', () => {
  const line = encodeLogLine({ stream: 'stderr', log: 'a "b"\n', timeNano: T0 + 1n });
  assert.equal(line, '{"log":"a \\"b\\"\\n","stream":"stderr","time":"2023-11-14T22:13:20.000000001Z"}\n');
  assert.deepEqual(decodeLogLine(line.trim()), { stream: 'stderr', log: 'a "b"\n', timeNano: T0 + 1n });
  assert.equal(decodeLogLine('{"log":'), undefined);
});

test('LineSplitter cuts at newlines, splits overlong lines and flushes the partial tail', () => {
  const s = new LineSplitter(8);
  assert.deepEqual(s.push(Buffer.from('ab\ncd')).map(String), ['ab\n']);
  assert.deepEqual(s.push(Buffer.from('efghijklm\n')).map(String), ['cdefghij', 'klm\n']);
  assert.deepEqual(s.push(Buffer.from('tail')).map(String), []);
  assert.equal(s.flush()?.toString(), 'tail');
  assert.equal(s.flush(), undefined);
});

test('readLogEntries applies tail over both streams, then since and until', async () => {
  const path = join(dir, 'a-json.log');
  await writeAll(path, [entry(1), entry(2, 'stderr'), entry(3), entry(4, 'stderr'), entry(5)]);
  assert.deepEqual(await collect(readLogEntries(path)), [
    'stdout:line 1',
    'stderr:line 2',
    'stdout:line 3',
    'stderr:line 4',
    'stdout:line 5',
  ]);
  assert.deepEqual(await collect(readLogEntries(path, { tail: 2 })), ['stderr:line 4', 'stdout:line 5']);
  assert.deepEqual(await collect(readLogEntries(path, { tail: 0 })), []);
  const sinceNano = T0 + 3n * 1_000_000_000n;
  const untilNano = T0 + 4n * 1_000_000_000n;
  assert.deepEqual(await collect(readLogEntries(path, { sinceNano, untilNano })), [
    'stdout:line 3',
    'stderr:line 4',
  ]);
});

test('JsonLogWriter rotates to .1 past maxSize and the reader reads the rotated file first', async () => {
  const path = join(dir, 'rot-json.log');
  const entries = Array.from({ length: 10 }, (_, i) => entry(i));
  const lineSize = encodeLogLine(entries[0] as LogEntry).length;
  await writeAll(path, entries, lineSize * 4);
  assert.ok((await stat(path)).size <= lineSize * 4);
  assert.ok((await readFile(`${path}.1`, 'utf8')).includes('line 7'));
  // one old file kept: the oldest lines are gone, the rest is in order
  assert.deepEqual(await collect(readLogEntries(path)), [
    'stdout:line 4',
    'stdout:line 5',
    'stdout:line 6',
    'stdout:line 7',
    'stdout:line 8',
    'stdout:line 9',
  ]);
});

test('readLogEntries stops the current file at endOffset (a follower takes the rest live)', async () => {
  const path = join(dir, 'off-json.log');
  const w = new JsonLogWriter(path);
  w.write(entry(1));
  const offset = w.position;
  w.write(entry(2));
  await w.close();
  assert.deepEqual(await collect(readLogEntries(path, { endOffset: offset })), ['stdout:line 1']);
});

test('a full disk (writes to /dev/full fail with ENOSPC): lines are dropped, nobody waits, one warning', async () => {
  const errors: Error[] = [];
  const w = new JsonLogWriter('/dev/full', { onError: (err) => errors.push(err) });
  const big = (i: number): LogEntry => ({
    stream: 'stdout',
    log: `${'x'.repeat(64 << 10)} ${i}\n`,
    timeNano: T0,
  });
  // past the high-water mark at once: the caller is told to wait for drained()
  assert.equal(w.write(big(0)), false);
  const drained = w.drained();
  await Promise.race([
    drained,
    new Promise((_, reject) => setTimeout(() => reject(new Error('drained() never resolved')), 5000)),
  ]);
  assert.equal(errors.length, 1);
  assert.match(errors[0]?.message ?? '', /ENOSPC/);
  // while the file fails, lines are dropped without back-pressure (the container is not blocked)
  for (let i = 1; i < 100; i++) assert.equal(w.write(big(i)), true);
  await w.drained();
  // a reopen a second later fails again: no second warning within the minute
  await new Promise((r) => setTimeout(r, 1100));
  w.write(big(100));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(errors.length, 1);
  await w.close();
});
