import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkBindSources,
  mergeTmpfsOptions,
  mountPointView,
  parseMounts,
  specMount,
} from '../../../src/oci/mounts.js';
import { buildRuntimeSpec } from '../../../src/oci/runtime-spec.js';

const ID = `0123456789ab${'c'.repeat(52)}`;
const one = (m: Record<string, unknown>) => {
  const [p] = parseMounts([m]);
  assert.ok(p);
  return p;
};

describe('parseMounts: bind', () => {
  it('binds recursively, read-only and with the given propagation, as moby', () => {
    assert.deepEqual(specMount(one({ Type: 'bind', Source: '/src/', Target: '/dst' })), {
      destination: '/dst',
      type: 'bind',
      source: '/src',
      options: ['rbind', 'rprivate'],
    });
    assert.deepEqual(
      specMount(
        one({
          Type: 'bind',
          Source: '/s',
          Target: '/d',
          ReadOnly: true,
          BindOptions: { Propagation: 'rslave', NonRecursive: true },
        }),
      ).options,
      ['bind', 'ro', 'rslave'],
    );
  });

  it('shows binds in inspect as dockerd (Mode empty, Propagation)', () => {
    assert.deepEqual(mountPointView(one({ Type: 'bind', Source: '/s', Target: '/d', ReadOnly: true })), {
      Type: 'bind',
      Source: '/s',
      Destination: '/d',
      Mode: '',
      RW: false,
      Propagation: 'rprivate',
    });
  });

  it("refuses bad binds with dockerd's messages", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { Type: 'bind', Source: '/s' },
        /invalid mount config for type "bind": field Target must not be empty/,
      ],
      [{ Type: 'bind', Source: '/s', Target: '/' }, /destination can't be '\/'/],
      [
        { Type: 'bind', Source: '/s', Target: 'rel' },
        /invalid mount path: 'rel' mount path must be absolute/,
      ],
      [{ Type: 'bind', Target: '/d' }, /field Source must not be empty/],
      [{ Type: 'bind', Source: 'rel', Target: '/d' }, /invalid mount path: 'rel'/],
      [
        { Type: 'bind', Source: '/s', Target: '/d', BindOptions: { Propagation: 'x' } },
        /invalid propagation mode: x/,
      ],
      [
        { Type: 'bind', Source: '/s', Target: '/d', VolumeOptions: {} },
        /field VolumeOptions must not be specified/,
      ],
      [
        {
          Type: 'bind',
          Source: '/s',
          Target: '/d',
          BindOptions: { ReadOnlyForceRecursive: true },
          ReadOnly: true,
        },
        /ReadOnlyForceRecursive/,
      ],
      [{ Type: 'bind', Source: '/s', Target: '/d', BindOptions: { Bogus: 1 } }, /BindOptions\.Bogus/],
      [{ Type: 'bind', Source: '/s', Target: '/d', Extra: 1 }, /unknown field Extra/],
      [
        { Type: 'volume', Source: 'v', Target: '/d', VolumeOptions: { Subpath: 'sub' } },
        /VolumeOptions\.Subpath \(volume-subpath\) is not supported by ckptd/,
      ],
      [
        { Type: 'volume', Source: '', Target: '/d', ReadOnly: true },
        /invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes/,
      ],
      [
        { Type: 'volume', Source: 'v', Target: '/d', BindOptions: { Propagation: 'shared' } },
        /invalid mount config for type "volume": field BindOptions must not be specified/,
      ],
      [
        { Type: 'volume', Source: 'v', Target: '/d', VolumeOptions: { DriverConfig: { Name: 'nfs' } } },
        /DriverConfig\.Name: volume driver "nfs" is not supported by ckptd/,
      ],
      [
        { Type: 'npipe', Source: 'x', Target: '/d' },
        /invalid mount config for type "npipe": mount type unknown/,
      ],
      [{ Type: 'bind', Source: '/s', Target: '/d', Consistency: 'weird' }, /Consistency/],
    ];
    for (const [m, re] of cases) assert.throws(() => parseMounts([m]), re, JSON.stringify(m));
    assert.throws(() => parseMounts({}), /must be an array/);
  });

  it('checks that bind sources exist unless CreateMountpoint (dockerd: bind source path does not exist)', async () => {
    const mounts = parseMounts([
      { Type: 'bind', Source: '/yes', Target: '/a' },
      { Type: 'bind', Source: '/make', Target: '/b', BindOptions: { CreateMountpoint: true } },
      { Type: 'tmpfs', Target: '/c' },
    ]);
    const exists = (p: string) => Promise.resolve(p === '/yes');
    assert.deepEqual(await checkBindSources(mounts, exists), ['/make']);
    await assert.rejects(
      checkBindSources(parseMounts([{ Type: 'bind', Source: '/no', Target: '/a' }]), exists),
      /invalid mount config for type "bind": bind source path does not exist: \/no/,
    );
  });
});

describe('parseMounts: tmpfs', () => {
  it('applies size and mode as moby ConvertTmpfsOptions (mode in octal, size with a unit)', () => {
    const m = one({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1770 } });
    assert.deepEqual(specMount(m), {
      destination: '/t',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'mode=1770', 'size=1m'],
    });
    assert.deepEqual(mountPointView(m), {
      Type: 'tmpfs',
      Source: '',
      Destination: '/t',
      Mode: '',
      RW: true,
      Propagation: '',
    });
    const odd = one({
      Type: 'tmpfs',
      Target: '/t',
      ReadOnly: true,
      TmpfsOptions: { SizeBytes: 1000, Options: [['exec']] },
    });
    assert.deepEqual(specMount(odd).options, ['nosuid', 'nodev', 'rprivate', 'ro', 'size=1000', 'exec']);
  });

  it('refuses a source, bind options and unknown tmpfs options', () => {
    assert.throws(
      () => parseMounts([{ Type: 'tmpfs', Source: '/s', Target: '/t' }]),
      /field Source must not be specified/,
    );
    assert.throws(
      () => parseMounts([{ Type: 'tmpfs', Target: '/t', BindOptions: { NonRecursive: true } }]),
      /field BindOptions must not be specified/,
    );
    assert.throws(
      () => parseMounts([{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { Options: [['suid']] } }]),
      /invalid option: suid/,
    );
    assert.throws(
      () => parseMounts([{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: -1 } }]),
      /SizeBytes/,
    );
  });

  it('merges tmpfs options keeping the last of each kind', () => {
    assert.deepEqual(mergeTmpfsOptions(['noexec', 'size=1', 'exec', 'size=2', 'defaults']), [
      'exec',
      'size=2',
    ]);
  });
});

describe('buildRuntimeSpec with Mounts', () => {
  it('adds Mounts to the user mounts, refusing a destination Binds already has (Duplicate mount point)', () => {
    const s = buildRuntimeSpec({
      id: ID,
      config: { Cmd: ['sh'] },
      networkMode: 'none',
      hostConfig: { Mounts: [{ Type: 'tmpfs', Target: '/t' }] },
    });
    assert.ok(s.mounts.some((m) => m.destination === '/t' && m.type === 'tmpfs'));
    assert.throws(
      () =>
        buildRuntimeSpec({
          id: ID,
          config: { Cmd: ['sh'] },
          networkMode: 'none',
          hostConfig: { Binds: ['/a:/d'], Mounts: [{ Type: 'bind', Source: '/b', Target: '/d' }] },
        }),
      /Duplicate mount point: \/d/,
    );
  });
});
