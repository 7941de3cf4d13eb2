// systemd integration: the units pass `systemd-analyze verify`, ckptd serves the sockets
// systemd passes (-H fd://, started by systemd-socket-activate as systemd starts ckptd.service
// from ckptd.socket) to the docker CLI, tells a NOTIFY_SOCKET READY=1 once it serves and
// STOPPING=1 on SIGTERM, and keeps LISTEN_* and NOTIFY_SOCKET from containerd.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  access,
  copyFile,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { httpRequest } from '../helpers/ckptd.js';

const execFileP = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const SOCKET_ACTIVATE = '/usr/bin/systemd-socket-activate';

async function docker(socket: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP('docker', args, {
    env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: '/nonexistent-ckptd-test' },
    timeout: 120_000,
  });
  return stdout;
}

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** runCkptd runs main.ts to its exit (start-up failures) and returns its code and output. */
async function runCkptd(
  launcher: string[],
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; out: string }> {
  const argv = [...launcher, process.execPath, '--import', 'tsx', join(ROOT, 'src/main.ts'), ...args];
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { code, out };
}

describe('systemd units', () => {
  test('systemd-analyze verify passes for ckptd.service and ckptd.socket, with no warning', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ckptd-units-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    let service = await readFile(join(ROOT, 'systemd/ckptd.service'), 'utf8');
    const socket = await readFile(join(ROOT, 'systemd/ckptd.socket'), 'utf8');
    // the unit runs the pinned Node in /opt/ckptd/node (setup-node.sh); verify checks that the
    // program exists: on a host without it, verify the unit with this test's node instead
    const exec = /^ExecStart=(\S+) /m.exec(service)?.[1];
    assert.ok(exec, 'ExecStart= with a program');
    if (
      !(await access(exec).then(
        () => true,
        () => false,
      ))
    )
      service = service.replace(`ExecStart=${exec} `, `ExecStart=${process.execPath} `);
    assert.match(service, /^ExecStart=\S+ \/opt\/ckptd\/dist\/src\/main\.js -H fd:\/\/$/m);
    assert.match(service, /^Type=notify$/m);
    assert.match(service, /^NotifyAccess=all$/m);
    assert.match(service, /^Requires=ckptd\.socket$/m);
    assert.match(service, /^After=.*\bcontainerd\.service\b/m);
    assert.match(service, /^After=.*\bckptd\.socket\b/m);
    assert.doesNotMatch(
      service,
      /^(Wants|Requires)=.*containerd\.service/m,
      'never pulls in the system containerd',
    );
    assert.match(service, /^Also=ckptd\.socket$/m);
    assert.match(socket, /^ListenStream=\/run\/ckptd\.sock$/m);
    assert.match(socket, /^SocketMode=0660$/m);
    assert.match(socket, /^SocketGroup=docker$/m);
    await writeFile(join(dir, 'ckptd.service'), service);
    await writeFile(join(dir, 'ckptd.socket'), socket);
    const r = await execFileP(SYSTEMD_ANALYZE, ['verify', 'ckptd.service', 'ckptd.socket'], {
      cwd: dir,
      timeout: 60_000,
    }).catch((err: { code?: number; stdout?: string; stderr?: string }) => err);
    assert.equal(r.stderr, '', 'no error or warning (unknown keys are only warnings)');
    assert.equal(r.stdout, '');
    assert.ok(
      !('code' in r) || r.code === undefined || r.code === 0,
      `exit code ${String((r as { code?: number }).code)}`,
    );
  });

  test('systemd-analyze verify would catch a wrong unit (the check is real)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ckptd-units-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await copyFile(join(ROOT, 'systemd/ckptd.socket'), join(dir, 'ckptd.socket'));
    const service = (await readFile(join(ROOT, 'systemd/ckptd.service'), 'utf8')).replace(
      /^ExecStart=\S+/m,
      'ExecStart=/nonexistent/node',
    );
    await writeFile(join(dir, 'ckptd.service'), `${service}\n[Service]\nNotifyAcess=all\n`);
    const err = await execFileP(SYSTEMD_ANALYZE, ['verify', 'ckptd.service', 'ckptd.socket'], {
      cwd: dir,
      timeout: 60_000,
    }).then(
      () => assert.fail('verify passed a unit with a missing program'),
      (e: { stderr: string }) => e,
    );
    assert.match(err.stderr, /Command \/nonexistent\/node is not executable/);
    assert.match(err.stderr, /Unknown key 'NotifyAcess'/);
  });
});

describe('-H fd:// without sockets passed', () => {
  test('fails at once with dockerd’s message, before anything starts', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ckptd-fd-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const dataRoot = join(dir, 'data');
    // LISTEN_* inherited from a parent (another pid): not ours, as sd_listen_fds(3)
    const r = await runCkptd([], ['-H', 'fd://', '--data-root', dataRoot], {
      ...process.env,
      LISTEN_PID: '1',
      LISTEN_FDS: '1',
    });
    assert.equal(r.code, 1, r.out);
    assert.match(
      r.out,
      /fd:\/\/: no sockets found via socket activation: make sure the service was started by systemd/,
    );
    await assert.rejects(stat(dataRoot), { code: 'ENOENT' }, 'no data root, no containerd: nothing started');
  });

  test('fd://N beyond the passed sockets and an unknown fd://NAME fail naming what was passed', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ckptd-fd-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    for (const [host, want] of [
      [
        'fd://4',
        /fd:\/\/4: too few socket activated files passed in by systemd \(passed: fd 3 \\?"api\\?"\)/,
      ],
      ['fd://nope', /fd:\/\/nope: no socket activated file named \\?"nope\\?" \(passed: fd 3 \\?"api\\?"\)/],
    ] as const) {
      const sock = join(dir, 'a.sock');
      // --now is not in systemd 252: a connection makes systemd-socket-activate exec ckptd
      const run = runCkptd(
        [SOCKET_ACTIVATE, '-l', sock, '--fdname=api'],
        ['-H', host, '--data-root', join(dir, 'data')],
      );
      await until(
        'the activation socket',
        () =>
          stat(sock).then(
            () => true,
            () => false,
          ),
        20_000,
      );
      const poke = httpRequest(sock, 'GET', '/_ping').catch(() => undefined);
      const r = await run;
      await poke;
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, want);
      await rm(sock, { force: true });
    }
  });
});

describe('ckptd started by socket activation (two sockets, -H fd://) with a NOTIFY_SOCKET', () => {
  let dir: string;
  let receiver: ChildProcess;
  let ckptd: ChildProcess;
  let ckptdOut = '';
  const notes: { msg: string; serving: boolean }[] = [];
  let sockA: string;
  let sockB: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ckptd-sd-'));
    sockA = join(dir, 'a.sock');
    sockB = join(dir, 'b.sock');
    const notify = join(dir, 'notify.sock');
    // the service manager's side: a datagram socket printing each message; descriptors passed
    // with a message (systemd-notify's BARRIER=1 pipe) are closed, releasing the barrier
    const py = [
      'import socket, sys, os, array',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind(sys.argv[1])',
      'print("bound", flush=True)',
      'while True:',
      '    msg, anc, _f, _a = s.recvmsg(4096, socket.CMSG_SPACE(64 * 4))',
      '    for level, typ, data in anc:',
      '        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:',
      '            fds = array.array("i"); fds.frombytes(data[: len(data) - len(data) % 4])',
      '            [os.close(fd) for fd in fds]',
      '    print(msg.decode().replace("\\n", " "), flush=True)',
    ].join('\n');
    receiver = spawn('python3', ['-c', py, notify], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let bound = false;
    receiver.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'bound') bound = true;
        else notes.push({ msg: line, serving: ckptdOut.includes('"msg":"ckptd is serving"') });
      }
    });
    await until('the fake NOTIFY_SOCKET', () => bound, 30_000);
    ckptd = spawn(
      SOCKET_ACTIVATE,
      [
        '-l',
        sockA,
        '-l',
        sockB,
        '--fdname=ckptd.socket:second',
        `--setenv=NOTIFY_SOCKET=${notify}`,
        process.execPath,
        '--import',
        'tsx',
        join(ROOT, 'src/main.ts'),
        '-H',
        'fd://',
        '--data-root',
        join(dir, 'data'),
        '--containerd-namespace',
        'ckptd-systemd-it',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    ckptd.stdout?.on('data', (d: Buffer) => (ckptdOut += d.toString()));
    ckptd.stderr?.on('data', (d: Buffer) => (ckptdOut += d.toString()));
    await until(
      'systemd-socket-activate listening',
      () => ckptdOut.includes(`Listening on ${sockB}`),
      30_000,
    );
  });

  after(async () => {
    if (ckptd && ckptd.exitCode === null && ckptd.signalCode === null) {
      ckptd.kill('SIGTERM');
      await new Promise((r) => ckptd.once('exit', r));
    }
    receiver?.kill('SIGTERM');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the docker CLI talks to ckptd on the passed sockets (fd 3 and fd 4)', async () => {
    // this first connection is what makes systemd-socket-activate exec ckptd; it waits in the
    // socket's backlog while ckptd (and its containerd) start
    const version = JSON.parse(await docker(sockA, 'version', '--format', '{{json .Server}}')) as {
      ApiVersion: string;
    };
    assert.equal(version.ApiVersion, '1.47');
    const info = JSON.parse(await docker(sockB, 'info', '--format', '{{json .}}')) as {
      DockerRootDir: string;
    };
    assert.equal(info.DockerRootDir, join(dir, 'data'));
    assert.match(ckptdOut, /API listen on fd 3 \(.*a\.sock\)/);
    assert.match(ckptdOut, /API listen on fd 4 \(.*b\.sock\)/);
  });

  test('READY=1 reaches NOTIFY_SOCKET once, after the API serves (containerd never sends its own)', async () => {
    await until('READY=1', () => notes.some((n) => n.msg.includes('READY=1')), 60_000);
    // a late READY=1 from a containerd that inherited NOTIFY_SOCKET would show up here
    await new Promise((r) => setTimeout(r, 1000));
    const ready = notes.filter((n) => n.msg.split(' ').includes('READY=1'));
    assert.equal(ready.length, 1, JSON.stringify(notes));
    assert.ok(ready[0]?.serving, 'READY=1 came after "ckptd is serving"');
  });

  test('containerd inherits neither LISTEN_* nor NOTIFY_SOCKET, nor the passed sockets', async () => {
    const pid = ckptd.pid as number; // systemd-socket-activate execs ckptd in place
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/);
    let checked = 0;
    for (const c of children) {
      const cmd = await readFile(`/proc/${c}/cmdline`, 'utf8').catch(() => '');
      if (!cmd.startsWith('containerd\0')) continue;
      const environ = (await readFile(`/proc/${c}/environ`, 'utf8')).split('\0');
      assert.deepEqual(
        environ.filter((e) => /^(LISTEN_PID|LISTEN_FDS|LISTEN_FDNAMES|NOTIFY_SOCKET)=/.test(e)),
        [],
      );
      const fds = await readdir(`/proc/${c}/fd`);
      const ckptdSockets = new Set<string>();
      for (const fd of ['3', '4']) ckptdSockets.add(await readFileLink(`/proc/${pid}/fd/${fd}`));
      for (const fd of fds)
        assert.ok(!ckptdSockets.has(await readFileLink(`/proc/${c}/fd/${fd}`)), `fd ${fd}`);
      checked++;
    }
    assert.equal(checked, 1, `one managed containerd among ${children.join(',')}`);
  });

  test('SIGTERM: STOPPING=1 reaches NOTIFY_SOCKET and ckptd exits 0', async () => {
    const exited = new Promise<number | null>((r) => ckptd.once('exit', (c) => r(c)));
    ckptd.kill('SIGTERM');
    assert.equal(await exited, 0, ckptdOut.slice(-2000));
    await until('STOPPING=1', () => notes.some((n) => n.msg.includes('STOPPING=1')), 30_000);
  });
});

function readFileLink(path: string): Promise<string> {
  return readlink(path).catch(() => '');
}
