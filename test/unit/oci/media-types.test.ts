import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../../src/errors/index.js';
import {
  MEDIA_TYPE_DOCKER_CONFIG,
  MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP,
  MEDIA_TYPE_DOCKER_LAYER,
  MEDIA_TYPE_DOCKER_LAYER_GZIP,
  MEDIA_TYPE_DOCKER_LAYER_ZSTD,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_LAYER,
  MEDIA_TYPE_OCI_LAYER_GZIP,
  MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP,
  MEDIA_TYPE_OCI_LAYER_ZSTD,
  MEDIA_TYPE_OCI_MANIFEST,
  isConfigType,
  isForeignLayerType,
  isIndexType,
  isLayerType,
  isManifestType,
  layerCompression,
  layerMediaType,
} from '../../../src/oci/media-types.js';

describe('media types', () => {
  it('spells the OCI and Docker types as the specs do', () => {
    assert.equal(MEDIA_TYPE_OCI_MANIFEST, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(MEDIA_TYPE_OCI_INDEX, 'application/vnd.oci.image.index.v1+json');
    assert.equal(MEDIA_TYPE_DOCKER_MANIFEST, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(MEDIA_TYPE_DOCKER_LAYER_GZIP, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  });

  it('isManifestType accepts OCI and Docker manifests only', () => {
    assert.ok(isManifestType(MEDIA_TYPE_OCI_MANIFEST));
    assert.ok(isManifestType(MEDIA_TYPE_DOCKER_MANIFEST));
    assert.ok(!isManifestType(MEDIA_TYPE_OCI_INDEX));
    assert.ok(!isManifestType(MEDIA_TYPE_OCI_CONFIG));
  });

  it('isIndexType accepts OCI indexes and Docker manifest lists only', () => {
    assert.ok(isIndexType(MEDIA_TYPE_OCI_INDEX));
    assert.ok(isIndexType(MEDIA_TYPE_DOCKER_MANIFEST_LIST));
    assert.ok(!isIndexType(MEDIA_TYPE_OCI_MANIFEST));
  });

  it('isConfigType accepts both config types', () => {
    assert.ok(isConfigType(MEDIA_TYPE_OCI_CONFIG));
    assert.ok(isConfigType(MEDIA_TYPE_DOCKER_CONFIG));
    assert.ok(!isConfigType(MEDIA_TYPE_OCI_LAYER));
  });

  it('isLayerType accepts every OCI layer type, Docker layers and foreign layers', () => {
    for (const t of [
      MEDIA_TYPE_OCI_LAYER,
      MEDIA_TYPE_OCI_LAYER_GZIP,
      MEDIA_TYPE_OCI_LAYER_ZSTD,
      MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP,
      'application/vnd.oci.image.layer.v1.tar+bzip2',
      MEDIA_TYPE_DOCKER_LAYER,
      MEDIA_TYPE_DOCKER_LAYER_GZIP,
      MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP,
    ]) {
      assert.ok(isLayerType(t), t);
    }
    assert.ok(!isLayerType(MEDIA_TYPE_OCI_MANIFEST));
    assert.ok(!isLayerType('application/octet-stream'));
  });

  it('isForeignLayerType recognizes non-distributable layers', () => {
    assert.ok(isForeignLayerType(MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP));
    assert.ok(isForeignLayerType(MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP));
    assert.ok(!isForeignLayerType(MEDIA_TYPE_OCI_LAYER_GZIP));
  });

  it('layerCompression maps each layer family to none, gzip or zstd', () => {
    assert.equal(layerCompression(MEDIA_TYPE_OCI_LAYER), 'none');
    assert.equal(layerCompression(MEDIA_TYPE_OCI_LAYER_GZIP), 'gzip');
    assert.equal(layerCompression(MEDIA_TYPE_OCI_LAYER_ZSTD), 'zstd');
    assert.equal(layerCompression(MEDIA_TYPE_DOCKER_LAYER), 'none');
    assert.equal(layerCompression(MEDIA_TYPE_DOCKER_LAYER_GZIP), 'gzip');
    assert.equal(layerCompression(MEDIA_TYPE_DOCKER_LAYER_ZSTD), 'zstd');
    assert.equal(layerCompression(MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP), 'gzip');
  });

  it('layerCompression rejects non-layers and unknown compressions', () => {
    assert.throws(() => layerCompression(MEDIA_TYPE_OCI_MANIFEST), InvalidArgumentError);
    assert.throws(
      () => layerCompression('application/vnd.oci.image.layer.v1.tar+bzip2'),
      /unsupported layer compression/,
    );
  });

  it('layerMediaType round-trips with layerCompression in both families', () => {
    for (const c of ['none', 'gzip', 'zstd'] as const) {
      assert.equal(layerCompression(layerMediaType(c)), c);
      assert.equal(layerCompression(layerMediaType(c, 'docker')), c);
    }
    assert.equal(layerMediaType('gzip', 'docker'), MEDIA_TYPE_DOCKER_LAYER_GZIP);
  });
});
