import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_PATH_ENV,
  mergeContainerConfig,
  mergeEnv,
  processArgs,
  processEnv,
  replaceOrAppendEnv,
  toStrSlice,
} from '../../../src/oci/container-config.js';

const image = {
  Env: ['PATH=/img/bin', 'LANG=C'],
  Entrypoint: ['/entry'],
  Cmd: ['default'],
  WorkingDir: '/srv',
  User: 'app',
  Labels: { a: 'image', b: 'image' },
  ExposedPorts: { '80/tcp': {} },
  StopSignal: 'SIGQUIT',
};

describe('mergeContainerConfig: command', () => {
  it('inherits image Entrypoint and Cmd when the request has neither', () => {
    const m = mergeContainerConfig({}, image);
    assert.deepEqual(m.Entrypoint, ['/entry']);
    assert.deepEqual(m.Cmd, ['default']);
  });

  it('lets a request Cmd override the image Cmd and keep the image Entrypoint', () => {
    const m = mergeContainerConfig({ Cmd: ['x'] }, image);
    assert.deepEqual(m.Entrypoint, ['/entry']);
    assert.deepEqual(m.Cmd, ['x']);
  });

  it('drops the image Cmd when the request sets an Entrypoint without Cmd', () => {
    const m = mergeContainerConfig({ Entrypoint: ['/other'] }, image);
    assert.deepEqual(m.Entrypoint, ['/other']);
    assert.equal(m.Cmd, null);
  });

  it('clears the entrypoint with [""] and then needs a command', () => {
    const m = mergeContainerConfig({ Entrypoint: [''], Cmd: ['ls'] }, image);
    assert.equal(m.Entrypoint, null);
    assert.deepEqual(m.Cmd, ['ls']);
    assert.throws(() => mergeContainerConfig({ Entrypoint: [''] }, image), {
      name: 'InvalidArgumentError',
      message: 'no command specified',
    });
  });

  it('clears the image entrypoint but keeps the image Cmd with Entrypoint []', () => {
    const m = mergeContainerConfig({ Entrypoint: [] }, image);
    assert.deepEqual(m.Entrypoint, []);
    assert.deepEqual(m.Cmd, ['default']);
  });

  it('accepts a string Cmd/Entrypoint as the API does', () => {
    assert.deepEqual(mergeContainerConfig({ Cmd: 'ls' }, {}).Cmd, ['ls']);
    assert.deepEqual(toStrSlice(null), null);
  });

  it('fails with no command specified when nothing gives one', () => {
    assert.throws(() => mergeContainerConfig({}, {}), { message: 'no command specified' });
    assert.throws(() => mergeContainerConfig({ Cmd: [] }, { Cmd: [] }), { message: 'no command specified' });
  });
});

describe('mergeContainerConfig: other fields', () => {
  it('puts request Env first and appends image Env for keys the request does not set', () => {
    const m = mergeContainerConfig({ Cmd: ['x'], Env: ['LANG=en', 'FOO=1'] }, image);
    assert.deepEqual(m.Env, ['LANG=en', 'FOO=1', 'PATH=/img/bin']);
    assert.deepEqual(mergeEnv([], ['A=1']), ['A=1']);
  });

  it('merges labels (request wins), ports (union), and defaults user/workdir/stop signal', () => {
    const m = mergeContainerConfig(
      { Cmd: ['x'], Labels: { b: 'req' }, ExposedPorts: { '53/udp': {} } },
      image,
    );
    assert.deepEqual(m.Labels, { a: 'image', b: 'req' });
    assert.deepEqual(m.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
    assert.equal(m.User, 'app');
    assert.equal(m.WorkingDir, '/srv');
    assert.equal(m.StopSignal, 'SIGQUIT');
    const r = mergeContainerConfig(
      { Cmd: ['x'], User: '1000', WorkingDir: '/w', StopSignal: 'SIGINT' },
      image,
    );
    assert.equal(r.User, '1000');
    assert.equal(r.WorkingDir, '/w');
    assert.equal(r.StopSignal, 'SIGINT');
  });

  it('rejects a relative working directory with Docker wording', () => {
    assert.throws(() => mergeContainerConfig({ Cmd: ['x'], WorkingDir: 'rel' }, {}), {
      message: "the working directory 'rel' is invalid, it needs to be an absolute path",
    });
  });

  it('fills unset healthcheck fields from the image', () => {
    const m = mergeContainerConfig(
      { Cmd: ['x'], Healthcheck: { Interval: 1e9 } },
      { Healthcheck: { Test: ['CMD', 'true'], Interval: 5e9, Retries: 3 } },
    );
    assert.deepEqual(m.Healthcheck, { Test: ['CMD', 'true'], Interval: 1e9, Retries: 3 });
  });
});

describe('process env and args', () => {
  it('processEnv puts PATH (default), HOSTNAME and TERM (tty) first, then the container Env', () => {
    assert.deepEqual(processEnv(['A=1'], 'host', false), [
      `PATH=${DEFAULT_PATH_ENV}`,
      'HOSTNAME=host',
      'A=1',
    ]);
    assert.deepEqual(processEnv(['PATH=/x', 'A=1'], 'h', true), [
      'PATH=/x',
      'HOSTNAME=h',
      'TERM=xterm',
      'A=1',
    ]);
    assert.deepEqual(processEnv(['HOSTNAME=mine'], 'h', false), [
      `PATH=${DEFAULT_PATH_ENV}`,
      'HOSTNAME=mine',
    ]);
  });

  it('replaceOrAppendEnv unsets a bare key and lets the last duplicate win', () => {
    assert.deepEqual(replaceOrAppendEnv(['A=1', 'B=2'], ['A', 'C=3', 'C=4']), ['B=2', 'C=4']);
  });

  it('processArgs concatenates entrypoint and cmd', () => {
    assert.deepEqual(processArgs(['/e', '-x'], ['a']), ['/e', '-x', 'a']);
    assert.deepEqual(processArgs(null, ['a']), ['a']);
    assert.deepEqual(processArgs([], ['a']), ['a']);
    assert.throws(() => processArgs(null, null), { message: 'no command specified' });
  });
});
