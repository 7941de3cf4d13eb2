import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InternalError, InvalidArgumentError } from '../../../src/errors/index.js';
import { runtimeMessage, startFailure } from '../../../src/engine/start-errors.js';

const RUNC =
  'failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ';

test('a command not found is a 400 and exit code 127, in the runtime words', () => {
  const desc = `${RUNC}exec: "nosuchcmd": executable file not found in $PATH: unknown`;
  const f = startFailure(desc);
  assert.equal(f.exitCode, 127);
  assert.ok(f.error instanceof InvalidArgumentError);
  assert.equal(f.error.message, desc);
});

test('a command that cannot be executed is a 400 and exit code 126', () => {
  const f = startFailure(`${RUNC}exec: "/etc": permission denied: unknown`);
  assert.equal(f.exitCode, 126);
  assert.ok(f.error instanceof InvalidArgumentError);
});

test('"is a directory" gets dockerd\'s ": permission denied" so the CLI exits 126', () => {
  const f = startFailure(`${RUNC}exec: "/etc": is a directory: unknown`);
  assert.equal(f.exitCode, 126);
  assert.match(f.error.message, /is a directory: unknown: permission denied$/);
});

test('"not a directory" is a 400, exit code 127, with dockerd\'s hint', () => {
  const f = startFailure(`${RUNC}error during container init: mkdir /etc/passwd: not a directory: unknown`);
  assert.equal(f.exitCode, 127);
  assert.ok(f.error instanceof InvalidArgumentError);
  assert.match(
    f.error.message,
    /not a directory: unknown: Are you trying to mount a directory onto a file \(or vice-versa\)\? Check if the specified host path exists and is the expected type$/,
  );
});

test('anything else is a 500 with exit code 128', () => {
  const f = startFailure('failed to create task for container: something broke: unknown');
  assert.equal(f.exitCode, 128);
  assert.ok(f.error instanceof InternalError);
  assert.equal(f.error.message, 'failed to create task for container: something broke: unknown');
});

test('runtimeMessage drops the "containerd Tasks.Create:" of the client and keeps containerd\'s words', () => {
  const cause = Object.assign(new Error('2 UNKNOWN: x'), {
    code: 2,
    details: 'failed to create shim task: x: unknown',
  });
  const err = new InternalError('containerd Tasks.Create: failed to create shim task: x: unknown', { cause });
  assert.equal(runtimeMessage(err), 'failed to create shim task: x: unknown');
  assert.equal(runtimeMessage(new Error('plain')), 'plain');
});
