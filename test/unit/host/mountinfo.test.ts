import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownMountPoints, parseMountinfo, unescapeMountinfo } from '../../../src/host/mountinfo.js';

const TEXT = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '30 22 0:5 / /proc rw,nosuid,nodev,noexec - proc proc rw',
  '41 22 0:44 /sub\\040dir /mnt/with\\040space\\134x ro,nosuid - tmpfs my\\040src rw,size=64k',
  'garbage line',
  '',
].join('\n');

test('parseMountinfo reads point, root, type, source and options, escapes undone', () => {
  const m = parseMountinfo(TEXT);
  assert.equal(m.length, 3);
  assert.deepEqual(m[2], {
    point: '/mnt/with space\\x',
    root: '/sub dir',
    fstype: 'tmpfs',
    source: 'my src',
    options: ['ro', 'nosuid'],
  });
  assert.deepEqual(
    m.map((e) => [e.point, e.fstype]),
    [
      ['/', 'ext4'],
      ['/proc', 'proc'],
      ['/mnt/with space\\x', 'tmpfs'],
    ],
  );
});

test('optional fields before the separator do not shift the type', () => {
  const [e] = parseMountinfo('50 22 0:50 / /a rw shared:7 master:3 - overlay overlay rw,lowerdir=/l');
  assert.equal(e?.fstype, 'overlay');
  assert.equal(e?.point, '/a');
});

test('unescapeMountinfo undoes octal escapes only', () => {
  assert.equal(unescapeMountinfo('a\\040b\\011c\\012d\\134e'), 'a b\tc\nd\\e');
  assert.equal(unescapeMountinfo('plain\\x'), 'plain\\x');
});

test('ownMountPoints includes the root', async () => {
  assert.ok((await ownMountPoints())?.includes('/'));
});
