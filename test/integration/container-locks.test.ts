// One lock per container (moby's container.Lock), shared by the container, checkpoint and archive
// services: a checkpoint, a stop, a cp in and an rm of one container sent at the same moment run one
// after another, and whatever order they ran in, the result is one a user can explain — every
// request answers a Docker status (no 500), and afterwards ckptd, containerd and the host agree.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ckptdFixture, COUNTER, IMG } from '../helpers/fixture.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-locks';

describe('one lock per container across services', () => {
  const f = ckptdFixture({ ns: NS });
  const { api, ctr } = f;
  const docker = async (...args: string[]) => (await f.docker(...args)).trim();

  before(() => writeFile(join(f.work, 'payload'), 'cp-in\n'));

  for (const round of [0, 1, 2, 3, 4, 5, 6, 7]) {
    test(`round ${round}: checkpoint, stop, cp in and rm -f race on one container; every outcome is consistent`, async () => {
      const name = `race${round}`;
      const id = (
        await docker('run', '-d', '--network', 'none', '--name', name, IMG, 'sh', '-c', COUNTER)
      ).trim();
      await new Promise((r) => setTimeout(r, 500));
      const tarBody = (await execFileP('tar', ['-C', f.work, '-c', 'payload'], { encoding: 'buffer' }))
        .stdout;
      // the order the requests are sent in turns with the round
      const ops: [string, () => Promise<{ status: number; body: string }>][] = [
        ['checkpoint', () => api('POST', `/containers/${name}/checkpoint?name=c${round}`)],
        ['stop', () => api('POST', `/containers/${name}/stop?t=1`)],
        [
          'cp',
          () =>
            f.api('PUT', `/containers/${name}/archive?path=/tmp`, tarBody, {
              'content-type': 'application/x-tar',
            }),
        ],
        ['rm', () => api('DELETE', `/containers/${name}?force=1`)],
      ];
      const rotated = [...ops.slice(round % 4), ...ops.slice(0, round % 4)];
      const order = round < 4 ? rotated : rotated.reverse();
      const results = await Promise.all(order.map(async ([op, f]) => [op, await f()] as const));
      for (const [op, r] of results) {
        assert.ok(r.status < 500, `${op} answered ${r.status}: ${r.body}`);
        // what each may answer, whichever ran first
        const allowed: Record<string, number[]> = {
          checkpoint: [201, 404, 409],
          stop: [204, 304, 404],
          cp: [200, 404, 409],
          rm: [204, 404],
        };
        assert.ok(allowed[op]?.includes(r.status), `${op}: unexpected ${r.status} ${r.body}`);
      }
      const rmResult = results.find(([op]) => op === 'rm')?.[1];
      assert.equal(rmResult?.status, 204, 'rm -f of an existing container succeeds whatever else ran');
      // afterwards: gone everywhere, nothing left behind
      assert.equal((await api('GET', `/containers/${name}/json`)).status, 404);
      assert.ok(!(await ctr('containers', 'ls', '-q')).split('\n').includes(id), 'containerd container left');
      assert.ok(!(await ctr('tasks', 'ls', '-q')).split('\n').includes(id), 'containerd task left');
      assert.ok(!(await ctr('snapshots', 'ls')).includes(id), 'snapshot left');
      assert.equal(await ctr('leases', 'ls', '-q'), '', 'lease left');
      const mounts = await execFileP('grep', ['-c', id, '/proc/self/mountinfo']).catch(() => ({
        stdout: '0',
      }));
      assert.equal(mounts.stdout.trim(), '0', 'a mount of the container is left');
    });
  }

  test('checkpoint and stop sent together: the container ends exited, with the checkpoint usable or absent', async () => {
    const name = 'pair';
    await docker('run', '-d', '--network', 'none', '--name', name, IMG, 'sh', '-c', COUNTER);
    await new Promise((r) => setTimeout(r, 500));
    const [ck, st] = await Promise.all([
      api('POST', `/containers/${name}/checkpoint?name=p1`),
      api('POST', `/containers/${name}/stop?t=1`),
    ]);
    assert.ok([201, 409].includes(ck.status), `checkpoint: ${ck.status} ${ck.body}`);
    assert.ok([204, 304].includes(st.status), `stop: ${st.status} ${st.body}`);
    const state = JSON.parse((await api('GET', `/containers/${name}/json`)).body) as {
      State: { Status: string; Running: boolean };
    };
    assert.equal(state.State.Status, 'exited');
    assert.equal(await ctr('tasks', 'ls', '-q'), '', 'containerd still has a task for an exited container');
    const list = JSON.parse((await api('GET', `/containers/${name}/checkpoints`)).body) as { Name: string }[];
    if (ck.status === 201) {
      assert.deepEqual(
        list.map((c) => c.Name),
        ['p1'],
      );
      const r = await api('POST', `/containers/${name}/restore?checkpoint=p1`);
      assert.equal(r.status, 201, r.body);
      assert.equal(JSON.parse((await api('GET', `/containers/${name}/json`)).body).State.Status, 'running');
    } else assert.deepEqual(list, []);
    assert.equal((await api('DELETE', `/containers/${name}?force=1`)).status, 204);
  });
});
