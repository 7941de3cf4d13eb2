import assert from 'node:assert/strict';
import { test } from 'node:test';
import { overlayDirs, overlayOptions, overlayWorkdir } from '../../../src/host/overlay.js';

const OPTS = ['index=off', 'workdir=/s/2/work', 'upperdir=/s/2/fs', 'lowerdir=/s/1/fs:/s/0/fs'];

test('overlayOptions reads lowerdir (top first), upperdir and workdir', () => {
  assert.deepEqual(overlayOptions(OPTS), {
    lowers: ['/s/1/fs', '/s/0/fs'],
    upper: '/s/2/fs',
    work: '/s/2/work',
  });
  assert.deepEqual(overlayOptions(['ro']), { lowers: [] });
});

test('overlayDirs needs an overlay with an upper dir', () => {
  assert.deepEqual(overlayDirs({ type: 'overlay', options: OPTS }), {
    upper: '/s/2/fs',
    lowers: ['/s/1/fs', '/s/0/fs'],
  });
  assert.equal(overlayDirs({ type: 'overlay', options: ['lowerdir=/a:/b'] }), undefined);
  assert.equal(overlayDirs({ type: 'bind', options: ['rbind'] }), undefined);
});

test('overlayWorkdir is the work dir of an overlay only', () => {
  assert.equal(overlayWorkdir({ type: 'overlay', options: OPTS }), '/s/2/work');
  assert.equal(overlayWorkdir({ type: 'bind', options: ['workdir=/x'] }), undefined);
});
