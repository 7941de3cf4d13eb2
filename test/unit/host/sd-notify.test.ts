import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { takeNotifySocket } from '../../../src/host/sd-notify.js';

const silent = pino({ level: 'silent' });

test('takeNotifySocket removes NOTIFY_SOCKET and runs the notifier with it and the assignments', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ckptd-sdnotify-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const prog = join(dir, 'fake-notify');
  const out = join(dir, 'out');
  await writeFile(prog, `#!/bin/sh\necho "$NOTIFY_SOCKET $*" >> ${out}\n`);
  await chmod(prog, 0o755);
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', HOME: '/root' };
  const n = takeNotifySocket(silent, env, prog);
  assert.deepEqual(env, { HOME: '/root' }, 'children never see NOTIFY_SOCKET');
  assert.equal(n.socket, '/run/systemd/notify');
  await n.notify('READY=1', 'STATUS=serving');
  await n.notify('STOPPING=1');
  assert.equal(
    await readFile(out, 'utf8'),
    '/run/systemd/notify READY=1 STATUS=serving\n/run/systemd/notify STOPPING=1\n',
  );
});

test('without NOTIFY_SOCKET nothing runs; a failing notifier is logged, not thrown', async () => {
  const none = takeNotifySocket(silent, {}, '/nonexistent/notify');
  await none.notify('READY=1');
  const failing = takeNotifySocket(silent, { NOTIFY_SOCKET: '/x' }, '/nonexistent/notify');
  await failing.notify('READY=1'); // resolves
});
