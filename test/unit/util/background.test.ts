import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { background } from '../../../src/util/background.js';
import {
  AlreadyExistsError,
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  isConflict,
  isNotFound,
} from '../../../src/errors/index.js';

test('background logs a failure with what failed and never rejects', async () => {
  const logged: { obj: unknown; msg: string }[] = [];
  const log = { warn: (obj: unknown, msg: string) => void logged.push({ obj, msg }) };
  background('thawing c1', Promise.reject(new Error('EBUSY')), log as never);
  background('nothing', Promise.resolve(1), log as never);
  await tick();
  assert.equal(logged.length, 1);
  assert.equal(logged[0]!.msg, 'thawing c1 failed');
  assert.match(String((logged[0]!.obj as { err: Error }).err.message), /EBUSY/);
});

test('isNotFound and isConflict name the 404 and 409 kinds', () => {
  assert.equal(isNotFound(new NotFoundError('x')), true);
  assert.equal(isNotFound(new InvalidArgumentError('x')), false);
  assert.equal(isNotFound(new Error('not found')), false);
  assert.equal(isConflict(new ConflictError('x')), true);
  assert.equal(isConflict(new AlreadyExistsError('x')), true);
  assert.equal(isConflict(new NotFoundError('x')), false);
});
