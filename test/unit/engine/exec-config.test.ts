import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkExecConfig,
  execEventAction,
  execStartError,
  execStartFailureMessage,
  withoutContainerField,
  type ExecConfig,
} from '../../../src/engine/io/exec.js';
import { InvalidArgumentError } from '../../../src/errors/index.js';

describe('exec create fields', () => {
  it("accepts the docker CLI's body", () => {
    assert.doesNotThrow(() =>
      checkExecConfig({
        User: '',
        Privileged: true,
        Tty: true,
        ConsoleSize: [24, 80],
        AttachStdin: false,
        AttachStderr: true,
        AttachStdout: true,
        Detach: false,
        DetachKeys: '',
        Env: null,
        WorkingDir: '',
        Cmd: ['true'],
      } as unknown as ExecConfig),
    );
  });

  it('refuses detach keys, unknown fields and a bad ConsoleSize, naming the field', () => {
    assert.throws(() => checkExecConfig({ Cmd: ['x'], DetachKeys: 'ctrl-x' }), /^.*DetachKeys: detach keys/);
    assert.throws(() => checkExecConfig({ Cmd: ['x'], Foo: 1 } as ExecConfig), /Foo: unknown exec field/);
    assert.throws(
      () => checkExecConfig({ Cmd: ['x'], ConsoleSize: [1] as unknown as [number, number] }),
      /ConsoleSize: must be/,
    );
    assert.throws(
      () => checkExecConfig({ Cmd: ['x'], Privileged: 'yes' } as unknown as ExecConfig),
      /Privileged: must be a boolean/,
    );
  });

  it("accepts docker-py's body: Container naming the container of the URL is dropped", () => {
    const body = {
      Container: 'ex',
      User: '',
      Privileged: false,
      Tty: false,
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Cmd: ['echo', 'o'],
      Env: null,
    } as unknown as ExecConfig;
    const kept = withoutContainerField('ex', body);
    assert.equal('Container' in kept, false);
    assert.doesNotThrow(() => checkExecConfig(kept));
    assert.throws(
      () => withoutContainerField('other', body),
      /^InvalidArgumentError: Container: "ex" is not/,
    );
  });
});

describe('exec events and start failures as dockerd', () => {
  it('events name the command: "exec_start: <entrypoint> <args>"', () => {
    assert.equal(execEventAction('exec_create', ['echo', 'hi']), 'exec_create: echo hi');
    assert.equal(execEventAction('exec_start', ['ls']), 'exec_start: ls ');
  });
  it("a start failure is the runtime's words; not found is a 400", () => {
    const grpc = Object.assign(new Error('2 UNKNOWN: x'), {
      details:
        'OCI runtime exec failed: exec failed: exec: "nope": executable file not found in $PATH: unknown',
    });
    const err = new Error('containerd Tasks.Start: OCI runtime exec failed', { cause: grpc });
    assert.equal(execStartFailureMessage(err), grpc.details);
    const mapped = execStartError(err, 'nope');
    assert.ok(mapped instanceof InvalidArgumentError);
    assert.equal(mapped.message, grpc.details);
    const other = new Error('boom');
    assert.equal(execStartError(other, 'nope'), other);
  });
});
