/**
 * The real clients against buildServer + FakeSystem on a temp unix socket: the docker CLI must
 * negotiate API 1.47 through HEAD /_ping and decode /version and /info; docker-py must
 * auto-detect the version and decode them too.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { listen, type Listener } from '../../../src/http/listen.js';
import { FAKE_VERSION } from './fake-system.js';
import { makeApp, requestLines, tempDir, type TestApp } from './helpers.js';

const run = promisify(execFile);
const DOCKER = '/usr/local/bin/docker';
const haveDocker = existsSync(DOCKER);
if (!haveDocker) console.log(`# skipping docker CLI compatibility: ${DOCKER} is absent`);

async function hasDockerPy(): Promise<boolean> {
  try {
    await run('python3', ['-c', 'import docker']);
    return true;
  } catch {
    return false;
  }
}

describe('real clients against a fake backend', { skip: haveDocker ? false : `${DOCKER} is absent` }, () => {
  let t: TestApp;
  let listener: Listener;
  let sock: string;
  let cleanup: () => Promise<void>;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    sock = join(tmp.dir, 'docker.sock');
    t = await makeApp();
    listener = await listen(t.app, [{ kind: 'unix', path: sock }], {
      logger: pino({ level: 'silent' }),
      group: '0',
    });
    // A private config dir: no user contexts, plugins or credential helpers get in the way.
    env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(tmp.dir, 'docker-config') };
    delete env.DOCKER_CONTEXT;
    delete env.DOCKER_API_VERSION;
  });
  after(async () => {
    listener.closeAllConnections();
    await listener.close();
    await t.app.close();
    await cleanup();
  });

  it('docker version negotiates 1.47 and shows the Server section', async () => {
    const { stdout } = await run(DOCKER, ['version', '--format', '{{json .}}'], { env });
    const v = JSON.parse(stdout) as { Client: { ApiVersion: string }; Server: typeof FAKE_VERSION | null };
    assert.equal(v.Client.ApiVersion, '1.47', 'negotiated down from the client max');
    assert.ok(v.Server, 'the Server section is present');
    assert.equal(v.Server.Version, FAKE_VERSION.Version);
    assert.equal(v.Server.ApiVersion, '1.47');
    assert.equal(v.Server.MinAPIVersion, '1.24');
    assert.deepEqual(
      v.Server.Components.map((c) => c.Name),
      ['Engine', 'containerd', 'runc'],
    );
    const urls = requestLines(t.logs).map((l) => `${String(l.method)} ${String(l.url)}`);
    assert.ok(urls.includes('HEAD /_ping'), `pinged with HEAD: ${urls.join(', ')}`);
    assert.ok(urls.includes('GET /v1.47/version'), `versioned request: ${urls.join(', ')}`);
  });

  it("docker version --format '{{json .Server}}' prints the server", async () => {
    const { stdout, stderr } = await run(DOCKER, ['version', '--format', '{{json .Server}}'], { env });
    assert.equal(stderr, '');
    assert.equal(JSON.parse(stdout).Platform.Name, 'ckptd');
  });

  it('docker info decodes /info without client errors', async () => {
    const { stdout, stderr } = await run(DOCKER, ['info', '--format', '{{json .}}'], { env });
    const info = JSON.parse(stdout) as {
      ServerVersion: string;
      ServerErrors?: string[];
      ClientInfo?: unknown;
    };
    assert.equal(info.ServerVersion, FAKE_VERSION.Version);
    assert.equal(info.ServerErrors ?? null, null, `server errors: ${JSON.stringify(info.ServerErrors)}`);
    assert.doesNotMatch(stderr, /error/i);
    const pretty = await run(DOCKER, ['info'], { env });
    assert.match(pretty.stdout, /Server Version: 0\.1\.0-test/);
    assert.match(pretty.stdout, /Experimental: true/);
  });

  it('docker-py auto-detects the API version and decodes /version and /info', async (ctx) => {
    if (!(await hasDockerPy())) {
      ctx.skip('python3 docker module is absent');
      return;
    }
    const script = [
      'import json, docker',
      `c = docker.DockerClient(base_url=${JSON.stringify(`unix://${sock}`)})`,
      'print(json.dumps({"api": c.api.api_version, "ping": c.ping(), "version": c.version(), "info": c.info()["ServerVersion"]}))',
    ].join('\n');
    const { stdout } = await run('python3', ['-c', script]);
    const out = JSON.parse(stdout) as {
      api: string;
      ping: boolean;
      version: typeof FAKE_VERSION;
      info: string;
    };
    assert.equal(out.api, '1.47');
    assert.equal(out.ping, true);
    assert.deepEqual(out.version, FAKE_VERSION);
    assert.equal(out.info, FAKE_VERSION.Version);
  });
});
