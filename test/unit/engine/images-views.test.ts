import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  familiarMatch,
  goPathMatch,
  selectImages,
  toHistory,
  toInspect,
  type ImageFacts,
} from '../../../src/engine/images/views.js';
import { parseFilters } from '../../../src/oci/filters.js';
import { buildManifest, chainIds, manifestGcLabels } from '../../../src/oci/manifest.js';
import { sha256Digest } from '../../../src/oci/digest.js';

const D = (c: string): `sha256:${string}` => `sha256:${c.repeat(64)}`;

function facts(over: Partial<ImageFacts> = {}): ImageFacts {
  return {
    id: D('c'),
    names: ['docker.io/library/busybox:latest'],
    manifestDigests: [D('e')],
    config: {
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { a: '1' } },
      rootfs: { type: 'layers', diff_ids: [D('a'), D('b')] },
      history: [
        { created: '2024-01-01T00:00:00Z', created_by: 'ADD rootfs' },
        { created: '2024-01-01T00:00:01Z', created_by: 'ENV x=1', empty_layer: true },
        { created: '2024-01-01T00:00:02Z', created_by: 'RUN touch /f', comment: 'c' },
      ],
    },
    size: 30,
    layerSizes: [10, 20],
    ...over,
  };
}

describe('manifest synthesis', () => {
  it('builds a Docker schema 2 manifest for uncompressed layers, deterministic digest', () => {
    const cfg = { mediaType: 'x', digest: D('c'), size: 5 };
    const layers = [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: D('a'), size: 7 }];
    const a = buildManifest(cfg, layers);
    assert.equal(a.manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(a.manifest.config.mediaType, 'application/vnd.docker.container.image.v1+json');
    assert.equal(a.descriptor.digest, sha256Digest(a.bytes));
    assert.equal(buildManifest(cfg, layers).descriptor.digest, a.descriptor.digest);
  });

  it('falls back to an OCI manifest when a layer is zstd', () => {
    const m = buildManifest({ mediaType: 'x', digest: D('c'), size: 5 }, [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: D('a'), size: 7 },
    ]);
    assert.equal(m.manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(m.manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
  });

  it('chainIds follow the OCI formula and gc labels name config and layers', () => {
    const ids = chainIds([D('a'), D('b')]);
    assert.deepEqual(ids, [D('a'), sha256Digest(`${D('a')} ${D('b')}`)]);
    assert.deepEqual(manifestGcLabels({ config: { digest: D('c') }, layers: [{ digest: D('a') }] }), {
      'containerd.io/gc.ref.content.config': D('c'),
      'containerd.io/gc.ref.content.l.0': D('a'),
    });
  });
});

describe('reference filter matching', () => {
  it('goPathMatch is Go path.Match: * stops at /', () => {
    assert.ok(goPathMatch('busybox*', 'busybox:latest'));
    assert.ok(!goPathMatch('*', 'user/x'));
    assert.ok(goPathMatch('user/*', 'user/x'));
    assert.ok(goPathMatch('b[a-z]', 'bb'));
    assert.ok(!goPathMatch('b[', 'b['));
  });

  it('familiarMatch matches the familiar string and the familiar name', () => {
    assert.ok(familiarMatch('busybox', 'docker.io/library/busybox:latest'));
    assert.ok(familiarMatch('busybox:latest', 'docker.io/library/busybox:latest'));
    assert.ok(familiarMatch('bb:1', 'docker.io/library/bb:1'));
    assert.ok(!familiarMatch('bb:2', 'docker.io/library/bb:1'));
    assert.ok(familiarMatch('*/bb', 'docker.io/other/bb:1'));
  });

  it('selectImages keeps only matching tags under a reference filter', () => {
    const f = facts({ names: ['docker.io/library/bb:1', 'docker.io/other/x:latest'] });
    const out = selectImages([f], { references: ['bb*'] }, parseFilters(''));
    assert.deepEqual(out[0]!.RepoTags, ['bb:1']);
    assert.deepEqual(out[0]!.RepoDigests, [`bb@${D('e')}`]);
    assert.deepEqual(selectImages([f], { references: ['nomatch'] }, parseFilters('')), []);
  });

  it('selectImages applies dangling and label filters', () => {
    const tagged = facts();
    const dangling = facts({ id: D('d'), names: [] });
    assert.deepEqual(
      selectImages([tagged, dangling], { references: [], dangling: true }, parseFilters('')).map((s) => s.Id),
      [D('d')],
    );
    assert.equal(selectImages([tagged], { references: [] }, parseFilters('{"label":["a=1"]}')).length, 1);
    assert.equal(selectImages([tagged], { references: [] }, parseFilters('{"label":["a=2"]}')).length, 0);
  });
});

describe('history and inspect shaping', () => {
  it('history is newest first, sizes per layer, empty layers 0, ID and tags on top only', () => {
    const h = toHistory(facts());
    assert.deepEqual(
      h.map((x) => [x.Id, x.CreatedBy, x.Size, x.Tags]),
      [
        [D('c'), 'RUN touch /f', 20, ['busybox:latest']],
        ['<missing>', 'ENV x=1', 0, null],
        ['<missing>', 'ADD rootfs', 10, null],
      ],
    );
    assert.equal(h[0]!.Created, 1704067202);
    assert.equal(h[0]!.Comment, 'c');
  });

  it('inspect carries Docker fields', () => {
    const i = toInspect(facts(), 'overlayfs');
    assert.equal(i.Id, D('c'));
    assert.deepEqual(i.RepoTags, ['busybox:latest']);
    assert.deepEqual(i.RootFS, { Type: 'layers', Layers: [D('a'), D('b')] });
    assert.deepEqual(i.GraphDriver, { Name: 'overlayfs', Data: {} });
    assert.equal(i.Metadata.LastTagTime, '0001-01-01T00:00:00Z');
  });
});
