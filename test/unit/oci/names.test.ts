import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  NAME_ADJECTIVES,
  NAME_SURNAMES,
  generateContainerId,
  generateName,
  isValidContainerName,
  validateCheckpointId,
  validateContainerName,
} from '../../../src/oci/names.js';

describe('container names', () => {
  it('validateContainerName strips one leading slash from a valid name', () => {
    assert.equal(validateContainerName('/web_1'), 'web_1');
    assert.equal(validateContainerName('a.b-c'), 'a.b-c');
  });

  it('validateContainerName rejects bad names with Docker wording', () => {
    for (const bad of ['', 'a', '_x', '-x', 'a b', 'a/b', '//ab', 'héllo']) {
      assert.throws(() => validateContainerName(bad), {
        name: 'InvalidArgumentError',
        message: `Invalid container name (${bad}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
      });
    }
    assert.ok(!isValidContainerName('a'));
    assert.ok(isValidContainerName('ab'));
  });

  it('validateCheckpointId refuses path-like IDs before any path join', () => {
    assert.equal(validateCheckpointId('cp1'), 'cp1');
    for (const bad of ['', '.', '..', '../outside', 'foo/bar', 'a\u0000b', '/abs']) {
      assert.throws(() => validateCheckpointId(bad), /Invalid checkpoint ID/);
    }
  });
});

describe('generateName', () => {
  it('produces adjective_surname from the lists', () => {
    for (let i = 0; i < 50; i++) {
      const [a, s] = generateName().split('_');
      assert.ok(NAME_ADJECTIVES.includes(a ?? ''), a);
      assert.ok(NAME_SURNAMES.includes(s ?? ''), s);
    }
    assert.ok(NAME_ADJECTIVES.length >= 50 && NAME_SURNAMES.length >= 50);
  });

  it('appends a digit on retry', () => {
    assert.match(generateName(1), /^[a-z]+_[a-z]+[0-9]$/);
  });

  it('never produces boring_wozniak', () => {
    const seq = [NAME_ADJECTIVES.indexOf('boring'), NAME_SURNAMES.indexOf('wozniak'), 0, 0];
    let i = 0;
    const name = generateName(0, () => seq[i++] ?? 0);
    assert.equal(name, `${NAME_ADJECTIVES[0]}_${NAME_SURNAMES[0]}`);
  });
});

describe('generateContainerId', () => {
  it('returns 64 lowercase hex digits, different each time', () => {
    const a = generateContainerId();
    assert.match(a, /^[a-f0-9]{64}$/);
    assert.notEqual(a, generateContainerId());
  });

  it('skips IDs whose short form is all digits', () => {
    const numeric = Buffer.from('1'.repeat(64), 'hex');
    const ok = Buffer.from(`ab${'1'.repeat(62)}`, 'hex');
    let calls = 0;
    const id = generateContainerId(() => (calls++ === 0 ? numeric : ok));
    assert.equal(id, `ab${'1'.repeat(62)}`);
    assert.equal(calls, 2);
  });
});
