// Integration: container IO (FIFOs, json-file log, attach fan-out, exec) against a real
// containerd 1.6 and runc, driving tasks directly so it does not depend on the containers engine.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import pino from 'pino';
import { ContainerIOService } from '../../src/engine/io/container-io.js';
import { containerdExecTasks, ExecService } from '../../src/engine/io/exec.js';
import { containerdLookup } from '../../src/engine/io/lookup.js';
import type { OutputChunk } from '../../src/engine/io/mux.js';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../src/errors/index.js';
import { ckptdFixture, containerdFixture } from '../helpers/fixture.js';

const IMAGE = 'docker.io/ckptd-test/io:latest';

async function collect(it: AsyncIterable<OutputChunk>): Promise<{ stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  for await (const c of it) out[c.stream] += c.data.toString();
  return out;
}

describe('container IO against a real containerd', { timeout: 180_000 }, () => {
  const ns = `ckptd-io-${process.pid}`;
  const f = containerdFixture({ ns, images: [{ name: IMAGE }] });
  const { ctr } = f;
  let io: ContainerIOService;
  let execs: ExecService;
  let seq = 0;

  /** run creates a container with `cmd` and starts its task with IO from `io.prepare`. */
  async function run(cmd: string[], opts: { tty?: boolean; openStdin?: boolean } = {}): Promise<string> {
    const id = `io-${++seq}`;
    await ctr('containers', 'create', ...(opts.tty ? ['--tty'] : []), '--', IMAGE, id, ...cmd);
    const taskIO = await io.prepare(id, { tty: opts.tty === true, openStdin: opts.openStdin === true });
    const rootfs = await f.client.snapshots('overlayfs').mounts(id);
    await f.client.tasks.create({ container_id: id, rootfs, ...taskIO });
    await f.client.tasks.start(id);
    return id;
  }

  async function finish(id: string): Promise<number> {
    const { exitStatus } = await f.client.tasks.wait(id);
    // Like dockerd: delete the task, then wait for the output to drain (with a TTY the shim
    // closes its end of the stdout FIFO only when the task is deleted).
    await f.client.tasks.delete(id);
    await io.closed(id);
    await io.release(id);
    return exitStatus;
  }

  before(() => {
    const logger = pino({ level: 'silent' });
    const lookup = containerdLookup(f.client);
    io = new ContainerIOService({
      execRoot: join(f.work, 'exec'),
      containersRoot: join(f.work, 'containers'),
      lookup,
      tasks: {
        resizePty: (id, w, h, e) => f.client.tasks.resizePty(id, w, h, e),
        closeIO: (id, e) => f.client.tasks.closeIO(id, e),
      },
      logger,
    });
    execs = new ExecService({
      lookup,
      tasks: containerdExecTasks(f.client),
      fifoDir: (id) => io.fifoDir(id),
      logger,
    });
  });
  test('an attach before start gets the first bytes, both streams apart, and ends with the output', async () => {
    const id = `io-${seq + 1}`;
    await ctr('containers', 'create', '--', IMAGE, id, 'sh', '-c', 'echo out; echo err >&2');
    const session = await io.attach(id, {
      stream: true,
      logs: false,
      stdin: false,
      stdout: true,
      stderr: true,
    });
    seq++;
    const taskIO = await io.prepare(id, { tty: false, openStdin: false });
    await f.client.tasks.create({
      container_id: id,
      rootfs: await f.client.snapshots('overlayfs').mounts(id),
      ...taskIO,
    });
    await f.client.tasks.start(id);
    const got = await collect(session.output);
    assert.deepEqual(got, { stdout: 'out\n', stderr: 'err\n' });
    assert.equal(await finish(id), 0);
  });

  test('output lands in the json-file log; logs honours stream selection, tail and timestamps order', async () => {
    const id = await run(['sh', '-c', 'echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; exit 3']);
    assert.equal(await finish(id), 3);
    const lines = (await readFile(io.logPath(id), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.stream, l.log]),
      [
        ['stdout', 'one\n'],
        ['stderr', 'two\n'],
        ['stdout', 'three\n'],
      ],
    );
    assert.match(lines[0].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const logs = async (o: Partial<{ stdout: boolean; stderr: boolean; tail: number | 'all' }>) => {
      const r = await io.logs(id, { follow: false, stdout: true, stderr: true, tail: 'all', ...o });
      const out: string[] = [];
      for await (const e of r.entries) out.push(e.log);
      return out.join('');
    };
    assert.equal(await logs({}), 'one\ntwo\nthree\n');
    assert.equal(await logs({ stderr: false }), 'one\nthree\n');
    assert.equal(await logs({ tail: 1 }), 'three\n');
    await assert.rejects(logs({ stdout: false, stderr: false }), InvalidArgumentError);
    await assert.rejects(
      logs({}).then(() => io.logs('nope', { follow: false, stdout: true, stderr: true, tail: 'all' })),
      NotFoundError,
    );
  });

  test('logs --follow streams new lines and ends when the container stops', async () => {
    const id = await run(['sh', '-c', 'echo a; sleep 1; echo b']);
    const r = await io.logs(id, { follow: true, stdout: true, stderr: true, tail: 'all' });
    const got: string[] = [];
    for await (const e of r.entries) got.push(e.log);
    assert.deepEqual(got, ['a\n', 'b\n']);
    assert.equal(await finish(id), 0);
  });

  test('with a TTY only stdout exists and carries the terminal output', { timeout: 30_000 }, async () => {
    const id = `io-${++seq}`;
    await ctr('containers', 'create', '--tty', '--', IMAGE, id, 'echo', 'tty');
    const session = await io.attach(id, {
      stream: true,
      logs: false,
      stdin: false,
      stdout: true,
      stderr: true,
    });
    assert.equal(session.tty, true);
    const taskIO = await io.prepare(id, { tty: true, openStdin: false });
    assert.equal(taskIO.stderr, '');
    await f.client.tasks.create({
      container_id: id,
      rootfs: await f.client.snapshots('overlayfs').mounts(id),
      ...taskIO,
    });
    await f.client.tasks.start(id);
    const got = collect(session.output);
    assert.equal(await finish(id), 0);
    assert.deepEqual(await got, { stdout: 'tty\r\n', stderr: '' });
  });

  test('exec runs in the container with output, exit code and stdin; errors as dockerd words them', async () => {
    const id = await run(['sleep', '1000'], { openStdin: false });
    const execOut = async (cmd: string[], input?: string) => {
      const eid = await execs.execCreate(id, {
        Cmd: cmd,
        AttachStdout: true,
        AttachStderr: true,
        AttachStdin: input !== undefined,
      });
      const pending = await execs.execStart(eid, { detach: false });
      assert.ok(pending);
      const s = await pending.start();
      if (input !== undefined) {
        assert.ok(s.stdin);
        await s.stdin.write(Buffer.from(input));
        s.stdin.end();
      }
      const out = await collect(s.output);
      return { ...out, inspect: execs.execInspect(eid) };
    };
    const host = await execOut(['cat', '/etc/passwd']);
    assert.equal(host.inspect.ExitCode, 0, JSON.stringify(host));
    assert.match(host.stdout, /^root:/);
    assert.equal(host.inspect.Running, false);
    const seven = await execOut(['sh', '-c', 'echo e >&2; exit 7']);
    assert.equal(seven.inspect.ExitCode, 7);
    assert.equal(seven.stderr, 'e\n');
    const cat = await execOut(['cat'], 'piped\n');
    assert.equal(cat.stdout, 'piped\n');
    assert.equal(cat.inspect.ExitCode, 0);
    const env = await execOut(['sh', '-c', 'echo $FOO:$(pwd):$(id -u)']);
    assert.equal(env.stdout, ':/:0\n', 'the container spec process gives env, cwd and user');
    assert.throws(() => execs.execInspect('nope'), /No such exec instance: nope/);
    await f.client.tasks.kill(id, 9);
    await finish(id);
    await assert.rejects(execs.execCreate(id, { Cmd: ['true'] }), ConflictError);
  });
});

describe('container IO through the real daemon with the docker CLI', { timeout: 240_000 }, () => {
  const f = ckptdFixture({ ns: 'default', images: [], dockerTimeout: 30_000 });
  const docker = (args: string[], input?: string) => f.run(args, { input });

  before(async () => {
    const img = await f.buildImage('img.tar', { name: 'ckio:latest' });
    assert.equal((await docker(['load', '-i', img.path])).code, 0);
  });

  test('docker run prints the output and exits with the container code', async () => {
    assert.deepEqual(await docker(['run', '--rm', '--network', 'none', 'ckio', 'echo', 'hi']), {
      code: 0,
      stdout: 'hi\n',
      stderr: '',
    });
    assert.equal((await docker(['run', '--network', 'none', 'ckio', 'sh', '-c', 'exit 3'])).code, 3);
    assert.equal(
      (await docker(['run', '-i', '--rm', '--network', 'none', 'ckio', 'cat'], 'piped-in\n')).stdout,
      'piped-in\n',
    );
  });

  test('docker logs separates the streams, tails and follows until the container stops; exec works', async () => {
    // stdout and stderr are two pipes: their order in the log is defined only across time
    const run = await docker([
      'run',
      '-d',
      '--name',
      'io-t',
      '--network',
      'none',
      'ckio',
      'sh',
      '-c',
      'echo out; sleep 0.3; echo err >&2; sleep 1000',
    ]);
    assert.equal(run.code, 0, run.stderr);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await docker(['logs', 'io-t']), { code: 0, stdout: 'out\n', stderr: 'err\n' });
    assert.deepEqual(await docker(['logs', '--tail', '1', 'io-t']), { code: 0, stdout: '', stderr: 'err\n' });
    const host = await docker(['exec', 'io-t', 'cat', '/etc/hostname']);
    assert.equal(host.code, 0, host.stderr);
    assert.match(host.stdout, /^[0-9a-f]{12}\n$/);
    assert.equal((await docker(['exec', 'io-t', 'sh', '-c', 'exit 7'])).code, 7);
    assert.equal((await docker(['exec', '-i', 'io-t', 'cat'], 'x\ny\n')).stdout, 'x\ny\n');
    const nope = await docker(['logs', 'io-nope']);
    assert.match(nope.stderr, /No such container: io-nope/);

    await docker([
      'run',
      '-d',
      '--name',
      'io-f',
      '--network',
      'none',
      'ckio',
      'sh',
      '-c',
      'echo a; sleep 1; echo b',
    ]);
    const follow = await docker(['logs', '-f', 'io-f']);
    assert.deepEqual(follow, { code: 0, stdout: 'a\nb\n', stderr: '' });

    // an exec instance lives as long as its container, as in dockerd
    const created = await f.api('POST', '/containers/io-t/exec', JSON.stringify({ Cmd: ['true'] }), {
      'content-type': 'application/json',
    });
    assert.equal(created.status, 201, created.body);
    const execId = (JSON.parse(created.body) as { Id: string }).Id;
    assert.equal((await f.api('GET', `/exec/${execId}/json`)).status, 200);
    await docker(['rm', '-f', 'io-t', 'io-f']);
    const gone = await f.api('GET', `/exec/${execId}/json`);
    assert.equal(gone.status, 404);
    assert.deepEqual(JSON.parse(gone.body), { message: `No such exec instance: ${execId}` });
  });
});
