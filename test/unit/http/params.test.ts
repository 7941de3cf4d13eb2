import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../../src/errors/index.js';
import { parseFilters } from '../../../src/oci/filters.js';
import { firstValue, parseBool, parseGoDuration, parseTimestamp } from '../../../src/http/params.js';

const S = 1_000_000_000n;

describe('parseBool follows moby BoolValue', () => {
  const cases: [unknown, boolean][] = [
    ['', false],
    ['0', false],
    ['no', false],
    ['false', false],
    ['none', false],
    [' FALSE ', false],
    ['No', false],
    ['1', true],
    ['true', true],
    ['yes', true],
    ['anything', true],
    [['0', '1'], false],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} -> ${want}`, () => assert.equal(parseBool(input), want));
  }
  it('absent value takes the default', () => {
    assert.equal(parseBool(undefined), false);
    assert.equal(parseBool(undefined, true), true);
  });
});

describe('firstValue takes the first of a repeated key, as r.Form.Get', () => {
  it('picks element 0 and passes strings through', () => {
    assert.equal(firstValue(['a', 'b']), 'a');
    assert.equal(firstValue('x'), 'x');
    assert.equal(firstValue(undefined), undefined);
    assert.equal(firstValue([]), undefined);
  });
});

describe('parseGoDuration follows time.ParseDuration', () => {
  const ok: [string, bigint][] = [
    ['0', 0n],
    ['-0', 0n],
    ['300ms', 300_000_000n],
    ['10m', 600n * S],
    ['1h30m', 5400n * S],
    ['2h45m10.5s', (2n * 3600n + 45n * 60n + 10n) * S + S / 2n],
    ['-1.5h', -5400n * S],
    ['+5s', 5n * S],
    ['1.s', S],
    ['.5s', S / 2n],
    ['1us', 1000n],
    ['1µs', 1000n],
    ['1μs', 1000n],
    ['7ns', 7n],
  ];
  for (const [input, want] of ok)
    it(`${input} -> ${want}ns`, () => assert.equal(parseGoDuration(input), want));
  for (const bad of ['', '5', '.s', 'm', '5d', '1h-5m', '-', 's5', '9223372036854775808ns']) {
    it(`${JSON.stringify(bad)} is rejected`, () =>
      assert.throws(() => parseGoDuration(bad), InvalidArgumentError));
  }
});

describe('parseTimestamp accepts dockerd and docker CLI forms', () => {
  const now = new Date('2024-01-01T00:00:00.500Z'); // .5 s checks the CLI's truncation
  const nowSec = 1_704_067_200n;
  const localOffset = BigInt(-now.getTimezoneOffset() * 60);
  const utc = (iso: string) => BigInt(Date.parse(iso)) * 1_000_000n;
  const cases: [string, bigint][] = [
    ['0', 0n],
    ['1700000000', 1_700_000_000n * S],
    ['1700000000.123456789', 1_700_000_000n * S + 123_456_789n],
    ['1700000000.5', 1_700_000_000n * S + 500_000_000n],
    ['1700000000.1234567891', 1_700_000_000n * S + 123_456_789n],
    ['-5', -5n * S],
    ['10m', (nowSec - 600n) * S],
    ['1h30m', (nowSec - 5400n) * S],
    ['1.5h', (nowSec - 5400n) * S],
    ['-5s', (nowSec + 5n) * S],
    ['2024-01-02T03:04:05Z', utc('2024-01-02T03:04:05Z')],
    ['2024-01-02T03:04:05.123456789Z', utc('2024-01-02T03:04:05Z') + 123_456_789n],
    ['2024-01-02T03:04:05.5+02:00', utc('2024-01-02T01:04:05Z') + 500_000_000n],
    ['2024-01-02T03:04:05-02:00', utc('2024-01-02T05:04:05Z')],
    ['2024-01-02T03:04+01:00', utc('2024-01-02T02:04:00Z')],
    ['2024-01-02T03Z', utc('2024-01-02T03:00:00Z')],
    ['2024-01-02Z', utc('2024-01-02T00:00:00Z')],
    ['2024-01-02+05:30', utc('2024-01-01T18:30:00Z')],
    ['2024-01-02', utc('2024-01-02T00:00:00Z') - localOffset * S],
    ['2024-01-02T03', utc('2024-01-02T03:00:00Z') - localOffset * S],
    ['2024-01-02T03:04', utc('2024-01-02T03:04:00Z') - localOffset * S],
    ['2024-01-02T03:04:05', utc('2024-01-02T03:04:05Z') - localOffset * S],
    ['2024-01-02T03:04:05.25', utc('2024-01-02T03:04:05Z') - localOffset * S + 250_000_000n],
    ['1969-12-31T23:59:59Z', -1n * S],
  ];
  for (const [input, want] of cases) {
    it(`${input} -> ${want}ns`, () => assert.equal(parseTimestamp(input, 'since', now), want));
  }
  it('absent or empty -> undefined', () => {
    assert.equal(parseTimestamp(undefined, 'since', now), undefined);
    assert.equal(parseTimestamp('', 'since', now), undefined);
  });
  const bad = [
    'abc',
    'yesterday',
    '1700000000.',
    '10x',
    '2024-13-01',
    '2024-02-30',
    '2024-01-02T25:00:00Z',
    '2024-1-2',
    '2024-01-02T03:04:05z',
    '2024-01-02T03:04:05+0200',
  ];
  for (const input of bad) {
    it(`${JSON.stringify(input)} is a 400 naming the parameter`, () => {
      assert.throws(
        () => parseTimestamp(input, 'until', now),
        (err: unknown) => err instanceof InvalidArgumentError && err.message.startsWith('invalid until:'),
      );
    });
  }
});

describe('the filters query parameter (oci parseFilters) accepts both Docker encodings', () => {
  const parseQuery = (v: unknown) => parseFilters(firstValue(v)).toRecord();
  const ok: [unknown, Record<string, string[]>][] = [
    [undefined, {}],
    ['', {}],
    ['null', {}],
    ['{}', {}],
    ['{"type":{"container":true}}', { type: ['container'] }],
    ['{"type":["container","image"]}', { type: ['container', 'image'] }],
    ['{"label":{"a=b":true,"c":false}}', { label: ['a=b', 'c'] }],
    ['{"type":{"container":true},"event":{"commit":true}}', { type: ['container'], event: ['commit'] }],
    ['{"type":null}', { type: [] }],
    [['{"a":["1"]}', '{"b":["2"]}'], { a: ['1'] }],
  ];
  for (const [input, want] of ok) {
    it(`${JSON.stringify(input)}`, () => assert.deepEqual(parseQuery(input), want));
  }
  for (const bad of [
    '{',
    'not json',
    '[]',
    '"x"',
    '42',
    '{"type":"container"}',
    '{"type":{"container":"yes"}}',
    '{"type":[1]}',
    '{"a":{"x":true},"b":["y"]}',
  ]) {
    it(`${JSON.stringify(bad)} is a 400`, () => assert.throws(() => parseQuery(bad), InvalidArgumentError));
  }
  it('a "__proto__" key stays data and does not touch the prototype', () => {
    const f = parseQuery('{"__proto__":["x"]}');
    assert.deepEqual(Object.getOwnPropertyDescriptor(f, '__proto__')?.value, ['x']);
    assert.equal(Object.getPrototypeOf(f), Object.prototype);
  });
});
