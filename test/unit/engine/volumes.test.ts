import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ramInBytes, validateLocalOptions, validateVolumeName } from '../../../src/engine/volumes/driver.js';
import { parseCheckpointVolumes } from '../../../src/engine/volumes/checkpoint-volumes.js';
import { volumeRequests, volumeSpecMounts } from '../../../src/engine/volumes/mounts.js';
import { ANONYMOUS_LABEL, VolumeService } from '../../../src/engine/volumes/store.js';
import { parseFilters } from '../../../src/oci/filters.js';
import { parseMounts } from '../../../src/oci/mounts.js';

describe('local volume driver rules', () => {
  it('names: dockerd wording for short and invalid names', () => {
    validateVolumeName('ab');
    validateVolumeName('my_vol.1-x');
    assert.throws(() => validateVolumeName('a'), {
      message: 'create a: volume name is too short, names should be at least two alphanumeric characters',
    });
    assert.throws(() => validateVolumeName('../x'), {
      message:
        'create ../x: "../x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
    });
    assert.throws(() => validateVolumeName('_ab'), /includes invalid characters/);
  });

  it('options: known keys, type/device/o together, no quota', () => {
    validateLocalOptions('v', {});
    validateLocalOptions('v', { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
    validateLocalOptions('v', { type: 'none', device: '/srv', o: 'bind' });
    validateLocalOptions('v', { size: '0' });
    assert.throws(() => validateLocalOptions('v', { foo: 'x' }), {
      message: 'create v: invalid option: "foo"',
    });
    assert.throws(() => validateLocalOptions('v', { type: 'tmpfs' }), /missing required option: "device"/);
    assert.throws(() => validateLocalOptions('v', { device: 'tmpfs' }), /missing required option: "type"/);
    assert.throws(() => validateLocalOptions('v', { o: 'size=1m' }), /missing required option: "device"/);
    assert.throws(
      () => validateLocalOptions('v', { size: '10m' }),
      /quota size requested but no quota support/,
    );
    assert.throws(
      () => validateLocalOptions('v', { type: '-oremount', device: 'x' }),
      /invalid option type: -oremount/,
    );
  });

  it('sizes as go-units RAMInBytes', () => {
    assert.equal(ramInBytes('512'), 512);
    assert.equal(ramInBytes('10m'), 10 * 2 ** 20);
    assert.equal(ramInBytes('1.5GiB'), 1.5 * 2 ** 30);
    assert.throws(() => ramInBytes('ten'), /invalid size/);
  });
});

describe('volumeRequests', () => {
  it('takes named and anonymous volumes from Binds, Mounts and Config.Volumes; the user mount wins', () => {
    const reqs = volumeRequests(
      ['data:/data:ro,nocopy', '/host:/img', '/anon'],
      parseMounts([
        {
          Type: 'volume',
          Source: 'mm',
          Target: '/m',
          VolumeOptions: {
            NoCopy: true,
            Labels: { a: 'b' },
            DriverConfig: { Name: 'local', Options: { type: 'tmpfs', device: 'tmpfs' } },
          },
        },
      ]),
      { '/tmp2': '' },
      { '/img': {}, '/tmp2': {}, '/data': {}, '/cfg/': {} },
    );
    assert.deepEqual(
      reqs.map((r) => [r.name, r.destination, r.readOnly, r.noCopy, r.mode]),
      [
        ['data', '/data', true, true, 'ro,nocopy'],
        ['', '/anon', false, false, ''],
        ['mm', '/m', false, true, ''],
        ['', '/cfg', false, false, ''],
      ],
    );
    assert.deepEqual(reqs[2]?.labels, { a: 'b' });
    assert.deepEqual(reqs[2]?.options, { type: 'tmpfs', device: 'tmpfs' });
  });

  it('refuses bad names and options before any work', () => {
    assert.throws(() => volumeRequests(['a@b:/x'], [], null, null), /"a@b" includes invalid characters/);
    assert.throws(
      () =>
        volumeRequests(
          [],
          parseMounts([
            {
              Type: 'volume',
              Source: 'ok',
              Target: '/x',
              VolumeOptions: { DriverConfig: { Options: { bogus: '1' } } },
            },
          ]),
          null,
          null,
        ),
      /invalid option: "bogus"/,
    );
  });

  it('mounts volumes as rbind of their directory, ro when asked', () => {
    const base = {
      Type: 'volume',
      Name: 'v',
      Driver: 'local',
      Mode: '',
      Propagation: '',
      CopyData: true,
      Anonymous: false,
    } as const;
    assert.deepEqual(
      volumeSpecMounts([
        { ...base, Source: '/r/v/_data', Destination: '/d', RW: true },
        { ...base, Source: '/r/v/_data', Destination: '/e', RW: false },
      ]),
      [
        { destination: '/d', type: 'bind', source: '/r/v/_data', options: ['rbind', 'rprivate'] },
        { destination: '/e', type: 'bind', source: '/r/v/_data', options: ['rbind', 'ro', 'rprivate'] },
      ],
    );
  });
});

describe('--mount type=volume (parseMounts)', () => {
  it('keeps nocopy, labels and local driver options', () => {
    const [m] = parseMounts([
      {
        Type: 'volume',
        Source: 'v',
        Target: '/d/',
        ReadOnly: true,
        VolumeOptions: { NoCopy: true, Labels: { x: 'y' } },
      },
    ]);
    assert.deepEqual(m, {
      type: 'volume',
      name: 'v',
      target: '/d',
      readOnly: true,
      noCopy: true,
      labels: { x: 'y' },
      driverOpts: {},
    });
    assert.equal(parseMounts([{ Type: 'volume', Target: '/anon' }])[0]?.type, 'volume');
  });
});

describe('parseCheckpointVolumes (untrusted ckptd.dump)', () => {
  it('accepts valid entries and refuses names that could leave volumes/, bad destinations, duplicates', () => {
    assert.deepEqual(
      parseCheckpointVolumes([{ Name: 'data', Destination: '/d/', RW: false, Anonymous: false }]),
      [{ Name: 'data', Destination: '/d', RW: false, Anonymous: false }],
    );
    assert.deepEqual(parseCheckpointVolumes(undefined), []);
    for (const bad of [
      [{ Name: '../etc', Destination: '/d' }],
      [{ Name: 'a/b', Destination: '/d' }],
      [{ Name: 'ok', Destination: 'rel' }],
      [{ Name: 'ok', Destination: '/' }],
      [
        { Name: 'ok', Destination: '/a' },
        { Name: 'ok', Destination: '/b' },
      ],
      'x',
    ]) {
      assert.throws(
        () => parseCheckpointVolumes(bad),
        /invalid checkpoint: ckptd.dump Volumes/,
        JSON.stringify(bad),
      );
    }
  });
});

describe('VolumeService', () => {
  let root: string;
  let users = new Map<string, string[]>();
  let store: VolumeService;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ckptd-volstore-'));
    store = new VolumeService({ dataRoot: root, users: () => users });
    await store.init();
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates a volume with its metadata on disk, returns an existing one as is, and reloads', async () => {
    const v = await store.volumeCreate({ Name: 'one', Labels: { k: 'v' } });
    assert.equal(v.Mountpoint, join(root, 'volumes', 'one', '_data'));
    assert.ok((await stat(v.Mountpoint)).isDirectory());
    const meta = JSON.parse(await readFile(join(root, 'volumes', 'one', 'ckptd-volume.json'), 'utf8'));
    assert.deepEqual(meta.Labels, { k: 'v' });
    assert.deepEqual((await store.volumeCreate({ Name: 'one', Labels: { other: '1' } })).Labels, { k: 'v' });
    await assert.rejects(store.volumeCreate({ Name: 'two', Driver: 'nfs' }), /plugin "nfs" not found/);
    const again = new VolumeService({ dataRoot: root });
    await again.init();
    assert.equal((await again.volumeInspect('one')).CreatedAt, v.CreatedAt);
  });

  it('refuses to remove a volume in use (409 with the IDs), prunes only anonymous ones by default', async () => {
    const anon = await store.create('', null, { [ANONYMOUS_LABEL]: '' });
    assert.match(anon.Name, /^[0-9a-f]{64}$/);
    users = new Map([['one', ['c1', 'c2']]]);
    await assert.rejects(store.volumeRemove('one', false), {
      message: 'remove one: volume is in use - [c1, c2]',
    });
    assert.deepEqual(
      (await store.volumeList(parseFilters('{"dangling":["true"]}'))).Volumes.map((v) => v.Name),
      [anon.Name],
    );
    await assert.rejects(
      store.volumeList(parseFilters('{"dangling":["maybe"]}')),
      /invalid filter 'dangling=\[maybe\]'/,
    );
    await assert.rejects(store.volumeList(parseFilters('{"bogus":["1"]}')), /invalid filter 'bogus'/);
    assert.deepEqual((await store.volumePrune(parseFilters(''))).VolumesDeleted, [anon.Name]);
    assert.deepEqual((await store.volumePrune(parseFilters('{"all":["1"]}'))).VolumesDeleted, []);
    users = new Map();
    assert.deepEqual((await store.volumePrune(parseFilters('{"all":["1"]}'))).VolumesDeleted, ['one']);
    await assert.rejects(store.volumeRemove('one', false), { message: 'get one: no such volume' });
    await store.volumeRemove('one', true);
  });
});
