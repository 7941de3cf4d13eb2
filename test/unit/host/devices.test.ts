import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { devMajor, devMinor, hostDevices } from '../../../src/host/devices.js';

describe('host devices (containerd HostDevices)', () => {
  it('decodes dev_t as glibc', () => {
    assert.equal(devMajor(0x103n), 1);
    assert.equal(devMinor(0x103n), 3);
    // major 259, minor 1048575 in the large encoding
    const rdev = (0xfffffn & 0xffn) | ((259n & 0xfffn) << 8n) | ((0xfffffn & ~0xffn) << 12n);
    assert.equal(devMajor(rdev), 259);
    assert.equal(devMinor(rdev), 0xfffff);
  });

  it('lists /dev nodes without console, pts or symlinks', async () => {
    const devs = await hostDevices();
    const devNull = devs.find((d) => d.path === '/dev/null');
    assert.deepEqual(devNull && { type: devNull.type, major: devNull.major, minor: devNull.minor }, {
      type: 'c',
      major: 1,
      minor: 3,
    });
    assert.ok(!devs.some((d) => d.path === '/dev/console' || d.path.startsWith('/dev/pts/')));
    assert.ok(!devs.some((d) => d.path === '/dev/stdin' || d.path === '/dev/fd'));
  });
});
