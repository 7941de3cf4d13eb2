// Pure helpers of docker cp's archives: Go FileMode bits and the path-stat header, moby's
// container path cleaning (trailing `/` and `/.`), tar entry name cleaning and the
// link-stays-in-destination check of extraction.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  ArchiveBreakoutError,
  baseName,
  cleanEntryName,
  containerAbsPath,
  decodePathStat,
  encodePathStat,
  GoFileMode,
  goFileMode,
  linkStaysInside,
} from '../../../src/archive/container-archive.js';
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
