// Health checks against the real daemon, a real containerd, runc and CRIU, driven by the docker
// CLI and raw HTTP: `--health-*` and the image's HEALTHCHECK run as execs in the container with
// dockerd's timing; what `docker inspect` (State.Health), `docker ps` (Status, the health
// filter) and `docker events` show; the health a checkpoint/restore and a ckptd restart keep.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ckptdFixture, IMG, sleep } from '../helpers/fixture.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-hc';
const S = 1_000_000_000;

interface HealthLog {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}
interface Health {
  Status: string;
  FailingStreak: number;
  Log: HealthLog[];
}
interface Inspect {
  Id: string;
  State: { Status: string; Running: boolean; StartedAt: string; Health?: Health };
  Config: { Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number } };
}

describe('health checks through ckptd', () => {
  const f = ckptdFixture({ ns: NS, untilTimeout: 45_000, untilInterval: 200 });
  const { docker, api, until } = f;
  const inspect = (ref: string) => f.inspect<Inspect>(ref);
  const health = async (ref: string): Promise<Health | undefined> => (await inspect(ref)).State.Health;
  const status = async (ref: string): Promise<string> => (await health(ref))?.Status ?? 'none';
  const events = async (since: number, id: string): Promise<string[]> =>
    (
      await docker(
        'events',
        '--since',
        String(since),
        '--until',
        String(Math.ceil(Date.now() / 1000)),
        '--filter',
        `container=${id}`,
        '--format',
        '{{.Action}}',
      )
    )
      .trim()
      .split('\n');

  test('docker run --health-cmd: starting, then healthy once the check passes; inspect --format, ps, events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = (
      await docker(
        'run',
        '-d',
        '--name',
        'hok',
        '--health-cmd',
        'echo checked; test -f /tmp/ready',
        '--health-interval',
        '1s',
        '--health-retries',
        '50',
        IMG,
        'sleep',
        '1000',
      )
    ).trim();
    assert.equal((await docker('inspect', '--format', '{{.State.Health.Status}}', 'hok')).trim(), 'starting');
    assert.match(
      await docker('ps', '--filter', 'name=hok', '--format', '{{.Status}}'),
      /^Up .* \(health: starting\)$/m,
    );
    // the probe runs in the container: a file made inside makes it pass
    await until('a failed probe in the log', async () => ((await health('hok'))?.Log.length ?? 0) >= 1);
    const h0 = await health('hok');
    assert.equal(h0?.Status, 'starting');
    assert.equal(h0?.Log[0]?.ExitCode, 1);
    assert.equal(h0?.Log[0]?.Output, 'checked\n');
    await docker('exec', 'hok', 'touch', '/tmp/ready');
    await until(
      'hok healthy',
      async () =>
        (await docker('inspect', '--format', '{{.State.Health.Status}}', 'hok')).trim() === 'healthy',
    );
    const h = await health('hok');
    assert.equal(h?.FailingStreak, 0);
    assert.equal(h?.Log.at(-1)?.ExitCode, 0);
    assert.ok(Date.parse(h?.Log.at(-1)?.End ?? '') >= Date.parse(h?.Log.at(-1)?.Start ?? ''));
    assert.match(
      await docker('ps', '--filter', 'name=hok', '--format', '{{.Status}}'),
      /^Up .* \(healthy\)$/m,
    );
    const actions = await events(since, id);
    assert.deepEqual(
      actions.filter((a) => a.startsWith('health_status')),
      ['health_status: healthy'],
    );
    // the probes are execs, with dockerd's events
    assert.ok(
      actions.includes('exec_create: /bin/sh -c echo checked; test -f /tmp/ready'),
      actions.join('\n'),
    );
    assert.ok(actions.includes('exec_start: /bin/sh -c echo checked; test -f /tmp/ready'));
    assert.ok(actions.includes('exec_die'));
    // a stop ends the monitor: the status is unhealthy, as dockerd shows it, and no probe runs
    await docker('stop', '-t', '1', 'hok');
    assert.equal(await status('hok'), 'unhealthy');
    const n = (await health('hok'))?.Log.length;
    await sleep(2500);
    assert.equal((await health('hok'))?.Log.length, n);
    await docker('rm', 'hok');
  });

  test('failing checks: unhealthy after --health-retries failures in a row; health_status: unhealthy', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = (
      await docker(
        'run',
        '-d',
        '--name',
        'hbad',
        '--health-cmd',
        'echo sick >&2; exit 3',
        '--health-interval',
        '1s',
        '--health-retries',
        '2',
        IMG,
        'sleep',
        '1000',
      )
    ).trim();
    await until('hbad unhealthy', async () => (await status('hbad')) === 'unhealthy');
    const h = await health('hbad');
    assert.equal(h?.FailingStreak, 2);
    assert.deepEqual(
      h?.Log.map((e) => [e.ExitCode, e.Output]),
      [
        [3, 'sick\n'],
        [3, 'sick\n'],
      ],
    );
    assert.ok((await events(since, id)).includes('health_status: unhealthy'));
    assert.match(
      await docker('ps', '--filter', 'name=hbad', '--format', '{{.Status}}'),
      /^Up .* \(unhealthy\)$/m,
    );
    await until('five log entries at most', async () => ((await health('hbad'))?.FailingStreak ?? 0) >= 6);
    assert.equal((await health('hbad'))?.Log.length, 5);
  });

  test('the health filter of docker ps: starting/healthy/unhealthy/none; other values are a 400', async () => {
    await docker('run', '-d', '--name', 'hplain', IMG, 'sleep', '1000');
    await docker(
      'run',
      '-d',
      '--name',
      'hgood',
      '--health-cmd',
      'true',
      '--health-interval',
      '1s',
      IMG,
      'sleep',
      '1000',
    );
    await until('hgood healthy', async () => (await status('hgood')) === 'healthy');
    await until('hbad unhealthy', async () => (await status('hbad')) === 'unhealthy');
    const names = async (v: string) =>
      (await docker('ps', '--filter', `health=${v}`, '--format', '{{.Names}}'))
        .trim()
        .split('\n')
        .filter(Boolean)
        .sort();
    assert.deepEqual(await names('healthy'), ['hgood']);
    assert.deepEqual(await names('unhealthy'), ['hbad']);
    assert.ok((await names('none')).includes('hplain'));
    assert.ok(!(await names('none')).includes('hgood'));
    const r = await api('GET', `/containers/json?filters=${encodeURIComponent('{"health":["bogus"]}')}`);
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body).message, 'Unrecognised filter value for health: bogus');
    await docker('rm', '-f', 'hplain', 'hgood', 'hbad');
  });

  test('a probe past --health-timeout is killed and counts as a failure: exit -1, "Health check exceeded timeout"', async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'hslow',
      '--health-cmd',
      'echo begun; sleep 20',
      '--health-interval',
      '1s',
      '--health-timeout',
      '500ms',
      '--health-retries',
      '1',
      IMG,
      'sleep',
      '1000',
    );
    await until('hslow unhealthy', async () => (await status('hslow')) === 'unhealthy');
    const e = (await health('hslow'))?.Log[0];
    assert.equal(e?.ExitCode, -1);
    assert.equal(e?.Output, 'Health check exceeded timeout (500ms): begun\n');
    // killed probes are gone from the container: at most the one running now is there
    await sleep(3000);
    const ps = await docker('exec', 'hslow', 'ps', '-o', 'args');
    assert.ok(ps.split('\n').filter((l) => l.includes('sleep 20')).length <= 1, ps);
    await docker('rm', '-f', 'hslow');
  });

  test('--health-start-period: failures in it do not count; after it they do', async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'hstart',
      '--health-cmd',
      'exit 1',
      '--health-interval',
      '1s',
      '--health-start-interval',
      '1s',
      '--health-start-period',
      '8s',
      '--health-retries',
      '1',
      IMG,
      'sleep',
      '1000',
    );
    await until('two probes', async () => ((await health('hstart'))?.Log.length ?? 0) >= 2);
    const c = await inspect('hstart');
    const inPeriod = c.State.Health?.Log.filter(
      (e) => Date.parse(e.Start) - Date.parse(c.State.StartedAt) < 8000,
    );
    if (c.State.Health?.Log.length === inPeriod?.length) {
      assert.equal(c.State.Health?.Status, 'starting');
      assert.equal(c.State.Health?.FailingStreak, 0);
    }
    await until(
      'hstart unhealthy after the start period',
      async () => (await status('hstart')) === 'unhealthy',
    );
    const after = await inspect('hstart');
    const first = after.State.Health?.Log.find((e) => e.ExitCode !== 0);
    assert.ok(first);
    await docker('rm', '-f', 'hstart');
  });

  test("the image's HEALTHCHECK (from docker commit --change) runs; --no-healthcheck and --health-* override it", async () => {
    await docker('run', '-d', '--name', 'hbase', IMG, 'sleep', '1000');
    await docker(
      'commit',
      '--change',
      'HEALTHCHECK --interval=1s --timeout=3s --retries=2 CMD test -e /etc/passwd || exit 1',
      'hbase',
      'ckptd-test/hc:1',
    );
    await docker('rm', '-f', 'hbase');
    const img = JSON.parse(await docker('image', 'inspect', 'ckptd-test/hc:1')).at(0) as {
      Config: { Healthcheck?: Record<string, unknown> };
    };
    assert.deepEqual(img.Config.Healthcheck, {
      Test: ['CMD-SHELL', 'test -e /etc/passwd || exit 1'],
      Interval: S,
      Timeout: 3 * S,
      Retries: 2,
    });
    await docker('run', '-d', '--name', 'himg', 'ckptd-test/hc:1', 'sleep', '1000');
    await until('himg healthy', async () => (await status('himg')) === 'healthy');
    assert.deepEqual((await inspect('himg')).Config.Healthcheck?.Test, [
      'CMD-SHELL',
      'test -e /etc/passwd || exit 1',
    ]);

    // a commit of that container keeps the healthcheck in the new image
    await docker('commit', 'himg', 'ckptd-test/hc:2');
    const img2 = JSON.parse(await docker('image', 'inspect', 'ckptd-test/hc:2')).at(0) as typeof img;
    assert.deepEqual(img2.Config.Healthcheck, img.Config.Healthcheck);

    // --no-healthcheck: Test NONE, no probe, no State.Health
    await docker('run', '-d', '--name', 'hnone', '--no-healthcheck', 'ckptd-test/hc:1', 'sleep', '1000');
    assert.deepEqual((await inspect('hnone')).Config.Healthcheck?.Test, ['NONE']);
    await sleep(2500);
    assert.equal((await inspect('hnone')).State.Health, undefined);
    assert.doesNotMatch(await docker('ps', '--filter', 'name=hnone', '--format', '{{.Status}}'), /health/);

    // a field of the request overrides the image's, the others are the image's (moby merge)
    await docker(
      'run',
      '-d',
      '--name',
      'hover',
      '--health-cmd',
      'exit 1',
      'ckptd-test/hc:1',
      'sleep',
      '1000',
    );
    const hc = (await inspect('hover')).Config.Healthcheck;
    assert.deepEqual(hc?.Test, ['CMD-SHELL', 'exit 1']);
    assert.equal(hc?.Interval, S);
    assert.equal(hc?.Retries, 2);
    await until('hover unhealthy', async () => (await status('hover')) === 'unhealthy');
    await docker('rm', '-f', 'himg', 'hnone', 'hover');
    await docker('rmi', 'ckptd-test/hc:1', 'ckptd-test/hc:2');
  });

  test("invalid healthchecks are refused with dockerd's words", async () => {
    const create = (hc: unknown) =>
      api('POST', '/containers/create', { Image: IMG, Cmd: ['true'], Healthcheck: hc });
    const cases: [unknown, string][] = [
      [{ Test: ['CMD', 'true'], Interval: 10 }, 'Interval in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], Timeout: -S }, 'Timeout in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], StartPeriod: 1 }, 'StartPeriod in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], Retries: -1 }, 'Retries in Healthcheck cannot be negative'],
      [
        { Test: ['WHAT', 'x'] },
        'Healthcheck.Test: unknown healthcheck type "WHAT" (expected CMD, CMD-SHELL or NONE)',
      ],
    ];
    for (const [hc, message] of cases) {
      const r = await create(hc);
      assert.equal(r.status, 400, r.body);
      assert.equal(JSON.parse(r.body).message, message);
    }
  });

  test('pause stops the probes (unhealthy, as dockerd); unpause runs them again', async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'hpause',
      '--health-cmd',
      'true',
      '--health-interval',
      '1s',
      IMG,
      'sleep',
      '1000',
    );
    await until('hpause healthy', async () => (await status('hpause')) === 'healthy');
    await docker('pause', 'hpause');
    assert.equal(await status('hpause'), 'unhealthy');
    const n = (await health('hpause'))?.Log.length;
    await sleep(2500);
    assert.equal((await health('hpause'))?.Log.length, n);
    assert.match(await docker('ps', '--filter', 'name=hpause', '--format', '{{.Status}}'), /\(Paused\)$/m);
    await docker('unpause', 'hpause');
    await until('hpause healthy again', async () => (await status('hpause')) === 'healthy');
    await docker('rm', '-f', 'hpause');
  });

  test('health survives a checkpoint and restore: the restored container continues from the recorded health', async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'hck',
      '--health-cmd',
      'test -f /tmp/ok',
      '--health-interval',
      '1s',
      '--health-retries',
      '1',
      IMG,
      'sh',
      '-c',
      'touch /tmp/ok; sleep 1000',
    );
    await until('hck healthy with two results', async () => {
      const h = await health('hck');
      return h?.Status === 'healthy' && h.Log.length >= 2;
    });
    await docker('checkpoint', 'create', 'hck', 'cp1');
    const stopped = await inspect('hck');
    assert.equal(stopped.State.Status, 'exited');
    const recorded = stopped.State.Health?.Log.length ?? 0;
    await docker('start', '--checkpoint', 'cp1', 'hck');
    const restored = await health('hck');
    assert.equal(restored?.Status, 'healthy'); // not "starting": the recorded status goes on
    assert.ok((restored?.Log.length ?? 0) >= Math.min(recorded, 2));
    const lastEnd = restored?.Log.at(-1)?.End ?? '';
    // the monitor runs again, in the restored process tree
    await until('a probe after the restore', async () => {
      const h = await health('hck');
      return Date.parse(h?.Log.at(-1)?.End ?? '') > Date.parse(lastEnd) && h?.Log.at(-1)?.ExitCode === 0;
    });
    assert.equal(await status('hck'), 'healthy');
    await docker('checkpoint', 'rm', 'hck', 'cp1');

    // an exported checkpoint imported as a new container carries the healthcheck and its health
    const tar = join(f.work, 'hck.tar');
    const curl = (...args: string[]) =>
      execFileP('curl', ['-sS', '--fail-with-body', '--unix-socket', f.socket, ...args], {
        timeout: 120_000,
      });
    await curl('-X', 'POST', '-o', tar, 'http://x/v1.47/containers/hck/checkpoint?export=1');
    await curl(
      '-X',
      'POST',
      '-H',
      'Content-Type: application/x-tar',
      '--data-binary',
      `@${tar}`,
      'http://x/v1.47/containers/x/restore?import=1&name=hck2',
    );
    const copy = await inspect('hck2');
    assert.deepEqual(copy.Config.Healthcheck?.Test, ['CMD-SHELL', 'test -f /tmp/ok']);
    assert.equal(copy.State.Health?.Status, 'healthy');
    const copiedEnd = copy.State.Health?.Log.at(-1)?.End ?? '';
    await until('a probe in the imported container', async () => {
      const h = await health('hck2');
      return Date.parse(h?.Log.at(-1)?.End ?? '') > Date.parse(copiedEnd) && h?.Status === 'healthy';
    });
    await docker('rm', '-f', 'hck', 'hck2');
  });

  test('health survives a ckptd restart: the status is kept and the monitor resumes', async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'hrs',
      '--health-cmd',
      'true',
      '--health-interval',
      '1s',
      IMG,
      'sleep',
      '1000',
    );
    await until('hrs healthy', async () => (await status('hrs')) === 'healthy');
    await f.restart({ signal: 'SIGTERM' });
    const h = await health('hrs');
    assert.equal(h?.Status, 'healthy');
    const lastEnd = h?.Log.at(-1)?.End ?? '';
    await until('a probe after the restart', async () => {
      const now = await health('hrs');
      return Date.parse(now?.Log.at(-1)?.End ?? '') > Date.parse(lastEnd);
    });
    await docker('rm', '-f', 'hrs');
  });
});
