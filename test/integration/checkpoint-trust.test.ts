// Archives never choose privileges (issue 11), against a real containerd 1.6, runc and CRIU 4:
// a checkpoint archive whose CRIU images were edited to ask for more than the container's spec
// grants (capabilities, a host bind, the host's network namespace) is refused with 400 naming
// the image, before CRIU runs, leaving no container, snapshot, lease or staging directory; an
// untouched archive still restores; a kept import's ckptd.dump never brings binds or host
// networking back; checkpoint directories outside the data root and --checkpoint-dirs are 403.
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { before, describe, test } from 'node:test';
import tar from 'tar-stream';
import { decodeImage, encodeImage, criuRoot, type MntEntry } from '../../src/criu/images.js';
import { ckptdFixture, COUNTER, IMG } from '../helpers/fixture.js';

const NS = 'ckptd-trust';
const CAP_SYS_ADMIN = 21;

interface Entry {
  header: tar.Header;
  body: Buffer;
}

/** untar reads a whole (small, uncompressed) archive. */
async function untar(buf: Buffer): Promise<Entry[]> {
  const ex = tar.extract();
  const out: Entry[] = [];
  ex.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      out.push({ header, body: Buffer.concat(chunks) });
      next();
    });
  });
  const done = new Promise<void>((res, rej) => {
    ex.on('finish', () => res());
    ex.on('error', rej);
  });
  Readable.from([buf]).pipe(ex);
  await done;
  return out;
}

async function retar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    if (e.header.type === 'file') pack.entry({ ...e.header, size: e.body.length }, e.body);
    else pack.entry({ ...e.header, size: 0 });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** edit rewrites the archive's members named in `edits` (path -> new content). */
async function edit(archive: Buffer, edits: Record<string, (b: Buffer) => Buffer>): Promise<Buffer> {
  const entries = await untar(archive);
  for (const [name, fn] of Object.entries(edits)) {
    const e = entries.find((x) => x.header.name.replace(/^\.\//, '') === name);
    assert.ok(e, `${name} in the archive (${entries.map((x) => x.header.name).join(', ')})`);
    e.body = fn(e.body);
  }
  return retar(entries);
}

// ---- protobuf wire-level surgery: core_entry is only partly declared in protos/criu, so an
// edited core image keeps every other byte (registers, signals...) as CRIU wrote it ----

function readVarint(b: Buffer, off: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const byte = b[off++]!;
    v += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) return [v, off];
    mul *= 128;
  }
}

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** replaceField swaps the bytes of the length-delimited field `path` (nested field numbers). */
function replaceField(msg: Buffer, path: number[], fn: (b: Buffer) => Buffer): Buffer {
  const [num, ...rest] = path;
  const parts: Buffer[] = [];
  let off = 0;
  let found = false;
  while (off < msg.length) {
    const start = off;
    const [key, o1] = readVarint(msg, off);
    const wire = key & 7;
    const field = Math.floor(key / 8);
    let end: number;
    if (wire === 0) end = readVarint(msg, o1)[1];
    else if (wire === 1) end = o1 + 8;
    else if (wire === 5) end = o1 + 4;
    else if (wire === 2) {
      const [len, o2] = readVarint(msg, o1);
      end = o2 + len;
      if (field === num) {
        const inner = msg.subarray(o2, end);
        const next = rest.length === 0 ? fn(inner) : replaceField(inner, rest, fn);
        parts.push(varint(key), varint(next.length), next);
        off = end;
        found = true;
        continue;
      }
    } else throw new Error(`wire type ${wire}`);
    parts.push(msg.subarray(start, end));
    off = end;
  }
  assert.ok(found, `field ${num} present`);
  return Buffer.concat(parts);
}

/** editImage rewrites every entry of an image file (magic and framing kept). */
function editEntries(file: Buffer, fn: (entry: Buffer) => Buffer): Buffer {
  const magicLen = file.readUInt32LE(0) === 0x54564319 ? 8 : 4;
  const parts: Buffer[] = [file.subarray(0, magicLen)];
  let off = magicLen;
  while (off < file.length) {
    const size = file.readUInt32LE(off);
    const next = fn(file.subarray(off + 4, off + 4 + size));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(next.length, 0);
    parts.push(head, next);
    off += 4 + size;
  }
  return Buffer.concat(parts);
}

/** withCaps adds a capability to a core image's effective and bounding sets (thread_core.creds). */
function withCaps(file: Buffer, bit: number): Buffer {
  const creds = criuRoot.lookupType('creds_entry');
  return editEntries(file, (entry) =>
    replaceField(entry, [5, 10], (c) => {
      const o = creds.toObject(creds.decode(c)) as { cap_eff: number[]; cap_bnd: number[] };
      const word = Math.floor(bit / 32);
      for (const set of [o.cap_eff, o.cap_bnd]) set[word] = ((set[word] ?? 0) | (1 << (bit % 32))) >>> 0;
      return Buffer.from(creds.encode(creds.fromObject(o)).finish());
    }),
  );
}

/** dropFields removes the top-level fields `nums` of a message (any wire type). */
function dropFields(msg: Buffer, nums: number[]): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  while (off < msg.length) {
    const start = off;
    const [key, o1] = readVarint(msg, off);
    const wire = key & 7;
    let end: number;
    if (wire === 0) end = readVarint(msg, o1)[1];
    else if (wire === 1) end = o1 + 8;
    else if (wire === 5) end = o1 + 4;
    else if (wire === 2) {
      const [len, o2] = readVarint(msg, o1);
      end = o2 + len;
    } else throw new Error(`wire type ${wire}`);
    if (!nums.includes(Math.floor(key / 8))) parts.push(msg.subarray(start, end));
    off = end;
  }
  return Buffer.concat(parts);
}

/** withoutSeccomp clears a core image's seccomp mode and filter (thread_core fields 11, 12): unconfined. */
function withoutSeccomp(file: Buffer): Buffer {
  return editEntries(file, (entry) => replaceField(entry, [5], (tc) => dropFields(tc, [11, 12])));
}

describe('archives never choose privileges', () => {
  const f = ckptdFixture({ ns: NS, start: false });
  const { docker, api, ctr, until } = f;
  let allowed: string;
  let archive: Buffer;

  const execOut = async (ref: string, ...cmd: string[]) => (await docker('exec', ref, ...cmd)).trim();
  const counter = async (ref: string) => Number(await execOut(ref, 'cat', '/tmp/c'));
  const leftovers = async () => ({
    containers: await ctr('containers', 'ls', '-q'),
    snapshots: (await ctr('snapshots', 'ls')).split('\n').length,
    leases: await ctr('leases', 'ls', '-q'),
    staging: (await readdir(join(f.dataRoot, 'checkpoint-staging')).catch(() => [])).join(','),
  });
  const importArchive = (body: Buffer, query: string) =>
    f.apiBuffer('POST', `/containers/x/restore?import=1&${query}`, body, {
      'content-type': 'application/x-tar',
    });

  before(async () => {
    allowed = join(f.work, 'allowed');
    await mkdir(allowed);
    await mkdir(join(f.work, 'outside'));
    await f.start(['--checkpoint-dirs', allowed]);
    await docker('run', '-d', '--network', 'none', '--name', 'src', IMG, 'sh', '-c', COUNTER);
    await until('the counter to pass 5', async () => (await counter('src')) > 5);
    const exp = await f.apiBuffer('POST', '/containers/src/checkpoint?export=1&compress=none');
    assert.equal(exp.status, 200, exp.body.toString().slice(0, 300));
    archive = exp.body;
  });

  /** refusedImport imports `body` and expects a 400 naming `re`, with nothing left behind. */
  const refusedImport = async (body: Buffer, re: RegExp) => {
    const before = await leftovers();
    const r = await importArchive(body, 'name=hostile');
    assert.equal(r.status, 400, r.body.toString());
    const msg = (JSON.parse(r.body.toString()) as { message: string }).message;
    assert.match(msg, re);
    console.log(`# refused: ${msg}`);
    assert.deepEqual(await leftovers(), before);
    assert.equal((await api('GET', '/containers/hostile/json')).status, 404);
  };

  test('a core image with CAP_SYS_ADMIN added to the effective and bounding sets is refused', async () => {
    const bad = await edit(archive, { 'checkpoint/core-1.img': (b) => withCaps(b, CAP_SYS_ADMIN) });
    // the edit took: the image now decodes with CAP_SYS_ADMIN
    const core = decodeImage(
      'core-1.img',
      withCaps((await untar(archive)).find((e) => e.header.name.endsWith('core-1.img'))!.body, CAP_SYS_ADMIN),
      'CORE',
    );
    assert.ok(((core[0]?.thread_core?.creds?.cap_eff?.[0] ?? 0) >>> CAP_SYS_ADMIN) & 1);
    await refusedImport(
      bad,
      /^checkpoint image core-1\.img: thread 1 capability CAP_SYS_ADMIN \(effective\) is not in the container's capability set$/,
    );
  });

  test('a core image whose task runs without the seccomp filter the spec has is refused', async () => {
    const core = (await untar(archive)).find((e) => e.header.name.endsWith('core-1.img'))!.body;
    // the dumped task ran under ckptd's default seccomp profile; the edit takes it away
    assert.equal(decodeImage('core-1.img', core, 'CORE')[0]?.thread_core?.seccomp_mode, 2);
    assert.equal(
      decodeImage('core-1.img', withoutSeccomp(core), 'CORE')[0]?.thread_core?.seccomp_mode,
      undefined,
    );
    await refusedImport(
      await edit(archive, { 'checkpoint/core-1.img': withoutSeccomp }),
      /^checkpoint image core-1\.img: thread 1 seccomp_mode is disabled, the container's spec has a seccomp filter$/,
    );
  });

  test('a mountpoints image adding a bind of a host directory is refused', async () => {
    const entries = await untar(archive);
    const name = entries.map((e) => e.header.name).find((n) => /checkpoint\/mountpoints-\d+\.img$/.test(n));
    assert.ok(name);
    const bad = await edit(archive, {
      [name.replace(/^\.\//, '')]: (b) => {
        const mounts = decodeImage('mountpoints.img', b, 'MNTS');
        const root = mounts.find((m) => m.mountpoint === '/');
        assert.ok(root);
        const host: MntEntry = {
          fstype: 0,
          mnt_id: 4242,
          root_dev: root.root_dev,
          parent_mnt_id: root.mnt_id,
          flags: 0,
          root: '/etc',
          mountpoint: '/host',
          source: '/dev/vda',
          options: '',
          ext_key: '/host',
        };
        return encodeImage('MNTS', [...mounts, host]);
      },
    });
    await refusedImport(
      bad,
      /^checkpoint image mountpoints-\d+\.img: mount \/host \(external "\/host", root "\/etc"\) is not a bind mount of the container$/,
    );
  });

  test("an ids image putting the task into the host's network namespace is refused", async () => {
    const entries = await untar(archive);
    const inv = decodeImage(
      'inventory.img',
      entries.find((e) => e.header.name.endsWith('checkpoint/inventory.img'))!.body,
      'INVENTORY',
    )[0];
    const hostNet = inv?.root_ids?.net_ns_id;
    assert.ok(hostNet !== undefined);
    const bad = await edit(archive, {
      'checkpoint/ids-1.img': (b) => {
        const [ids] = decodeImage('ids-1.img', b, 'IDS');
        assert.ok(ids);
        return encodeImage('IDS', [{ ...ids, net_ns_id: hostNet }]);
      },
    });
    await refusedImport(
      bad,
      new RegExp(
        `^checkpoint image ids-1\\.img: task 1 net_ns_id ${hostNet} is the host's network namespace`,
      ),
    );
  });

  test('an untouched archive imports and restores (counter continues); a kept import with an edited ckptd.dump gets no binds or host network', async () => {
    // the counter's value in the checkpoint's rootfs diff
    const diff = (await untar(archive)).find((e) => e.header.name.replace(/^\.\//, '') === 'rootfs-diff.tar');
    assert.ok(diff);
    const c = (await untar(diff.body)).find((e) => e.header.name.replace(/^\.?\//, '') === 'tmp/c');
    assert.ok(c);
    const frozen = Number(c.body.toString().trim());
    assert.ok(frozen > 5, `counter in the checkpoint: ${frozen}`);
    const r = await importArchive(archive, 'name=copy');
    assert.equal(r.status, 201, r.body.toString());
    const v = await counter('copy');
    assert.ok(v >= frozen, `continued from the checkpoint (${frozen} -> ${v}), not from 1`);
    console.log(`# untouched archive: counter ${frozen} -> ${v}`);
    await until('copy to keep counting', async () => (await counter('copy')) > v);

    // ckptd.dump asking for a bind of the host's /etc and host networking
    const greedy = await edit(archive, {
      'ckptd.dump': (b) => {
        const dump = JSON.parse(b.toString()) as { HostConfig: Record<string, unknown> };
        dump.HostConfig = {
          ...dump.HostConfig,
          Binds: ['/etc:/host-etc'],
          NetworkMode: 'host',
          Privileged: true,
        };
        return Buffer.from(JSON.stringify(dump));
      },
    });
    const k = await importArchive(greedy, 'name=kept&keep=1');
    assert.equal(k.status, 201, k.body.toString());
    const kept = JSON.parse((await api('GET', '/containers/kept/json')).body) as {
      Id: string;
      HostConfig: { Binds: string[] | null; NetworkMode: string };
    };
    assert.equal(kept.HostConfig.NetworkMode, 'none');
    assert.deepEqual(kept.HostConfig.Binds ?? [], []);
    assert.equal(await execOut('kept', 'sh', '-c', 'test -e /host-etc && echo yes || echo no'), 'no');
    // the kept checkpoint, restored under a new name and in place: still nothing from the dump
    await docker('kill', 'kept');
    const r3 = await api('POST', '/containers/kept/restore?checkpoint=imported&name=kept4');
    assert.equal(r3.status, 201, r3.body);
    const k4 = JSON.parse((await api('GET', '/containers/kept4/json')).body) as {
      HostConfig: { Binds: string[] | null; NetworkMode: string };
    };
    assert.equal(k4.HostConfig.NetworkMode, 'none');
    assert.deepEqual(k4.HostConfig.Binds ?? [], []);
    const mounts = await execOut('kept4', 'cat', '/proc/self/mountinfo');
    assert.doesNotMatch(mounts, /host-etc/);
    assert.equal(await execOut('kept4', 'sh', '-c', 'ls /sys/class/net | tr "\\n" " "'), 'lo');
    const inPlace = await api('POST', '/containers/kept/restore?checkpoint=imported');
    assert.equal(inPlace.status, 201, inPlace.body);
    const k5 = JSON.parse((await api('GET', '/containers/kept/json')).body) as {
      HostConfig: { Binds: string[] | null; NetworkMode: string };
    };
    assert.equal(k5.HostConfig.NetworkMode, 'none');
    assert.equal(await execOut('kept', 'sh', '-c', 'test -e /host-etc && echo yes || echo no'), 'no');
    for (const name of ['copy', 'kept', 'kept4']) await docker('rm', '-f', name);
  });

  test("a restore under a new name takes the source container's recorded binds and tmpfs, never the dump's", async () => {
    const vol = join(f.work, 'vol');
    await mkdir(vol);
    await docker(
      'run',
      '-d',
      '--network',
      'none',
      '--name',
      'vsrc',
      '-v',
      `${vol}:/data`,
      '--tmpfs',
      '/scratch:size=10m',
      IMG,
      'sh',
      '-c',
      COUNTER,
    );
    await until('the counter', async () => (await counter('vsrc')) > 3);
    const ck = await api('POST', '/containers/vsrc/checkpoint?name=v1&leaveRunning=1');
    assert.equal(ck.status, 201, ck.body);
    const r = await api('POST', '/containers/vsrc/restore?checkpoint=v1&name=vcopy');
    assert.equal(r.status, 201, r.body);
    const mounts = (await execOut('vcopy', 'cat', '/proc/self/mountinfo'))
      .split('\n')
      .map((l) => l.split(' ')[4]);
    assert.ok(mounts.includes('/data') && mounts.includes('/scratch'), mounts.join(' '));
    assert.ok((await counter('vcopy')) > 3);
    await docker('rm', '-f', 'vsrc', 'vcopy');
  });

  test('checkpoint directories outside the data root and --checkpoint-dirs are 403; inside they work', async () => {
    await docker('run', '-d', '--network', 'none', '--name', 'cdir', IMG, 'sh', '-c', COUNTER);
    await until('the counter', async () => (await counter('cdir')) > 3);
    const outside = join(f.work, 'outside');
    const r = await api('POST', '/containers/cdir/checkpoints', {
      CheckpointID: 'o1',
      CheckpointDir: outside,
    });
    assert.equal(r.status, 403, r.body);
    assert.match(
      (JSON.parse(r.body) as { message: string }).message,
      /^checkpoint directory ".*outside" is not allowed: it must be under the data root/,
    );
    assert.deepEqual(await readdir(outside), []);
    // `..` out of an allowed directory
    const dots = await api('POST', '/containers/cdir/checkpoints', {
      CheckpointID: 'o2',
      CheckpointDir: `${allowed}/../outside`,
    });
    assert.equal(dots.status, 400, dots.body);
    assert.equal(
      (await api('GET', `/containers/cdir/checkpoints?dir=${encodeURIComponent('/etc')}`)).status,
      403,
    );
    assert.equal(
      (await api('DELETE', `/containers/cdir/checkpoints/x1?dir=${encodeURIComponent(outside)}`)).status,
      403,
    );
    // inside the allowed directory: create, then start from it
    const ok = await api('POST', '/containers/cdir/checkpoints', {
      CheckpointID: 'in1',
      CheckpointDir: allowed,
      Exit: true,
    });
    assert.equal(ok.status, 201, ok.body);
    const denied = await api(
      'POST',
      `/containers/cdir/start?checkpoint=in1&checkpoint-dir=${encodeURIComponent(outside)}`,
    );
    assert.equal(denied.status, 403, denied.body);
    const started = await api(
      'POST',
      `/containers/cdir/start?checkpoint=in1&checkpoint-dir=${encodeURIComponent(allowed)}`,
    );
    assert.equal(started.status, 204, started.body);
    assert.ok((await counter('cdir')) > 3);
    await docker('rm', '-f', 'cdir');
  });
});
