import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { request } from 'node:http';
import { ContainerdClient } from '../../src/containerd/index.js';
import { ckptdFixture, until } from '../helpers/fixture.js';

const execFileP = promisify(execFile);

describe('ckptd with a managed containerd (the default)', () => {
  // --containerd absent and nothing at /run/containerd/containerd.sock on test machines:
  // ckptd must start its own containerd under the data root
  const f = ckptdFixture({ ns: 'ckptd-it', containerd: 'managed', images: [], dockerTimeout: 30_000 });
  const { docker } = f;

  test('the unix socket is 0660 and not world-accessible', async () => {
    const st = await stat(f.socket);
    assert.equal(st.mode & 0o777, 0o660);
  });

  test('docker version shows the Server section with ckptd’s version and API 1.47', async () => {
    const server = JSON.parse(await docker('version', '--format', '{{json .Server}}')) as {
      Version: string;
      ApiVersion: string;
      Components: { Name: string; Version: string }[];
    };
    const pkg = JSON.parse(await readFile(join(import.meta.dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(server.Version, pkg.version);
    assert.equal(server.ApiVersion, '1.47');
    const names = server.Components.map((c) => c.Name);
    for (const n of ['Engine', 'containerd', 'runc', 'criu'])
      assert.ok(names.includes(n), `${n} in ${names.join(',')}`);
    assert.match(server.Components.find((c) => c.Name === 'containerd')?.Version ?? '', /^1\.6\./);
    assert.match(server.Components.find((c) => c.Name === 'criu')?.Version ?? '', /^[4-9]\./);
  });

  test('docker info prints real figures', async () => {
    const info = JSON.parse(await docker('info', '--format', '{{json .}}')) as Record<string, unknown>;
    assert.equal(info.Driver, 'overlayfs');
    assert.equal(info.DockerRootDir, f.dataRoot);
    assert.equal(info.NCPU, (await import('node:os')).availableParallelism());
    assert.equal(info.MemTotal, (await import('node:os')).totalmem());
    assert.equal(info.KernelVersion, (await import('node:os')).release());
    assert.equal(info.Containers, 0);
    assert.equal(info.Images, 0);
    assert.ok(info.CgroupVersion === '1' || info.CgroupVersion === '2');
  });

  test('python3-docker reads /version', async () => {
    const { stdout } = await execFileP('python3', [
      '-c',
      `import docker, json; print(json.dumps(docker.DockerClient(base_url="unix://${f.socket}").version()))`,
    ]);
    const v = JSON.parse(stdout) as { ApiVersion: string; Components: unknown[] };
    assert.equal(v.ApiVersion, '1.47');
  });

  test('a managed containerd that dies is restarted, and ckptd serves again without a restart', async () => {
    const pid = Number(
      (await execFileP('pgrep', ['-f', `${f.dataRoot}/containerd/config.toml`])).stdout.trim().split('\n')[0],
    );
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    await until('containerd back', async () => (await f.request('GET', '/version')).status === 200);
  });

  test('SIGTERM ends open event streams, exits 0 at once and stops the managed containerd', async () => {
    const cfg = `${f.dataRoot}/containerd/config.toml`;
    // a long stream is open: shutdown must end it rather than wait out --shutdown-timeout (15 s)
    const streamEnded = new Promise<void>((resolve, reject) => {
      const req = request({ socketPath: f.socket, path: '/events' }, (res) => {
        res.resume();
        res.on('end', () => resolve());
        res.on('error', () => resolve());
        res.on('close', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    assert.equal(await f.d.stop(), 0);
    await streamEnded;
    assert.ok(Date.now() - t0 < 10_000, `shutdown took ${Date.now() - t0} ms`);
    await until('managed containerd gone', async () => {
      try {
        await execFileP('pgrep', ['-f', cfg]);
        return false;
      } catch {
        return true;
      }
    });
  });
});

describe('ckptd --containerd PATH (an external containerd)', () => {
  const f = ckptdFixture({ ns: 'ckptd-ext', images: [] });

  test('uses the given containerd instead of starting one', async () => {
    const r = await f.request('GET', '/info');
    assert.equal(r.status, 200);
    const info = JSON.parse(r.body) as { DriverStatus: [string, string][] };
    assert.deepEqual(
      info.DriverStatus.find(([k]) => k === 'containerd socket'),
      ['containerd socket', f.ctd.address],
    );
    await assert.rejects(stat(join(f.dataRoot, 'containerd', 'containerd.sock')));
  });

  test('/events streams containerd’s events translated to Docker’s, and replays them with since/until', async () => {
    const t0 = Math.floor(Date.now() / 1000) - 1;
    const lines: string[] = [];
    let headersAt = 0;
    const filters = encodeURIComponent(JSON.stringify({ type: { image: true } }));
    const req = request({ socketPath: f.socket, path: `/v1.47/events?filters=${filters}` });
    const gotLine = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        headersAt = Date.now();
        assert.equal(res.statusCode, 200);
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (c: string) => {
          buf += c;
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            lines.push(buf.slice(0, i));
            buf = buf.slice(i + 1);
            resolve();
          }
        });
      });
      req.on('error', reject);
    });
    req.end();
    await until('events headers', async () => headersAt > 0);
    // another containerd client (ctr-like) creates an image record in ckptd's namespace
    const c = new ContainerdClient({ address: f.ctd.address, namespace: 'ckptd-ext' });
    const digest = `sha256:${'1'.repeat(64)}`;
    try {
      await c.images.create({
        name: 'docker.io/library/evtest:1',
        target: { media_type: 'application/vnd.oci.image.manifest.v1+json', digest, size: 10 },
      });
      await gotLine;
    } finally {
      req.destroy();
      await c.images.delete('docker.io/library/evtest:1').catch(() => undefined);
      c.close();
    }
    const ev = JSON.parse(lines[0] ?? '{}') as {
      Type: string;
      Action: string;
      Actor: { ID: string };
      time: number;
    };
    assert.equal(ev.Type, 'image');
    assert.equal(ev.Action, 'tag');
    assert.equal(ev.Actor.ID, 'docker.io/library/evtest:1');
    // the same event comes back from the daemon's history, and the stream ends at `until`
    const now = Math.ceil(Date.now() / 1000) + 1;
    const past = await f.request('GET', `/events?since=${t0}&until=${now}&filters=${filters}`);
    assert.equal(past.status, 200);
    const actions = past.body
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { Action: string }).Action);
    assert.deepEqual(actions.slice(0, 2), ['tag', 'untag']);
  });

  test('with containerd killed, /_ping answers and containerd routes are 503; after a restart ckptd serves again', async () => {
    await f.ctd.kill();
    const ping = await f.request('GET', '/_ping');
    assert.equal(ping.status, 200);
    assert.equal(ping.body, 'OK');
    const t0 = Date.now();
    const v = await f.request('GET', '/version');
    assert.equal(v.status, 503);
    assert.match((JSON.parse(v.body) as { message: string }).message, /containerd/);
    assert.ok(Date.now() - t0 < 10_000, 'a 503 comes quickly, not after a long hang');
    assert.equal((await f.request('GET', '/info')).status, 503);
    await f.ctd.restart();
    await until('containerd back', async () => (await f.request('GET', '/version')).status === 200);
    assert.equal((await f.request('GET', '/info')).status, 200);
  });
});
