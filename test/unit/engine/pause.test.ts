import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { TaskPauser } from '../../../src/engine/pause.js';

test('TaskPauser: a quiet hold mutes the events of the pause and resume it makes; a loud one does not', async () => {
  const calls: string[] = [];
  const pauser = new TaskPauser(
    {
      get: async () => ({ status: 'RUNNING' }),
      pause: async (id) => void calls.push(`pause ${id}`),
      resume: async (id) => void calls.push(`resume ${id}`),
    },
    pino({ level: 'silent' }),
    (id, action) => calls.push(`mute ${action} ${id}`),
  );
  const release = await pauser.hold('c1', 'archive', true, true);
  await release();
  const loud = await pauser.hold('c2', 'commit');
  await loud();
  assert.deepEqual(calls, [
    'mute pause c1',
    'pause c1',
    'mute unpause c1',
    'resume c1',
    'pause c2',
    'resume c2',
  ]);
});
