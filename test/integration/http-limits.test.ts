// HTTP limits of the real daemon (issue 11): abusive clients holding request bodies are cut
// by the read timeout and the daemon's memory comes back; bodyless routes refuse bodies;
// connections beyond --max-connections are refused; the docker CLI and docker-py (and
// docker-modem's JSON-echo bodies) still work.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ckptdFixture, IMG, sleep } from '../helpers/fixture.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-limits';
const READ_TIMEOUT_S = 2;
const MAX_CONNECTIONS = 150;

/** rssKiB is a process's resident set (VmRSS) in KiB. */
async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  assert.ok(m, 'VmRSS in /proc/<pid>/status');
  return Number(m[1]);
}

interface RawClient {
  socket: net.Socket;
  received: () => string;
  /** closed resolves with the ms from connect to close. */
  closed: Promise<number>;
}

function rawConnect(path: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path });
    let out = '';
    const start = Date.now();
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - start)));
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => out, closed }));
    socket.once('error', reject);
  });
}

describe('HTTP limits of the daemon', () => {
  const f = ckptdFixture({
    ns: NS,
    args: ['--read-timeout', String(READ_TIMEOUT_S), '--max-connections', String(MAX_CONNECTIONS)],
    dockerTimeout: 60_000,
  });
  const { docker } = f;

  test('100 clients stalling on 1 MB bodies get 408 within the read timeout; RSS comes back', async (t) => {
    const pid = f.d.child.pid as number;
    for (let i = 0; i < 20; i++) await f.api('GET', '/containers/json?all=1');
    await sleep(1000);
    const baseline = await rssKiB(pid);

    const size = 1024 * 1024;
    const sent = size - 16; // all but the last bytes: the daemon holds ~1 MB per client
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const clients: RawClient[] = [];
    for (let i = 0; i < 100; i++) {
      const c = await rawConnect(f.socket);
      c.socket.write(
        'POST /v1.47/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${size}\r\n\r\n{"Image":"`,
      );
      for (let n = 10; n < sent; n += chunk.length)
        c.socket.write(chunk.subarray(0, Math.min(chunk.length, sent - n)));
      clients.push(c);
    }
    const stalledAt = Date.now();
    await sleep(800);
    const peak = await rssKiB(pid);

    await Promise.all(clients.map((c) => c.closed));
    // Writing 100 MB takes the two of us a few seconds; without a read timeout, never.
    const cutMs = Date.now() - stalledAt;
    assert.ok(cutMs < 30_000, `all cut ${cutMs} ms after stalling`);
    let timedOut = 0;
    for (const c of clients) {
      // Under this load a few connections may not get their headers read in time: Node's
      // headers timeout (the same read timeout) closes those with no or a bare 408.
      assert.match(c.received(), /^(|HTTP\/1\.1 408 [^]*)$/);
      if (/request body timed out: no data received for 2s \(read-timeout\)/.test(c.received())) timedOut++;
    }
    assert.ok(timedOut >= 50, `${timedOut} body timeouts`);

    // Memory: the bodies were held while the clients stalled, and are released after.
    let after = await rssKiB(pid);
    for (let i = 0; i < 20 && after > baseline + 40 * 1024; i++) {
      await sleep(500);
      after = await rssKiB(pid);
    }
    const mib = (k: number) => `${Math.round(k / 1024)} MiB`;
    const report = `baseline ${mib(baseline)}, while stalled ${mib(peak)}, after ${mib(after)}`;
    t.diagnostic(report);
    assert.ok(after <= baseline + 40 * 1024, report);
    // The daemon still answers.
    assert.equal((await f.request('GET', '/_ping')).status, 200, report);
  });

  test('a bodyless route refuses a body; {} and the query repeated (docker-modem) pass', async () => {
    await docker('create', '--name', 'bl', IMG, 'sleep', '1000');
    let r = await f.api('POST', '/containers/bl/start', '{"Privileged":true}', {
      'content-type': 'application/json',
    });
    assert.equal(r.status, 400);
    assert.equal(
      JSON.parse(r.body).message,
      'POST /containers/{id}/start takes no request body (body field "Privileged" is not a query parameter); send its options as query parameters',
    );
    assert.equal(JSON.parse(await docker('inspect', 'bl'))[0].State.Running, false);
    r = await f.api('POST', '/containers/bl/start', '{}', {
      'content-type': 'application/json',
    });
    assert.equal(r.status, 204, r.body);
    r = await f.api('POST', '/containers/bl/kill?signal=SIGKILL', '{"signal":"SIGKILL"}', {
      'content-type': 'application/json',
    });
    assert.equal(r.status, 204, r.body);
    await docker('rm', '-f', 'bl');
  });

  test('connections beyond --max-connections are closed at once; the daemon serves again after', async () => {
    const held: RawClient[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i++) held.push(await rawConnect(f.socket));
    await sleep(200);
    const extra = await rawConnect(f.socket);
    const ms = await extra.closed;
    assert.ok(ms < 2000, `refused after ${ms} ms`);
    assert.equal(extra.received(), '');
    assert.match(f.d.logs(), /connection refused: 150 connections open \(max-connections 150\)/);
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
    await sleep(200);
    assert.equal((await f.request('GET', '/_ping')).status, 200);
  });

  test('docker CLI and docker-py still work: run, logs, exec, stop, wait, kill', async () => {
    await docker('run', '-d', '--name', 'cli', IMG, 'sh', '-c', 'echo hello; sleep 1000');
    assert.match(await docker('logs', 'cli'), /hello/);
    assert.equal((await docker('exec', 'cli', 'echo', 'in-exec')).trim(), 'in-exec');
    await docker('stop', '-t', '1', 'cli');
    assert.equal((await docker('wait', 'cli')).trim(), '137');
    await docker('rm', 'cli');
    const { stdout } = await execFileP(
      'python3',
      [
        '-c',
        `
import docker, os
c = docker.DockerClient(base_url=os.environ['CKPTD_SOCK'], version='1.47')
ct = c.containers.create('${IMG}', ['sh', '-c', 'echo py; sleep 1000'])
ct.start()
print(ct.exec_run(['echo', 'py-exec']).output.decode().strip())
ct.pause(); ct.unpause()
ct.restart(timeout=1)
ct.kill()
print(ct.wait()['StatusCode'])
print(ct.logs().decode().split()[0])
ct.remove()
`,
      ],
      { env: { ...process.env, CKPTD_SOCK: `unix://${f.socket}` }, timeout: 60_000 },
    );
    assert.deepEqual(stdout.trim().split('\n'), ['py-exec', '137', 'py']);
  });
});
