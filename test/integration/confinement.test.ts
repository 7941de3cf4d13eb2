// Confinement as a user sees it from inside the container (issue 11): capabilities, seccomp,
// no_new_privs, privileged containers, masked and read-only paths, exec --privileged/--user, and a
// checkpoint round trip that keeps them. Real containerd, runc and CRIU; the docker CLI and raw HTTP.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ckptdFixture, IMG } from '../helpers/fixture.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-conf';
const DEFAULT_CAPS = '00000000a80425fb';

/** status reads fields of a /proc/<pid>/status text. */
function status(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((l) => /^([A-Za-z_]+):\s*(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
}

describe('confinement through ckptd', () => {
  const f = ckptdFixture({ ns: NS });
  const { docker, fails: dockerFails, api } = f;
  /** runStatus runs a container with `flags` and returns its init's /proc/self/status fields. */
  const runStatus = async (...flags: string[]) =>
    status(await docker('run', '--rm', ...flags, IMG, 'cat', '/proc/self/status'));

  test("a default container has Docker's capabilities, seccomp filter mode and no no_new_privs", async () => {
    const s = await runStatus();
    assert.equal(s.CapEff, DEFAULT_CAPS);
    assert.equal(s.CapBnd, DEFAULT_CAPS);
    assert.equal(s.CapInh, '0000000000000000');
    assert.equal(s.NoNewPrivs, '0');
    assert.equal(s.Seccomp, '2');
  });

  test('the default seccomp profile refuses unshare of a user namespace (EPERM)', async () => {
    const out = await docker('run', '--rm', IMG, 'sh', '-c', 'unshare -Urm true 2>&1; echo "rc=$?"');
    assert.match(out, /Operation not permitted/);
    assert.match(out, /rc=1$/m);
    // with CAP_SYS_ADMIN the profile allows unshare (capability-conditioned rules)
    const admin = await docker(
      'run',
      '--rm',
      '--cap-add',
      'sys_admin',
      IMG,
      'sh',
      '-c',
      'unshare -m true; echo "rc=$?"',
    );
    assert.match(admin, /^rc=0$/m);
  });

  test('--cap-drop ALL gives CapEff 0 and keeps seccomp; --cap-add/--cap-drop tweak the default set', async () => {
    const none = await runStatus('--cap-drop', 'ALL');
    assert.equal(none.CapEff, '0000000000000000');
    assert.equal(none.CapBnd, '0000000000000000');
    assert.equal(none.Seccomp, '2');
    // drop CHOWN (bit 0), add NET_ADMIN (bit 12)
    const tweaked = await runStatus('--cap-drop', 'chown', '--cap-add', 'CAP_NET_ADMIN');
    assert.equal(tweaked.CapEff, (0xa80425fbn - 1n + (1n << 12n)).toString(16).padStart(16, '0'));
  });

  test('unknown capabilities and options are refused with 400 naming the field', async () => {
    assert.match(
      await dockerFails('run', '--rm', '--cap-add', 'foo', IMG, 'true'),
      /HostConfig\.CapAdd: unknown capability: "CAP_FOO"/,
    );
    assert.match(
      await dockerFails('run', '--rm', '--security-opt', 'apparmor=docker-default', IMG, 'true'),
      /HostConfig\.SecurityOpt: AppArmor is not enabled/,
    );
    const r = await api('POST', '/containers/create', { Image: IMG, HostConfig: { SecurityOpt: ['xyz'] } });
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).message, /invalid --security-opt 1: "xyz"/);
  });

  test('seccomp=unconfined turns the filter off; no-new-privileges sets NoNewPrivs', async () => {
    assert.equal((await runStatus('--security-opt', 'seccomp=unconfined')).Seccomp, '0');
    assert.equal((await runStatus('--security-opt', 'no-new-privileges')).NoNewPrivs, '1');
    assert.equal((await runStatus('--security-opt', 'no-new-privileges=false')).NoNewPrivs, '0');
  });

  test('a custom seccomp profile file (--security-opt seccomp=FILE) blocks mkdir', async () => {
    const profile = join(f.work, 'no-mkdir.json');
    await writeFile(
      profile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      }),
    );
    const out = await docker(
      'run',
      '--rm',
      '--security-opt',
      `seccomp=${profile}`,
      IMG,
      'sh',
      '-c',
      'mkdir /tmp/d 2>&1; echo "rc=$?"; touch /tmp/f && echo touched; grep Seccomp: /proc/self/status',
    );
    assert.match(out, /mkdir: can't create directory '\/tmp\/d': Operation not permitted/);
    assert.match(out, /^rc=1$/m);
    assert.match(out, /^touched$/m);
    assert.match(out, /^Seccomp:\s+2$/m);
  });

  test('--privileged: every capability ckptd holds, host devices, no seccomp, writable /sys', async () => {
    const mine = status(await readFile('/proc/self/status', 'utf8'));
    const out = await docker(
      'run',
      '--rm',
      '--privileged',
      IMG,
      'sh',
      '-c',
      'cat /proc/self/status; ls /dev; grep " /sys " /proc/self/mountinfo; grep -c "/proc/" /proc/self/mountinfo; true',
    );
    const s = status(out);
    assert.equal(s.CapEff, mine.CapEff);
    assert.equal(s.CapBnd, mine.CapEff);
    assert.equal(s.Seccomp, '0');
    // a host device the default container does not get (loop devices, or any other host node)
    const hostDev = (await execFileP('ls', ['/dev'])).stdout
      .split('\n')
      .find((n) => /^(loop\d+|loop-control|kmsg|mem)$/.test(n));
    if (hostDev) assert.match(out, new RegExp(`^${hostDev}$`, 'm'));
    assert.match(out, / \/sys rw,/);
    assert.match(out, /^0$/m, 'no masked or read-only /proc paths');
    const plain = await docker('run', '--rm', IMG, 'sh', '-c', 'ls /dev; grep " /sys " /proc/self/mountinfo');
    if (hostDev) assert.doesNotMatch(plain, new RegExp(`^${hostDev}$`, 'm'));
    assert.match(plain, / \/sys ro,/);
  });

  test('MaskedPaths/ReadonlyPaths replace the defaults; systempaths=unconfined removes them', async () => {
    const r = await api('POST', '/containers/create', {
      Image: IMG,
      Cmd: [
        'sh',
        '-c',
        'wc -c < /proc/cpuinfo; grep -c " /proc/sys " /proc/self/mountinfo; grep -c " /proc/kcore\\| /proc/keys " /proc/self/mountinfo; true',
      ],
      HostConfig: { MaskedPaths: ['/proc/cpuinfo'], ReadonlyPaths: [] },
    });
    assert.equal(r.status, 201, r.body);
    const id = JSON.parse(r.body).Id as string;
    const hc = JSON.parse(await docker('inspect', id))[0].HostConfig;
    assert.deepEqual([hc.MaskedPaths, hc.ReadonlyPaths], [['/proc/cpuinfo'], []]);
    await docker('start', id);
    assert.equal((await docker('wait', id)).trim(), '0');
    assert.deepEqual((await docker('logs', id)).trim().split('\n'), ['0', '0', '0']);
    await docker('rm', id);
    const u = await docker(
      'run',
      '--rm',
      '--security-opt',
      'systempaths=unconfined',
      IMG,
      'sh',
      '-c',
      'grep -c " /proc/" /proc/self/mountinfo || true',
    );
    assert.equal(u.trim(), '0');
    const def = JSON.parse(await docker('inspect', (await docker('create', IMG, 'true')).trim()))[0]
      .HostConfig;
    assert.ok(def.MaskedPaths.includes('/proc/keys') && def.ReadonlyPaths.includes('/proc/sys'));
  });

  test('exec --privileged gets every capability, plain exec the container set; exec --user resolves /etc/passwd', async () => {
    const id = (await docker('run', '-d', '--cap-drop', 'ALL', IMG, 'sleep', '1000')).trim();
    try {
      const mine = status(await readFile('/proc/self/status', 'utf8'));
      assert.equal(status(await docker('exec', id, 'cat', '/proc/self/status')).CapEff, '0000000000000000');
      const p = status(await docker('exec', '--privileged', id, 'cat', '/proc/self/status'));
      assert.equal(p.CapEff, mine.CapEff);
      assert.equal(p.Seccomp, '2', "the container's seccomp profile still applies, as in dockerd");
      assert.equal(
        (await docker('exec', '--user', 'nobody', id, 'id')).trim(),
        'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)',
      );
      assert.equal((await docker('exec', '-u', '1234:55', id, 'id', '-u')).trim(), '1234');
      assert.match(
        await dockerFails('exec', '--detach-keys', 'ctrl-x', id, 'true'),
        /DetachKeys: detach keys are not implemented/,
      );
    } finally {
      await docker('rm', '-f', id);
    }
  });

  test('GET /info lists the builtin seccomp profile and no AppArmor/SELinux', async () => {
    const info = JSON.parse((await api('GET', '/info')).body) as { SecurityOptions: string[] };
    assert.ok(info.SecurityOptions.includes('name=seccomp,profile=builtin'));
    assert.ok(!info.SecurityOptions.some((o) => /apparmor|selinux/.test(o)));
  });

  test('checkpoint and restore keep --cap-drop ALL and the default seccomp filter', async () => {
    const id = (
      await docker(
        'run',
        '-d',
        '--cap-drop',
        'ALL',
        IMG,
        'sh',
        '-c',
        'i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.1; done',
      )
    ).trim();
    try {
      await new Promise((r) => setTimeout(r, 500));
      await docker('checkpoint', 'create', id, 'cp1');
      await docker('start', '--checkpoint', 'cp1', id);
      const pid = JSON.parse(await docker('inspect', id))[0].State.Pid as number;
      const s = status(await readFile(`/proc/${pid}/status`, 'utf8'));
      assert.equal(s.CapEff, '0000000000000000');
      assert.equal(s.CapBnd, '0000000000000000');
      assert.equal(s.Seccomp, '2');
      const spec = (await docker('exec', id, 'sh', '-c', 'sleep 0.3; cat /tmp/n')).trim();
      assert.ok(Number(spec) > 1, `the counter goes on after restore (${spec})`);
      // restored into a new container: its spec carries the same confinement (inspect tells it)
      await docker('stop', '-t', '0', id);
      const r = await api('POST', `/containers/${id}/restore?checkpoint=cp1&name=conf-clone`);
      assert.equal(r.status, 201, r.body);
      const clone = JSON.parse(await docker('inspect', 'conf-clone'))[0];
      assert.deepEqual(clone.HostConfig.CapDrop, ['ALL']);
      const cs = status(await readFile(`/proc/${clone.State.Pid as number}/status`, 'utf8'));
      assert.deepEqual([cs.CapEff, cs.Seccomp], ['0000000000000000', '2']);
      const exec = status(await docker('exec', 'conf-clone', 'cat', '/proc/self/status'));
      assert.deepEqual([exec.CapEff, exec.Seccomp], ['0000000000000000', '2']);
    } finally {
      await docker('rm', '-f', id);
      await docker('rm', '-f', 'conf-clone').catch(() => undefined);
    }
  });
});
