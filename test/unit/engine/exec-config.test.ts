import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkExecConfig, type ExecConfig } from '../../../src/engine/io/exec.js';

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
});
