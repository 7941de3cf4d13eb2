// Checkpoint and restore against the real daemon, a real containerd 1.6, runc and CRIU: Docker's
// experimental checkpoint API (driven by the docker CLI too), restore in place, ckptd's streamed
// export and import under new names, and hostile archives.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, stat, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { ckptdFixture, COUNTER, IMG, until } from '../helpers/fixture.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-cr';
/** unpackers lists the processes run as nobody (the tar and zstd of an import). */
async function unpackers(): Promise<string[]> {
  const { stdout } = await execFileP('ps', ['-u', '65534', '-o', 'pid=,comm=']).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter((l) => /\b(tar|zstd|gzip)\b/.test(l));
}

interface Inspect {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number };
}

async function tarOf(
  entries: { name: string; type?: tar.Header['type']; body?: string | Buffer; linkname?: string }[],
): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') {
      const b = typeof e.body === 'string' ? Buffer.from(e.body) : (e.body ?? Buffer.alloc(0));
      pack.entry({ name: e.name, type, size: b.length, mode: 0o644 }, b);
    } else {
      pack.entry({
        name: e.name,
        type,
        mode: 0o644,
        ...(e.linkname ? { linkname: e.linkname } : {}),
        devmajor: 1,
        devminor: 3,
      });
    }
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

describe('checkpoint and restore through ckptd', () => {
  // checkpoint-dir test: a directory outside the data root must be allowed (--checkpoint-dirs)
  const f = ckptdFixture({ ns: NS, start: false });
  const { docker, api, ctr } = f;
  const inspect = async (ref: string): Promise<Inspect> => {
    const r = await api('GET', `/containers/${ref}/json`);
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as Inspect;
  };
  const execOut = async (ref: string, ...cmd: string[]) => (await docker('exec', ref, ...cmd)).trim();
  const counter = async (ref: string) => Number(await execOut(ref, 'cat', '/tmp/c'));
  const run = async (name: string, script: string) => {
    const id = (
      await docker('run', '-d', '--network', 'none', '--name', name, IMG, 'sh', '-c', script)
    ).trim();
    return id;
  };
  const containers = () => ctr('containers', 'ls', '-q');
  const snapshots = async () => (await ctr('snapshots', 'ls')).split('\n').length - 1;
  const leases = () => ctr('leases', 'ls', '-q');

  before(() => f.start(['--checkpoint-dirs', join(f.work, 'cpdir')]));

  test('a counter checkpointed with exit and restored in place continues from its value, not from 1', async () => {
    const id = await run('cnt', COUNTER);
    await until('the counter to pass 10', async () => (await counter('cnt')) > 10);
    const t0 = performance.now();
    const r = await api('POST', '/containers/cnt/checkpoint?name=c1&printStats=1');
    const ckMs = performance.now() - t0;
    assert.equal(r.status, 201, r.body);
    const res = JSON.parse(r.body) as {
      Id: string;
      Name: string;
      Stats: { criu?: { frozenTimeMs?: number } };
    };
    assert.equal(res.Id, id);
    assert.equal(res.Name, 'c1');
    assert.ok(res.Stats.criu, 'CRIU stats-dump decoded');
    const st = await inspect('cnt');
    assert.equal(st.State.Status, 'exited');
    console.log(`# inspect after checkpoint(exit): ${st.State.Status} ExitCode ${st.State.ExitCode}`);
    const dir = join(f.dataRoot, 'containers', id, 'checkpoints', 'c1');
    const files = await readdir(dir);
    for (const f of [
      'config.dump',
      'spec.dump',
      'checkpoint',
      'rootfs-diff.tar',
      'deleted.files',
      'dump.log',
    ])
      assert.ok(files.includes(f), `${f} in ${files.join(',')}`);
    const before = Number(await readFileInRootfsDiff(join(dir, 'rootfs-diff.tar'), 'tmp/c'));
    assert.ok(before > 10, `rootfs-diff holds /tmp/c = ${before}`);

    const t1 = performance.now();
    const s = await api('POST', '/containers/cnt/restore?checkpoint=c1&printStats=1');
    const rsMs = performance.now() - t1;
    assert.equal(s.status, 201, s.body);
    assert.equal((await inspect('cnt')).State.Status, 'running');
    const after1 = await counter('cnt');
    assert.ok(after1 >= before, `continued from ${before}, now ${after1} (not from 1)`);
    // CRIU restores the pid inside the pid namespace: the shell is still pid 1
    assert.equal(await execOut('cnt', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "'), `sh -c ${COUNTER}`);
    console.log(
      `# counter: checkpoint(exit) ${ckMs.toFixed(0)} ms, restore in place ${rsMs.toFixed(0)} ms; value ${before} -> ${after1}`,
    );
    const since = Math.floor(Date.now() / 1000) - 120;
    const ev = await api(
      'GET',
      `/events?since=${since}&until=${Math.floor(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ container: ['cnt'] }))}`,
    );
    const actions = ev.body
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { Action: string }).Action);
    assert.ok(actions.includes('checkpoint'), actions.join(','));
    assert.ok(actions.includes('restore'), actions.join(','));
    await docker('rm', '-f', 'cnt');
  });

  test("a CRIU failure is 500 with CRIU's reason; the container keeps running and no checkpoint is left", async () => {
    // An established TCP connection over loopback. On this kernel CRIU cannot even read the
    // sockets' options (SO_PASSCRED), so the dump fails either way: the failure path is tested.
    const id = await run(
      'tcp',
      'httpd -p 7777 -h /tmp; sleep 0.3; sleep 1000 | nc 127.0.0.1 7777 & ' + COUNTER,
    );
    await until('the counter', async () => (await counter('tcp')) > 5);
    const r = await api('POST', '/containers/tcp/checkpoint?name=t1');
    assert.equal(r.status, 500, r.body);
    const msg = (JSON.parse(r.body) as { message: string }).message;
    assert.match(msg, /CRIU: /, msg);
    console.log(`# CRIU failure message: ${msg}`);
    assert.equal((await inspect('tcp')).State.Status, 'running');
    assert.deepEqual(await readdir(join(f.dataRoot, 'containers', id, 'checkpoints')), []);
    await docker('rm', '-f', 'tcp');
  });

  test('leaveRunning keeps the container running; the docker CLI creates, lists, starts from and removes checkpoints', async () => {
    await run('cli', COUNTER);
    await until('the counter to pass 5', async () => (await counter('cli')) > 5);
    const t0 = performance.now();
    const r = await api('POST', '/containers/cli/checkpoint?name=live&leaveRunning=1');
    const leaveMs = performance.now() - t0;
    assert.equal(r.status, 201, r.body);
    assert.equal((await inspect('cli')).State.Status, 'running');
    const v = await counter('cli');
    await new Promise((res) => setTimeout(res, 400));
    assert.ok((await counter('cli')) > v, 'still counting after a leave-running checkpoint');

    await docker('checkpoint', 'create', 'cli', 'cp1');
    assert.equal((await inspect('cli')).State.Status, 'exited');
    const ls = await docker('checkpoint', 'ls', 'cli');
    assert.match(ls, /^CHECKPOINT NAME\s*\ncp1\s*\nlive\s*$/m);
    const frozen = Number(
      await readFileInRootfsDiff(
        join(f.dataRoot, 'containers', (await inspect('cli')).Id, 'checkpoints', 'cp1', 'rootfs-diff.tar'),
        'tmp/c',
      ),
    );
    const t1 = performance.now();
    await docker('start', '--checkpoint', 'cp1', 'cli');
    const startMs = performance.now() - t1;
    assert.equal((await inspect('cli')).State.Status, 'running');
    assert.ok((await counter('cli')) >= frozen);
    await docker('checkpoint', 'rm', 'cli', 'cp1');
    assert.doesNotMatch(await docker('checkpoint', 'ls', 'cli'), /cp1/);
    console.log(
      `# leave-running checkpoint ${leaveMs.toFixed(0)} ms; docker start --checkpoint ${startMs.toFixed(0)} ms`,
    );
    await docker('rm', '-f', 'cli');
  });

  test('checkpoint-dir works for create, ls, start and rm', async () => {
    await run('cdir', COUNTER);
    await until('the counter to pass 3', async () => (await counter('cdir')) > 3);
    const dir = join(f.work, 'cpdir');
    await docker('checkpoint', 'create', '--checkpoint-dir', dir, 'cdir', 'x1');
    assert.ok((await stat(join(dir, 'x1', 'checkpoint', 'inventory.img'))).isFile());
    assert.match(await docker('checkpoint', 'ls', '--checkpoint-dir', dir, 'cdir'), /x1/);
    await docker('start', '--checkpoint', 'x1', '--checkpoint-dir', dir, 'cdir');
    assert.equal((await inspect('cdir')).State.Status, 'running');
    await docker('checkpoint', 'rm', '--checkpoint-dir', dir, 'cdir', 'x1');
    await docker('rm', '-f', 'cdir');
  });

  test('an unknown container is 404 before the name is looked at (as dockerd); bad names are 400; not running is 409; a taken name is 409', async () => {
    const unknown = await api('POST', '/containers/does-not-exist/checkpoints', {
      CheckpointID: '../x',
      Exit: true,
    });
    assert.equal(unknown.status, 404, unknown.body);
    await docker('create', '--network', 'none', '--name', 'named', IMG, 'sleep', '100');
    for (const bad of ['', '.', '..', '../outside', 'foo/bar', 'a\0b', '/abs']) {
      const r = await api('POST', '/containers/named/checkpoints', {
        CheckpointID: bad,
        Exit: true,
      });
      assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.body}`);
      assert.ok(JSON.parse(r.body).message);
      const del = await api('DELETE', `/containers/named/checkpoints/${encodeURIComponent(bad || '%20')}`);
      assert.ok(del.status === 400 || del.status === 404, `${bad}: ${del.status}`);
    }
    await docker('rm', '-f', 'named');
    await docker('create', '--network', 'none', '--name', 'idle', IMG, 'sleep', '100');
    const r = await api('POST', '/containers/idle/checkpoints', { CheckpointID: 'xx', Exit: true });
    assert.equal(r.status, 409, r.body);
    assert.equal(JSON.parse(r.body).message, 'Container idle is not running');
    await docker('start', 'idle');
    assert.equal((await api('POST', '/containers/idle/checkpoints', { CheckpointID: 'dup' })).status, 201);
    const dup = await api('POST', '/containers/idle/checkpoints', { CheckpointID: 'dup' });
    assert.equal(dup.status, 409, dup.body);
    assert.match(JSON.parse(dup.body).message, /already exists/);
    assert.equal((await api('DELETE', '/containers/idle/checkpoints/nope')).status, 404);
    assert.equal((await api('DELETE', '/containers/idle/checkpoints/dup')).status, 204);
    await docker('rm', '-f', 'idle');
  });

  test('export -> import under two names: two independent running copies with the files and 64 MiB of memory intact', async () => {
    // The shell holds `seq 1 8000000` (~61 MiB of a known pattern) in a variable; on request
    // (/tmp/go) it writes the md5 of that memory to /tmp/sum.
    const N = 8_000_000;
    const script =
      `x=$(seq 1 ${N}); echo ready > /tmp/ready; echo changed > /etc/motd-new; rm /etc/group; i=0; ` +
      'while true; do i=$((i+1)); echo $i > /tmp/c; if [ -e /tmp/go ]; then rm /tmp/go; echo "$x" | md5sum > /tmp/sum; fi; sleep 0.1; done';
    await run('mem', script);
    await until(
      'the 64 MiB pattern to be held',
      async () => (await execOut('mem', 'cat', '/tmp/ready')) === 'ready',
      60_000,
    );
    const expected = (await execFileP('sh', ['-c', `seq 1 ${N} | md5sum`])).stdout.split(' ')[0];

    const t0 = performance.now();
    const exp = await f.apiBuffer('POST', '/containers/mem/checkpoint?export=1&compress=zstd');
    const exportMs = performance.now() - t0;
    assert.equal(exp.status, 200, exp.body.toString().slice(0, 300));
    assert.equal(exp.headers['content-type'], 'application/zstd');
    assert.equal((await inspect('mem')).State.Status, 'exited');
    await docker('rm', '-f', 'mem');

    const ids: string[] = [];
    for (const name of ['copy1', 'copy2']) {
      const t1 = performance.now();
      const r = await f.apiBuffer('POST', `/containers/import/restore?import=1&name=${name}`, exp.body, {
        'content-type': 'application/zstd',
      });
      console.log(`# import+restore ${name}: ${(performance.now() - t1).toFixed(0)} ms`);
      assert.equal(r.status, 201, r.body.toString());
      ids.push((JSON.parse(r.body.toString()) as { Id: string }).Id);
    }
    assert.notEqual(ids[0], ids[1]);
    for (const name of ['copy1', 'copy2']) {
      assert.equal((await inspect(name)).State.Status, 'running');
      assert.equal(await execOut(name, 'cat', '/etc/motd-new'), 'changed');
      assert.equal(
        await execOut(name, 'sh', '-c', 'test -e /etc/group && echo present || echo deleted'),
        'deleted',
      );
      await execOut(name, 'touch', '/tmp/go');
      await until(
        `${name} to sum its memory`,
        async () => (await execOut(name, 'cat', '/tmp/sum')).length > 0,
        60_000,
      );
      assert.equal((await execOut(name, 'cat', '/tmp/sum')).split(' ')[0], expected, 'memory pattern intact');
    }
    // independent: stopping one leaves the other counting
    await docker('rm', '-f', 'copy1');
    const v = await counter('copy2');
    await until('copy2 to keep counting after copy1 is gone', async () => (await counter('copy2')) > v);
    console.log(
      `# export 64 MiB process (zstd, ${(exp.body.length / 1048576).toFixed(1)} MiB archive): ${exportMs.toFixed(0)} ms`,
    );
    await docker('rm', '-f', 'copy2');
  });

  test('hostile or truncated archives are 400 {"message"} and leave no container, snapshot or lease', async () => {
    const beforeContainers = await containers();
    const beforeSnapshots = await snapshots();
    const config = JSON.stringify({ id: 'x', name: 'x', rootfsImageName: IMG, runtime: 'runc' });
    const cases: [string, Buffer][] = [
      [
        'dotdot',
        await tarOf([
          { name: 'config.dump', body: config },
          { name: '../evil', body: 'x' },
          { name: 'checkpoint/inventory.img', body: 'x' },
        ]),
      ],
      [
        'device',
        await tarOf([
          { name: 'config.dump', body: config },
          { name: 'checkpoint/dev', type: 'character-device' },
        ]),
      ],
      [
        'symlink',
        await tarOf([
          { name: 'config.dump', body: config },
          { name: 'checkpoint', type: 'symlink', linkname: '/etc' },
        ]),
      ],
      ['not-a-tar', Buffer.from('hello, this is not an archive at all'.repeat(30))],
    ];
    // a real export, truncated
    await run('trunc', COUNTER);
    await until('counter', async () => (await counter('trunc')) > 2);
    const exp = await f.apiBuffer('POST', '/containers/trunc/checkpoint?export=1&compress=gzip');
    assert.equal(exp.status, 200);
    cases.push(['truncated', exp.body.subarray(0, Math.floor(exp.body.length / 2))]);
    // a rootfs diff escaping the rootfs
    const diff = await tarOf([{ name: '../../../../tmp/ckptd-escape', body: 'x' }]);
    cases.push([
      'rootfs-escape',
      gzipSync(
        await tarOf([
          { name: 'config.dump', body: config },
          { name: 'checkpoint/inventory.img', body: 'x' },
          { name: 'rootfs-diff.tar', body: diff },
        ]),
      ),
    ]);
    for (const [what, body] of cases) {
      const r = await f.apiBuffer('POST', '/containers/x/restore?import=1&name=hostile', body, {
        'content-type': 'application/x-tar',
      });
      assert.equal(r.status, 400, `${what}: ${r.status} ${r.body.toString()}`);
      assert.ok((JSON.parse(r.body.toString()) as { message: string }).message, what);
    }
    await docker('rm', '-f', 'trunc');
    assert.equal(await containers(), beforeContainers);
    assert.equal(await snapshots(), beforeSnapshots);
    assert.equal(await leases(), '');
    await assert.rejects(stat('/tmp/ckptd-escape'));
    assert.deepEqual(await readdir(join(f.dataRoot, 'checkpoint-staging')).catch(() => []), []);
  });

  test('a client that disconnects mid-upload leaves no container, staging directory or unpacking program', async () => {
    const beforeContainers = await containers();
    await run('cut', COUNTER);
    await until('counter', async () => (await counter('cut')) > 2);
    const exp = await f.apiBuffer('POST', '/containers/cut/checkpoint?export=1&leaveRunning=1');
    assert.equal(exp.status, 200);
    await docker('rm', '-f', 'cut');
    // the headers promise the whole archive; half of it is sent, then the connection is dropped
    const sock = connect(f.socket);
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    sock.write(
      'POST /v1.47/containers/x/restore?import=1&name=cut-import HTTP/1.1\r\nHost: x\r\n' +
        `Content-Type: application/octet-stream\r\nContent-Length: ${exp.body.length}\r\n\r\n`,
    );
    sock.write(exp.body.subarray(0, Math.floor(exp.body.length / 2)));
    await until('the unpacking programs to start', async () => (await unpackers()).length > 0);
    sock.destroy();
    await until('the unpacking programs to be gone', async () => (await unpackers()).length === 0);
    await until(
      'the staging directory to be empty',
      async () => (await readdir(join(f.dataRoot, 'checkpoint-staging')).catch(() => [])).length === 0,
    );
    assert.equal(await containers(), beforeContainers);
    assert.equal(await leases(), '');
  });

  test('a missing base image is 404 naming it', async () => {
    const config = JSON.stringify({
      id: 'x',
      name: 'x',
      rootfsImageName: 'nosuch/image:1',
      rootfsImageRef: 'sha256:' + '0'.repeat(64),
      runtime: 'runc',
    });
    const body = await tarOf([
      { name: 'config.dump', body: config },
      { name: 'checkpoint/inventory.img', body: 'x' },
    ]);
    const r = await f.apiBuffer('POST', '/containers/x/restore?import=1', body, {
      'content-type': 'application/x-tar',
    });
    assert.equal(r.status, 404, r.body.toString());
    assert.equal(JSON.parse(r.body.toString()).message, 'No such image: nosuch/image:1');
  });
});

/** readFileInRootfsDiff reads one file out of a rootfs-diff.tar. */
async function readFileInRootfsDiff(path: string, name: string): Promise<string> {
  const extract = tar.extract();
  const data = await readFile(path);
  let found = '';
  const done = (async () => {
    for await (const e of extract) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      if (e.header.name === name) found = Buffer.concat(chunks).toString().trim();
    }
  })();
  extract.end(data);
  await done;
  return found;
}
