import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../../src/errors/index.js';
import { parseImageConfig, parseIndex, parseManifest } from '../../../src/oci/image-config.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

const busybox = {
  architecture: 'amd64',
  os: 'linux',
  created: '2024-09-26T21:31:42Z',
  config: {
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    Cmd: ['sh'],
    WorkingDir: '',
    Entrypoint: null,
    OnBuild: null,
    Labels: null,
    ExposedPorts: { '80/tcp': {} },
    Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 5e9 },
  },
  rootfs: { type: 'layers', diff_ids: [D1] },
  history: [{ created: '2024-09-26T21:31:42Z', created_by: 'ADD file', empty_layer: false }],
  docker_version: '20.10',
};

describe('parseImageConfig', () => {
  it('accepts a real-world config with Docker nulls and keeps unknown fields', () => {
    const c = parseImageConfig(busybox);
    assert.equal(c.architecture, 'amd64');
    assert.deepEqual(c.rootfs.diff_ids, [D1]);
    assert.deepEqual(c.config?.Cmd, ['sh']);
    assert.equal(c.docker_version, '20.10');
  });

  it('parses JSON text and bytes', () => {
    assert.equal(parseImageConfig(JSON.stringify(busybox)).os, 'linux');
    assert.equal(parseImageConfig(Buffer.from(JSON.stringify(busybox))).os, 'linux');
  });

  it('defaults a missing architecture/os to empty strings and a missing diff_ids to []', () => {
    const c = parseImageConfig({ rootfs: { type: 'layers' } });
    assert.equal(c.architecture, '');
    assert.deepEqual(c.rootfs.diff_ids, []);
  });

  it('rejects garbage with InvalidArgumentError naming the field', () => {
    const cases: [unknown, RegExp][] = [
      ['{', /invalid image config/],
      [42, /not a JSON object/],
      [[], /not a JSON object/],
      [{}, /rootfs must be an object/],
      [{ rootfs: { type: 'tar', diff_ids: [] } }, /rootfs.type/],
      [{ rootfs: { type: 'layers', diff_ids: ['sha256:x'] } }, /rootfs.diff_ids/],
      [{ ...busybox, architecture: 7 }, /architecture must be a string/],
      [{ ...busybox, config: { Cmd: 'sh' } }, /config.Cmd must be an array of strings/],
      [{ ...busybox, config: { Env: [1] } }, /config.Env/],
      [{ ...busybox, config: { Labels: { a: 1 } } }, /config.Labels/],
      [{ ...busybox, config: { ExposedPorts: { '80/tcp': true } } }, /config.ExposedPorts/],
      [{ ...busybox, config: { Healthcheck: { Interval: '5s' } } }, /config.Healthcheck.Interval/],
      [{ ...busybox, history: {} }, /history must be an array/],
      [{ ...busybox, history: [{ empty_layer: 'yes' }] }, /history\[0\].empty_layer/],
    ];
    for (const [input, re] of cases) {
      assert.throws(
        () => parseImageConfig(input),
        (err: unknown) => {
          assert.ok(err instanceof InvalidArgumentError);
          assert.match(err.message, re);
          return true;
        },
      );
    }
  });
});

describe('parseManifest and parseIndex', () => {
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D1, size: 10 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D2, size: 20 }],
  };

  it('accepts a manifest and an index', () => {
    assert.equal(parseManifest(manifest).layers.length, 1);
    const index = {
      schemaVersion: 2,
      manifests: [{ ...manifest.config, platform: { architecture: 'amd64', os: 'linux' } }],
    };
    assert.equal(parseIndex(JSON.stringify(index)).manifests.length, 1);
  });

  it('rejects bad schema versions and descriptors', () => {
    assert.throws(() => parseManifest({ ...manifest, schemaVersion: 1 }), /schemaVersion/);
    assert.throws(
      () => parseManifest({ ...manifest, layers: [{ ...manifest.config, size: -1 }] }),
      /layers\[0\].size/,
    );
    assert.throws(
      () => parseManifest({ ...manifest, config: { ...manifest.config, digest: 'x' } }),
      /config.digest/,
    );
    assert.throws(() => parseIndex({ schemaVersion: 2 }), /manifests must be an array/);
    assert.throws(
      () => parseIndex({ schemaVersion: 2, manifests: [{ ...manifest.config, platform: {} }] }),
      /platform/,
    );
  });
});
