// Pure helpers of docker cp's archives: Go FileMode bits and the path-stat header, moby's
// container path cleaning (trailing `/` and `/.`), tar entry name cleaning and the
// link-stays-in-destination check of extraction; and docker cp out's tar, made by GNU tar.
import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';

import {
  ArchiveBreakoutError,
  baseName,
  cleanEntryName,
  containerAbsPath,
  decodePathStat,
  encodePathStat,
  GoFileMode,
  goFileMode,
  kernelMountPoints,
  linkStaysInside,
  statPath,
  tarPathSource,
} from '../../../src/archive/container-archive.js';
import { ScopedRoot } from '../../../src/archive/scoped-fs.js';
import { InvalidArgumentError } from '../../../src/errors/index.js';

describe('goFileMode', () => {
  it('keeps the permission bits of a regular file and adds no type bit', () => {
    assert.equal(goFileMode(0o100644), 0o644);
  });
  it('maps directories, symlinks, FIFOs and sockets to Go type bits', () => {
    assert.equal(goFileMode(0o040755), GoFileMode.dir + 0o755);
    assert.equal(goFileMode(0o120777), GoFileMode.symlink + 0o777);
    assert.equal(goFileMode(0o010600), GoFileMode.namedPipe + 0o600);
    assert.equal(goFileMode(0o140755), GoFileMode.socket + 0o755);
  });
  it('marks a char device with both ModeDevice and ModeCharDevice, a block device with ModeDevice', () => {
    assert.equal(goFileMode(0o020666), GoFileMode.device + GoFileMode.charDevice + 0o666);
    assert.equal(goFileMode(0o060660), GoFileMode.device + 0o660);
  });
  it('moves setuid, setgid and sticky to Go bits (a 1777 dir is 2148532735, as Docker sends it)', () => {
    assert.equal(goFileMode(0o104755), GoFileMode.setuid + 0o755);
    assert.equal(goFileMode(0o102755), GoFileMode.setgid + 0o755);
    assert.equal(goFileMode(0o041777), 2148532735);
  });
});

describe('encodePathStat', () => {
  const stat = { name: 'a.txt', size: 5, mode: 0o644, mtime: '2024-01-02T03:04:05.000Z', linkTarget: '' };
  it('renders base64 JSON with Docker PathStat field order', () => {
    const json = Buffer.from(encodePathStat(stat), 'base64').toString('utf8');
    assert.equal(
      json,
      '{"name":"a.txt","size":5,"mode":420,"mtime":"2024-01-02T03:04:05.000Z","linkTarget":""}',
    );
  });
  it('keeps the field order whatever the order of the object it is given', () => {
    const shuffled = {
      linkTarget: '/data',
      mtime: stat.mtime,
      mode: GoFileMode.symlink + 0o777,
      size: 4,
      name: 'lnk',
    };
    const json = Buffer.from(encodePathStat(shuffled), 'base64').toString('utf8');
    assert.match(json, /^\{"name":"lnk","size":4,"mode":134218239,"mtime":"[^"]+","linkTarget":"\/data"\}$/);
  });
  it('round-trips through decodePathStat, high mode bits included', () => {
    const dir = { ...stat, name: 'd', mode: GoFileMode.dir + GoFileMode.sticky + 0o777 };
    assert.deepEqual(decodePathStat(encodePathStat(dir)), dir);
  });
});

describe('containerAbsPath', () => {
  const cases: [string, string, boolean][] = [
    ['data', '/data', false],
    ['/data', '/data', false],
    ['/data/', '/data/', true],
    ['/data/.', '/data/.', true],
    ['data//sub///', '/data/sub/', true],
    ['/a/./b', '/a/b', false],
    ['/a/b/..', '/a', false],
    ['/../../etc/passwd', '/etc/passwd', false],
    ['../x', '/x', false],
    ['/..foo', '/..foo', false],
    ['/..', '/', true],
    ['/', '/', true],
    ['.', '/', true],
    ['', '/', true],
  ];
  for (const [input, abs, followFinal] of cases) {
    it(`cleans ${JSON.stringify(input)} to ${abs} (followFinal ${followFinal})`, () => {
      assert.deepEqual(containerAbsPath(input), { abs, followFinal });
    });
  }
});

describe('baseName', () => {
  it('is Go filepath.Base: the last element, trailing slashes ignored, / for the root', () => {
    assert.equal(baseName('/a/b'), 'b');
    assert.equal(baseName('/a/b/'), 'b');
    assert.equal(baseName('/'), '/');
    assert.equal(baseName('/..foo'), '..foo');
  });
});

describe('cleanEntryName', () => {
  it('cleans names relative to the destination', () => {
    assert.equal(cleanEntryName('a/b'), 'a/b');
    assert.equal(cleanEntryName('./a/'), 'a');
    assert.equal(cleanEntryName('a//./b'), 'a/b');
    assert.equal(cleanEntryName('a/../b'), 'b');
    assert.equal(cleanEntryName('..foo'), '..foo');
  });
  it('names the destination itself with the empty string', () => {
    for (const n of ['.', './', '', '/', 'a/..']) assert.equal(cleanEntryName(n), '', n);
  });
  it('lands absolute names inside the destination', () => {
    assert.equal(cleanEntryName('/etc/passwd'), 'etc/passwd');
    assert.equal(cleanEntryName('/../x'), 'x');
  });
  it('refuses names climbing out of the destination as breakouts', () => {
    for (const n of ['..', '../x', 'a/../../x', './../x']) {
      assert.throws(() => cleanEntryName(n), ArchiveBreakoutError, n);
    }
  });
  it('refuses names holding a NUL byte', () => {
    assert.throws(() => cleanEntryName('a\0b'), InvalidArgumentError);
  });
});

describe('linkStaysInside', () => {
  it('accepts relative targets that stay in the destination', () => {
    assert.equal(linkStaysInside('', 'a'), true);
    assert.equal(linkStaysInside('', '.'), true);
    assert.equal(linkStaysInside('sub', '../x'), true);
    assert.equal(linkStaysInside('a/b', '../../c'), true);
    assert.equal(linkStaysInside('', '..foo'), true);
  });
  it('refuses targets climbing above the destination', () => {
    assert.equal(linkStaysInside('', '..'), false);
    assert.equal(linkStaysInside('', '../x'), false);
    assert.equal(linkStaysInside('sub', '../../x'), false);
    assert.equal(linkStaysInside('a/b', '../../..'), false);
    assert.equal(linkStaysInside('', 'a/../../x'), false);
  });
  it('joins absolute targets to the destination, as moby does', () => {
    assert.equal(linkStaysInside('', '/etc/passwd'), true);
    assert.equal(linkStaysInside('sub', '/../x'), true);
  });
});

describe('tarPathSource (docker cp out by GNU tar in the pinned directory)', () => {
  const entriesOf = async (root: ScopedRoot, path: string, skip: string[] = []) => {
    const r = await statPath(root, path);
    const rebase = r.abs === '/' ? '.' : r.stat.name;
    const t = await tarPathSource(root, r.resolved, rebase, { skipContentsOf: skip });
    const out: string[] = [];
    const extract = tar.extract();
    const reading = (async () => {
      for await (const e of extract) {
        const h = e.header;
        const body: Buffer[] = [];
        for await (const c of e) body.push(c as Buffer);
        out.push(
          `${h.type} ${h.name}${h.linkname ? ` -> ${h.linkname}` : ''}${body.length ? ` = ${Buffer.concat(body).toString()}` : ''}`,
        );
      }
    })();
    await pipeline(t.source.open(), extract);
    await reading;
    await t.close();
    await r.resolved.close();
    return out;
  };
  let dir: string;
  let root: ScopedRoot;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ckptd-cpout-'));
    await mkdir(join(dir, 'w', 'x'), { recursive: true });
    await writeFile(join(dir, 'w', 'x', 'a'), 'hi');
    await link(join(dir, 'w', 'x', 'a'), join(dir, 'w', 'x', 'hard'));
    await symlink('/etc', join(dir, 'w', 'x', 'out'));
    await mkdir(join(dir, 'odd,na&me\\\n'));
    await writeFile(join(dir, 'odd,na&me\\\n', 'f'), '1');
    await symlink('w', join(dir, 'wl'));
    await mkdir(join(dir, 'proc', 'self'), { recursive: true });
    await writeFile(join(dir, 'proc', 'self', 'status'), 'x');
    root = await ScopedRoot.open(dir);
  });
  after(async () => {
    await root.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('rebases a directory to its name, sorted, hardlinks by inode, symlinks never followed', async () => {
    assert.deepEqual(await entriesOf(root, '/w'), [
      'directory w/',
      'directory w/x/',
      'file w/x/a = hi',
      'link w/x/hard -> w/x/a',
      'symlink w/x/out -> /etc',
    ]);
  });

  it('names through a followed symlink by the path given, as docker cp', async () => {
    assert.deepEqual(await entriesOf(root, '/wl/'), [
      'directory wl/',
      'directory wl/x/',
      'file wl/x/a = hi',
      'link wl/x/hard -> wl/x/a',
      'symlink wl/x/out -> /etc',
    ]);
    assert.deepEqual(await entriesOf(root, '/wl'), ['symlink wl -> w']);
  });

  it('copes with names holding tar --transform metacharacters and a newline', async () => {
    assert.deepEqual(await entriesOf(root, '/odd,na&me\\\n'), [
      'directory odd,na&me\\\n/',
      'file odd,na&me\\\n/f = 1',
    ]);
  });

  it('a single file keeps its name; the root is ./', async () => {
    assert.deepEqual(await entriesOf(root, '/w/x/a'), ['file a = hi']);
    const all = await entriesOf(root, '/', ['/proc']);
    assert.ok(all.includes('directory ./proc/'));
    assert.ok(!all.some((e) => e.includes('./proc/self')), 'kernel mount contents left out');
    assert.ok(all.includes('file ./w/x/a = hi'));
  });

  it("kernelMountPoints lists a container's kernel and memory mounts from its mountinfo", () => {
    const info = [
      '600 500 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w',
      '601 600 0:52 / /proc rw,nosuid - proc proc rw',
      '602 600 0:53 / /dev rw,nosuid - tmpfs tmpfs rw,mode=755',
      '603 602 0:54 / /dev/pts rw - devpts devpts rw',
      '604 600 0:55 / /sys ro - sysfs sysfs ro',
      '605 600 254:1 /c/hosts /etc/hosts rw - ext4 /dev/vda1 rw',
      '606 600 0:56 / /my\\040data rw - tmpfs tmpfs rw',
    ].join('\n');
    assert.deepEqual(kernelMountPoints(info), ['/proc', '/dev', '/dev/pts', '/sys', '/my data']);
  });
});
