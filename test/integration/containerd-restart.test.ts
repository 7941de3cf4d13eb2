// containerd restarting under ckptd in the middle of an operation — a managed containerd (ckptd's
// own, under the data root: SIGKILLed, its supervisor restarts it) and an external one (started
// by the test, SIGKILLed and started again): the request fails with a clear 5xx `{"message"}`
// (or, for a stream already under way, an error in the stream or a cut body) instead of hanging,
// ckptd reconnects by itself, the reconnect recovery leaves nothing half made (the shared audit),
// a `GET /events` stream opened before the restart sees events after it, and a container that
// ran before the restart is listed running, and stops, as before.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { audit, takeBaseline, type AuditTarget } from '../helpers/audit.js';
import { httpRequest, startCkptd, type CkptdProcess } from '../helpers/ckptd.js';
import { startContainerd, type RunningContainerd } from '../helpers/containerd.js';
import {
  sleep,
  slowRequest,
  startRegistry,
  startThrottleProxy,
  waitFor,
  type Registry,
  type SlowRequest,
  type ThrottleProxy,
} from '../helpers/faults.js';
import { buildTestImage } from '../helpers/images.js';

const execFileP = promisify(execFile);
const IMG = 'ckptd-test/busybox:latest';
const BIG = 'ckptd-test/big:latest';
const MiB = 1 << 20;

for (const mode of ['external', 'managed'] as const) {
  describe(`containerd restarting under ckptd (${mode})`, () => {
    const NS = `ckptd-ctd-restart-${mode}`;
    let ctd: RunningContainerd | undefined;
    let d: CkptdProcess;
    let work: string;
    let dataRoot: string;
    let target: AuditTarget;
    let bigArchive: string;
    let registry: Registry;
    let proxy: ThrottleProxy;
    let events: { lines: string[]; close(): void };

    const docker = async (...args: string[]) =>
      (
        await execFileP('docker', args, {
          env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, DOCKER_CONFIG: join(work, 'dc') },
          timeout: 180_000,
          maxBuffer: 64 * MiB,
        })
      ).stdout.trim();
    const address = () => (ctd ? ctd.address : join(dataRoot, 'containerd', 'containerd.sock'));
    /** restartContainerd SIGKILLs containerd and has it back (the test, or ckptd's supervisor). */
    const restartContainerd = async () => {
      if (ctd) {
        await ctd.kill();
        await sleep(1000);
        await ctd.restart();
        return;
      }
      const pidFile = join(dataRoot, 'containerd', 'containerd.pid');
      const pid = Number((await readFile(pidFile, 'utf8')).trim());
      process.kill(pid, 'SIGKILL');
      assert.ok(
        await waitFor(async () => {
          const now = Number((await readFile(pidFile, 'utf8').catch(() => '0')).trim());
          return now !== pid && now > 0;
        }, 60_000),
        'the supervisor did not restart containerd',
      );
    };
    const openEvents = () => {
      const lines: string[] = [];
      const req = request({ socketPath: d.socket, path: '/v1.47/events' }, (res) => {
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          const parts = buf.split('\n');
          buf = parts.pop() ?? '';
          lines.push(...parts.filter(Boolean));
        });
      });
      req.on('error', () => undefined);
      req.end();
      return { lines, close: () => req.destroy() };
    };

    before(async () => {
      work = await mkdtemp(join(tmpdir(), `ckptd-ctd-restart-${mode}-`));
      dataRoot = join(work, 'data');
      if (mode === 'external') ctd = await startContainerd();
      d = await startCkptd([...(ctd ? ['--containerd', ctd.address] : []), '--containerd-namespace', NS], {
        dataRoot,
      });
      target = {
        address: address(),
        namespace: NS,
        dataRoot,
        containerdDir: ctd ? ctd.dir : join(dataRoot, 'containerd'),
      };
      const img = join(work, 'img.tar');
      await buildTestImage(img, { name: IMG });
      await docker('load', '-i', img);
      bigArchive = join(work, 'big.tar');
      await buildTestImage(bigArchive, {
        name: BIG,
        extraLayers: [[{ path: 'big.bin', content: randomBytes(48 * MiB) }]],
      });
      registry = await startRegistry(join(work, 'registry'));
      await docker('load', '-i', bigArchive);
      await docker('tag', BIG, `${registry.host}/restart/big:1`);
      await docker('push', `${registry.host}/restart/big:1`);
      await docker('rmi', `${registry.host}/restart/big:1`, BIG);
      proxy = await startThrottleProxy(registry.host, 8 * MiB);
      // a container running across every restart, and one the operations work on
      await docker('run', '-d', '--network', 'none', '--name', 'keeper', IMG, 'sleep', '100000');
      await docker(
        'run',
        '-d',
        '--network',
        'none',
        '--name',
        'busy',
        IMG,
        'sh',
        '-c',
        'head -c 48m /dev/urandom > /big; mkdir /in; touch /ready; sleep 100000',
      );
      assert.ok(
        await waitFor(
          () =>
            docker('exec', 'busy', 'test', '-e', '/ready').then(
              () => true,
              () => false,
            ),
          120_000,
        ),
      );
      events = openEvents();
    });

    after(async () => {
      if (process.env.CKPTD_TEST_LOGS) console.log(d?.logs());
      events?.close();
      await proxy?.close();
      await registry?.kill();
      await docker('rm', '-f', 'keeper', 'busy').catch(() => undefined);
      await d?.cleanup();
      await ctd?.stop();
      await rm(work, { recursive: true, force: true });
    });

    const cpArchive = async () => {
      const archive = join(work, 'cp.tar');
      const pack = tar.pack();
      const written = pipeline(pack, createWriteStream(archive));
      pack.entry({ name: 'data.bin', size: 32 * MiB, mode: 0o644 }, randomBytes(32 * MiB));
      pack.finalize();
      await written;
      return archive;
    };

    const ops: {
      name: string;
      start: () => Promise<SlowRequest>;
      begun: (r: SlowRequest) => Promise<boolean> | boolean;
      after?: () => Promise<void>;
    }[] = [
      {
        name: 'commit',
        start: async () => slowRequest(d.socket, 'POST', '/v1.47/commit?container=busy&repo=restart&tag=mid'),
        begun: () => sleep(700).then(() => true),
        after: async () => {
          if ((await docker('images', '-q', 'restart:mid')) !== '') await docker('rmi', 'restart:mid');
        },
      },
      {
        name: 'checkpoint (leave-running)',
        start: async () =>
          slowRequest(d.socket, 'POST', '/v1.47/containers/busy/checkpoints', {
            body: JSON.stringify({ CheckpointID: 'c1', Exit: false }),
            headers: { 'content-type': 'application/json' },
          }),
        begun: () => sleep(500).then(() => true),
        after: async () => {
          await httpRequest(d.socket, 'DELETE', '/v1.47/containers/busy/checkpoints/c1');
        },
      },
      {
        name: 'export',
        start: async () =>
          slowRequest(d.socket, 'GET', '/v1.47/containers/busy/export', { readBytesPerSec: 4 * MiB }),
        begun: (r) => r.received() > 2 * MiB,
      },
      {
        name: 'cp into a container',
        start: async () =>
          slowRequest(d.socket, 'PUT', '/v1.47/containers/busy/archive?path=/in', {
            file: await cpArchive(),
            bytesPerSec: 8 * MiB,
            headers: { 'content-type': 'application/x-tar', 'transfer-encoding': 'chunked' },
          }),
        begun: (r) => r.sent() > 4 * MiB,
        after: async () => {
          await docker('exec', 'busy', 'sh', '-c', 'rm -rf /in/* /in/.??*');
        },
      },
      {
        name: 'load',
        start: async () =>
          slowRequest(d.socket, 'POST', '/v1.47/images/load?quiet=1', {
            file: bigArchive,
            bytesPerSec: 12 * MiB,
            headers: { 'content-type': 'application/x-tar' },
          }),
        begun: (r) => r.sent() > 16 * MiB,
        after: async () => {
          if ((await docker('images', '-q', BIG)) !== '') await docker('rmi', BIG);
        },
      },
      {
        name: 'pull',
        start: async () =>
          slowRequest(
            d.socket,
            'POST',
            `/v1.47/images/create?fromImage=${encodeURIComponent(`${proxy.host}/restart/big:1`)}`,
          ),
        begun: () => proxy.blobBytes() > 8 * MiB,
        after: async () => {
          const ref = `${proxy.host}/restart/big:1`;
          if ((await docker('images', '-q', ref)) !== '') await docker('rmi', ref);
        },
      },
    ];

    for (const op of ops) {
      test(`restarted in the middle of ${op.name}: a clear 5xx, a reconnect, nothing half made, events resume, containers listed right`, async () => {
        const base = await takeBaseline(target);
        const keeper = await docker('inspect', '-f', '{{.Id}}', 'keeper');
        const seen = events.lines.length;
        const req = await op.start();
        const began = await waitFor(() => op.begun(req), 60_000);
        assert.ok(began, `${op.name} never got under way`);
        await restartContainerd();
        const t0 = Date.now();
        const r = await Promise.race([req.result, sleep(120_000).then(() => 'hang' as const)]);
        assert.notEqual(r, 'hang', `${op.name} hung after containerd died`);
        console.log(`# ${op.name}: ${JSON.stringify(r).slice(0, 300)} after ${Date.now() - t0} ms`);
        if (r !== 'hang' && 'status' in r) {
          if (r.status >= 400) {
            assert.ok(r.status >= 500, `status ${r.status}: ${r.body}`);
            const msg = (JSON.parse(r.body) as { message?: unknown }).message;
            assert.equal(typeof msg, 'string', r.body);
          } else {
            // a stream answered 200 before containerd died: the failure is in the stream, or
            // the operation finished before the restart reached it
            console.log(`# ${op.name} answered ${r.status}`);
          }
        }
        // ckptd reconnects by itself
        assert.ok(
          await waitFor(
            () =>
              docker('ps', '-q').then(
                () => true,
                () => false,
              ),
            60_000,
          ),
          'ckptd did not reconnect',
        );
        // a freeze whose thaw failed while containerd was away is thawed by the recovery, once
        // containerd answers again (it retries with back-off)
        assert.ok(
          await waitFor(
            async () => (await docker('inspect', '-f', '{{.State.Paused}}', 'busy')) === 'false',
            60_000,
          ),
          'busy stays paused',
        );
        await op.after?.();
        // the reconnect recovery cleans what the failed operation held
        let problems: string[] = [];
        await waitFor(async () => {
          problems = await audit(target, base, { ckptdPid: d.child.pid });
          return problems.length === 0;
        }, 60_000);
        assert.deepEqual(
          problems,
          [],
          `leftovers after the reconnect:\n${problems.join('\n')}\n${d.logs().slice(-6000)}`,
        );
        // running containers are listed right
        assert.match(await docker('ps', '--format', '{{.Names}} {{.State}}'), /^keeper running$/m);
        assert.match(await docker('ps', '--format', '{{.Names}} {{.State}}'), /^busy running$/m);
        // the event stream opened before the restart sees events after it: ckptd resubscribes to
        // containerd with back-off (up to 4 s), and what happens before that is not replayed, so a
        // new marker is made every few seconds until one's destroy event arrives
        const markers: string[] = [];
        let lastMarker = 0;
        assert.ok(
          await waitFor(async () => {
            if (
              events.lines
                .slice(seen)
                .some((l) => markers.some((m) => l.includes(m)) && l.includes('"destroy"'))
            )
              return true;
            if (Date.now() - lastMarker > 5_000) {
              lastMarker = Date.now();
              const marker = `ev-${Date.now()}`;
              markers.push(marker);
              await docker('create', '--name', marker, IMG, 'true');
              await docker('rm', marker);
            }
            return false;
          }, 45_000),
          `no event after the restart: ${events.lines.slice(seen).join('\n').slice(-2000)}`,
        );
        assert.equal(await docker('inspect', '-f', '{{.State.Running}}', keeper), 'true');
      });
    }

    test('the keeper still stops and its exit is recorded after the restarts', async () => {
      await docker('stop', '-t', '1', 'keeper');
      assert.equal(
        await docker('inspect', '-f', '{{.State.Running}} {{.State.ExitCode}}', 'keeper'),
        'false 137',
      );
    });
  });
}
