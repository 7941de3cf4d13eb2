import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../../src/errors/index.js';
import { Filters, parseFilters, validateFilterKeys } from '../../../src/oci/filters.js';

describe('parseFilters', () => {
  it('returns no filters for an absent or empty parameter', () => {
    assert.equal(parseFilters(undefined).size, 0);
    assert.equal(parseFilters('').size, 0);
    assert.equal(parseFilters('{}').size, 0);
    assert.equal(parseFilters('null').size, 0);
  });

  it('accepts the CLI encoding {"key":{"value":true}}', () => {
    const f = parseFilters('{"label":{"a=b":true,"c":true},"dangling":{"true":true}}');
    assert.deepEqual(f.toRecord(), { label: ['a=b', 'c'], dangling: ['true'] });
  });

  it('accepts the legacy docker-py encoding {"key":["value"]}', () => {
    const f = parseFilters('{"status":["running","exited"]}');
    assert.deepEqual(f.get('status'), ['running', 'exited']);
    assert.deepEqual([...f.toMap()], [['status', ['running', 'exited']]]);
  });

  it('gives both encodings the same result', () => {
    assert.deepEqual(
      parseFilters('{"name":{"x":true}}').toRecord(),
      parseFilters('{"name":["x"]}').toRecord(),
    );
  });

  it('rejects non-JSON, non-objects and values of neither shape as invalid filter', () => {
    for (const bad of [
      '{',
      '[]',
      '"x"',
      '{"a":"b"}',
      '{"a":{"b":"c"}}',
      '{"a":[1]}',
      '{"a":{"b":true},"c":["d"]}',
    ]) {
      assert.throws(
        () => parseFilters(bad),
        { name: 'InvalidArgumentError', message: 'invalid filter' },
        bad,
      );
    }
  });
});

describe('Filters', () => {
  it("validateKeys rejects an unknown key as invalid filter 'x'", () => {
    const f = parseFilters('{"label":["a"],"bogus":["b"]}');
    assert.throws(() => f.validateKeys(['label']), { message: "invalid filter 'bogus'" });
    assert.equal(f.validateKeys(['label', 'bogus']), f);
    assert.throws(() => validateFilterKeys('{"x":["1"]}', ['y']), InvalidArgumentError);
  });

  it('exactMatch matches values exactly and passes when the key is absent', () => {
    const f = new Filters([['name', ['web']]]);
    assert.ok(f.exactMatch('name', 'web'));
    assert.ok(!f.exactMatch('name', 'web2'));
    assert.ok(f.exactMatch('other', 'anything'));
  });

  it('match treats values as regular expressions', () => {
    const f = new Filters([['name', ['^we']]]);
    assert.ok(f.match('name', 'web'));
    assert.ok(!f.match('name', 'aweb'));
    assert.ok(!new Filters([['name', ['(']]]).match('name', 'x'));
  });

  it('fuzzyMatch accepts prefixes (ID filters)', () => {
    const f = new Filters([['id', ['abc']]]);
    assert.ok(f.fuzzyMatch('id', 'abcdef'));
    assert.ok(!f.fuzzyMatch('id', 'xabc'));
  });

  it('matchKVList requires every key / key=value filter to hold', () => {
    const f = new Filters([['label', ['a', 'b=2']]]);
    assert.ok(f.matchKVList('label', { a: 'x', b: '2' }));
    assert.ok(!f.matchKVList('label', { a: 'x', b: '3' }));
    assert.ok(!f.matchKVList('label', { b: '2' }));
    assert.ok(!f.matchKVList('label', {}));
    assert.ok(new Filters().matchKVList('label', undefined));
  });

  it('getBoolOrDefault reads true/1 and false/0 and rejects anything else', () => {
    assert.equal(new Filters().getBoolOrDefault('dangling', false), false);
    assert.equal(new Filters([['dangling', ['true']]]).getBoolOrDefault('dangling', false), true);
    assert.equal(new Filters([['dangling', ['0']]]).getBoolOrDefault('dangling', true), false);
    assert.throws(() => new Filters([['dangling', ['yes']]]).getBoolOrDefault('dangling', false), {
      message: "invalid filter 'dangling=[yes]'",
    });
    assert.throws(() => new Filters([['dangling', ['true', 'false']]]).getBoolOrDefault('dangling', false));
  });

  it('uniqueExactMatch needs exactly one value', () => {
    assert.ok(new Filters([['k', ['a']]]).uniqueExactMatch('k', 'a'));
    assert.ok(!new Filters([['k', ['a', 'b']]]).uniqueExactMatch('k', 'a'));
  });

  it('has/keys/get report what was given, even a key with null values', () => {
    const f = parseFilters('{"a":null,"b":["x"]}');
    assert.ok(f.has('a'));
    assert.deepEqual(f.get('a'), []);
    assert.deepEqual(f.keys(), ['a', 'b']);
  });
});

describe('Filters: hostile keys', () => {
  it('keeps a __proto__ key as a plain key in toRecord', () => {
    const r = parseFilters('{"__proto__":["x"]}').toRecord();
    assert.equal(Object.getPrototypeOf(r), Object.prototype);
    assert.deepEqual(Object.keys(r), ['__proto__']);
  });
});
