import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ListenAddress } from '../../../src/config/config.js';
import {
  resolveListenTargets,
  takeSocketActivation,
  type ActivatedSocket,
  type ActivationDeps,
} from '../../../src/http/socket-activation.js';

test('takeSocketActivation returns the passed fds with their names and clears LISTEN_*', () => {
  const env: NodeJS.ProcessEnv = {
    LISTEN_PID: '4242',
    LISTEN_FDS: '3',
    LISTEN_FDNAMES: 'api:metrics',
    PATH: '/bin',
  };
  assert.deepEqual(takeSocketActivation(env, 4242), [
    { fd: 3, name: 'api' },
    { fd: 4, name: 'metrics' },
    { fd: 5, name: 'unknown' },
  ]);
  assert.deepEqual(env, { PATH: '/bin' });
});

test('takeSocketActivation ignores variables meant for another process, and clears them too', () => {
  for (const env of [
    { LISTEN_PID: '1', LISTEN_FDS: '1' },
    { LISTEN_FDS: '1' },
    { LISTEN_PID: '4242', LISTEN_FDS: 'x' },
    { LISTEN_PID: '4242' },
    { LISTEN_PID: '4242x', LISTEN_FDS: '1', LISTEN_FDNAMES: 'a' },
  ] as NodeJS.ProcessEnv[]) {
    assert.deepEqual(takeSocketActivation(env, 4242), [], JSON.stringify(env));
    assert.deepEqual(env, {});
  }
  assert.deepEqual(takeSocketActivation({ LISTEN_PID: '4242', LISTEN_FDS: '0' }, 4242), []);
});

function fakeDeps(notSockets: number[] = []): ActivationDeps & { closed: number[] } {
  const closed: number[] = [];
  return { closed, isSocket: (fd) => !notSockets.includes(fd), close: (fd) => closed.push(fd) };
}

const passed: ActivatedSocket[] = [
  { fd: 3, name: 'ckptd.socket' },
  { fd: 4, name: 'tcp' },
];
const fd = (select: string): ListenAddress => ({ kind: 'fd', select });

test('fd:// serves every passed socket; unix and tcp addresses pass through', () => {
  const deps = fakeDeps();
  const unix: ListenAddress = { kind: 'unix', path: '/run/x.sock' };
  assert.deepEqual(resolveListenTargets([unix, fd('')], passed, deps), [
    unix,
    { kind: 'activated', fd: 3, name: 'ckptd.socket' },
    { kind: 'activated', fd: 4, name: 'tcp' },
  ]);
  assert.deepEqual(deps.closed, []);
});

test('fd://N and fd://NAME select one socket; the others are closed, as dockerd', () => {
  let deps = fakeDeps();
  assert.deepEqual(resolveListenTargets([fd('4')], passed, deps), [
    { kind: 'activated', fd: 4, name: 'tcp' },
  ]);
  assert.deepEqual(deps.closed, [3]);
  deps = fakeDeps();
  assert.deepEqual(resolveListenTargets([fd('ckptd.socket')], passed, deps), [
    { kind: 'activated', fd: 3, name: 'ckptd.socket' },
  ]);
  assert.deepEqual(deps.closed, [4]);
  // a socket selected twice is served once
  deps = fakeDeps();
  assert.deepEqual(resolveListenTargets([fd('3'), fd('')], passed, deps), [
    { kind: 'activated', fd: 3, name: 'ckptd.socket' },
    { kind: 'activated', fd: 4, name: 'tcp' },
  ]);
});

test('fd:// without passed sockets, an fd or name not passed, or a non-socket fail with clear messages', () => {
  assert.throws(
    () => resolveListenTargets([fd('')], [], fakeDeps()),
    /^InvalidArgumentError: fd:\/\/: no sockets found via socket activation: make sure the service was started by systemd/,
  );
  assert.throws(
    () => resolveListenTargets([fd('7')], passed, fakeDeps()),
    /fd:\/\/7: too few socket activated files passed in by systemd \(passed: fd 3 "ckptd.socket", fd 4 "tcp"\)/,
  );
  assert.throws(
    () => resolveListenTargets([fd('api')], passed, fakeDeps()),
    /fd:\/\/api: no socket activated file named "api"/,
  );
  assert.throws(
    () => resolveListenTargets([fd('3')], passed, fakeDeps([3])),
    /fd:\/\/3: failed to listen on systemd activated file: fd 3 is not a socket/,
  );
  // no fd:// address: passed sockets are not ours to use, and are closed
  const deps = fakeDeps();
  assert.deepEqual(resolveListenTargets([{ kind: 'unix', path: '/x.sock' }], passed, deps), [
    { kind: 'unix', path: '/x.sock' },
  ]);
  assert.deepEqual(deps.closed, [3, 4]);
});
