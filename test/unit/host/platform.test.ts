import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goArch, hostArchitecture } from '../../../src/host/platform.js';

test("goArch spells Node's arch as Go's GOARCH (one answer for images, commit, checkpoints)", () => {
  assert.equal(goArch('x64'), 'amd64');
  assert.equal(goArch('ia32'), '386');
  assert.equal(goArch('arm64'), 'arm64');
  assert.equal(goArch('arm'), 'arm');
  assert.equal(goArch('mipsel'), 'mipsle');
  assert.equal(goArch('ppc64', 'LE'), 'ppc64le');
  assert.equal(goArch('ppc64', 'BE'), 'ppc64');
  assert.equal(goArch('s390x'), 's390x');
});

test('hostArchitecture is goArch of this process', () => {
  assert.equal(hostArchitecture(), goArch(process.arch));
});
