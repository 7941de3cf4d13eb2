import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startContainerd } from '../helpers/containerd.js';
import { httpRequest, startCkptd, type CkptdProcess } from '../helpers/ckptd.js';

const execFileP = promisify(execFile);

async function docker(socket: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP('docker', args, {
    env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: '/nonexistent-ckptd-test' },
    timeout: 30_000,
  });
  return stdout;
}

async function until(what: string, fn: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('ckptd with a managed containerd (the default)', () => {
  let d: CkptdProcess;
  before(async () => {
    // --containerd absent and nothing at /run/containerd/containerd.sock on test machines:
    // ckptd must start its own containerd under the data root
    d = await startCkptd(['--containerd-namespace', 'ckptd-it']);
  });
  after(async () => {
    await d?.cleanup();
  });

  test('the unix socket is 0660 and not world-accessible', async () => {
    const st = await stat(d.socket);
    assert.equal(st.mode & 0o777, 0o660);
  });

  test('docker version shows the Server section with ckptd’s version and API 1.47', async () => {
    const server = JSON.parse(await docker(d.socket, 'version', '--format', '{{json .Server}}')) as {
      Version: string;
      ApiVersion: string;
      Components: { Name: string; Version: string }[];
    };
    const pkg = JSON.parse(await readFile(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    assert.equal(server.Version, pkg.version);
    assert.equal(server.ApiVersion, '1.47');
    const names = server.Components.map((c) => c.Name);
    for (const n of ['Engine', 'containerd', 'runc', 'criu']) assert.ok(names.includes(n), `${n} in ${names.join(',')}`);
    assert.match(server.Components.find((c) => c.Name === 'containerd')?.Version ?? '', /^1\.6\./);
    assert.match(server.Components.find((c) => c.Name === 'criu')?.Version ?? '', /^[4-9]\./);
  });

  test('docker info prints real figures', async () => {
    const info = JSON.parse(await docker(d.socket, 'info', '--format', '{{json .}}')) as Record<string, unknown>;
    assert.equal(info.Driver, 'overlayfs');
    assert.equal(info.DockerRootDir, d.dataRoot);
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
      `import docker, json; print(json.dumps(docker.DockerClient(base_url="unix://${d.socket}").version()))`,
    ]);
    const v = JSON.parse(stdout) as { ApiVersion: string; Components: unknown[] };
    assert.equal(v.ApiVersion, '1.47');
  });

  test('a managed containerd that dies is restarted, and ckptd serves again without a restart', async () => {
    const pid = Number((await execFileP('pgrep', ['-f', `${d.dataRoot}/containerd/config.toml`])).stdout.trim().split('\n')[0]);
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    await until('containerd back', async () => (await httpRequest(d.socket, 'GET', '/version')).status === 200);
  });

  test('SIGTERM stops ckptd with exit code 0 and stops the managed containerd', async () => {
    const cfg = `${d.dataRoot}/containerd/config.toml`;
    assert.equal(await d.stop(), 0);
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
  let ctd: Awaited<ReturnType<typeof startContainerd>>;
  let d: CkptdProcess;
  before(async () => {
    ctd = await startContainerd();
    d = await startCkptd(['--containerd', ctd.address, '--containerd-namespace', 'ckptd-ext']);
  });
  after(async () => {
    await d?.cleanup();
    await ctd?.stop();
  });

  test('uses the given containerd instead of starting one', async () => {
    const r = await httpRequest(d.socket, 'GET', '/info');
    assert.equal(r.status, 200);
    const info = JSON.parse(r.body) as { DriverStatus: [string, string][] };
    assert.deepEqual(
      info.DriverStatus.find(([k]) => k === 'containerd socket'),
      ['containerd socket', ctd.address],
    );
    await assert.rejects(stat(join(d.dataRoot, 'containerd', 'containerd.sock')));
  });

  test('with containerd killed, /_ping answers and containerd routes are 503; after a restart ckptd serves again', async () => {
    await ctd.kill();
    const ping = await httpRequest(d.socket, 'GET', '/_ping');
    assert.equal(ping.status, 200);
    assert.equal(ping.body, 'OK');
    const t0 = Date.now();
    const v = await httpRequest(d.socket, 'GET', '/version');
    assert.equal(v.status, 503);
    assert.match((JSON.parse(v.body) as { message: string }).message, /containerd/);
    assert.ok(Date.now() - t0 < 10_000, 'a 503 comes quickly, not after a long hang');
    assert.equal((await httpRequest(d.socket, 'GET', '/info')).status, 503);
    await ctd.restart();
    await until('containerd back', async () => (await httpRequest(d.socket, 'GET', '/version')).status === 200);
    assert.equal((await httpRequest(d.socket, 'GET', '/info')).status, 200);
  });
});
