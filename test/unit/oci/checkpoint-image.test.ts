import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  CrioAnnotations,
  PodmanAnnotations,
  checkpointImageAnnotations,
  checkpointImageConfig,
  checkpointImageInfo,
  checkpointImageManifest,
  checkCreateFields,
  criuVersionNumber,
  type CheckpointImageFacts,
} from '../../../src/oci/checkpoint-image.js';

const ID = `sha256:${'ab'.repeat(32)}`;
const facts: CheckpointImageFacts = {
  containerName: 'counter',
  rawImageName: 'busybox',
  rootfsImageId: ID,
  rootfsImageName: 'docker.io/library/busybox:latest',
  runtimeName: 'runc',
  runtimeVersion: '1.1.5',
  criuVersion: '40101',
  ckptdVersion: '0.1.0',
  hostArch: 'amd64',
  hostKernel: '6.18.0',
  cgroupsVersion: 'v1',
  distributionName: 'debian',
  distributionVersion: '12',
};

describe('checkpoint image annotations', () => {
  test('carry the Podman set and the CRI-O set, the image ID as bare hex as Podman writes it', () => {
    const a = checkpointImageAnnotations(facts);
    assert.equal(a['io.podman.annotations.checkpoint.name'], 'counter');
    assert.equal(a['io.podman.annotations.checkpoint.runtime.name'], 'runc');
    assert.equal(a['io.podman.annotations.checkpoint.rootfsImageID'], 'ab'.repeat(32));
    assert.equal(a['io.podman.annotations.checkpoint.rootfsImageName'], 'docker.io/library/busybox:latest');
    assert.equal(a['io.podman.annotations.checkpoint.rawImageName'], 'busybox');
    assert.equal(a['io.podman.annotations.checkpoint.criu.version'], '40101');
    assert.equal(a['io.podman.annotations.checkpoint.cgroups.version'], 'v1');
    assert.equal(a['io.podman.annotations.checkpoint.host.arch'], 'amd64');
    assert.equal(a['io.podman.annotations.checkpoint.distribution.name'], 'debian');
    assert.equal(a['io.kubernetes.cri-o.annotations.checkpoint.name'], 'counter');
    assert.equal(
      a['io.kubernetes.cri-o.annotations.checkpoint.rootfsImageName'],
      'docker.io/library/busybox:latest',
    );
    for (const v of Object.values(a)) assert.equal(typeof v, 'string');
  });

  test('are read back from either set; an image with neither is no checkpoint image', () => {
    const all = checkpointImageAnnotations(facts);
    assert.deepEqual(checkpointImageInfo({ annotations: all }), {
      flavour: 'podman',
      containerName: 'counter',
      rootfsImageName: 'docker.io/library/busybox:latest',
      rootfsImageId: ID,
      runtimeName: 'runc',
    });
    // checkpointctl build / buildah writes only CRI-O's name
    assert.deepEqual(checkpointImageInfo({ annotations: { [CrioAnnotations.name]: 'ctr' } }), {
      flavour: 'cri-o',
      containerName: 'ctr',
      rootfsImageName: '',
      rootfsImageId: '',
      runtimeName: '',
    });
    // Podman's runtime.name alone makes it one (podman run restores on it)
    assert.equal(
      checkpointImageInfo({ annotations: { [PodmanAnnotations.runtimeName]: 'crun' } })?.flavour,
      'podman',
    );
    assert.equal(
      checkpointImageInfo({ annotations: { 'org.opencontainers.image.base.name': '' } }),
      undefined,
    );
    assert.equal(checkpointImageInfo({}), undefined);
    // a malformed ID is dropped, not passed on as a reference
    assert.equal(
      checkpointImageInfo({
        annotations: { [PodmanAnnotations.name]: 'x', [PodmanAnnotations.rootfsImageID]: '../x' },
      })?.rootfsImageId,
      '',
    );
  });
});

describe('checkpoint image manifest and config', () => {
  test('one OCI layer, OCI config type, annotations on the manifest, digest of the exact bytes', () => {
    const layer = {
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: `sha256:${'cd'.repeat(32)}`,
      size: 1234,
    };
    const built = checkpointImageManifest({ digest: `sha256:${'ef'.repeat(32)}`, size: 99 }, layer, {
      a: 'b',
    });
    const parsed = JSON.parse(built.bytes.toString()) as Record<string, unknown>;
    assert.equal(parsed.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(parsed.config, {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: `sha256:${'ef'.repeat(32)}`,
      size: 99,
    });
    assert.deepEqual(parsed.layers, [layer]);
    assert.deepEqual(parsed.annotations, { a: 'b' });
    assert.equal(built.descriptor.digest, `sha256:${createHash('sha256').update(built.bytes).digest('hex')}`);
    assert.equal(built.descriptor.size, built.bytes.length);
  });

  test('the config has the layer as its only diff ID and no process (never run as it is)', () => {
    const c = checkpointImageConfig({
      diffId: `sha256:${'12'.repeat(32)}`,
      created: '2026-01-01T00:00:00Z',
      architecture: 'amd64',
      containerName: 'counter',
    }) as unknown as Record<string, unknown>;
    assert.deepEqual(c.rootfs, { type: 'layers', diff_ids: [`sha256:${'12'.repeat(32)}`] });
    assert.deepEqual(c.config, {});
    assert.equal(c.os, 'linux');
  });

  test('criuVersionNumber is Podman’s number', () => {
    assert.equal(criuVersionNumber('Version: 4.1.1\n'), '40101');
    assert.equal(criuVersionNumber('Version: 3.17\nGitID: x'), '31700');
    assert.equal(criuVersionNumber('nonsense'), '');
  });
});

describe('create body of a checkpoint image', () => {
  test('what the docker CLI sends for `docker run -d IMG` is accepted', () => {
    checkCreateFields({
      Hostname: '',
      Domainname: '',
      User: '',
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: null,
      Cmd: null,
      Image: 'ckpt:v1',
      Volumes: {},
      WorkingDir: '',
      Entrypoint: null,
      OnBuild: null,
      Labels: {},
      HostConfig: { NetworkMode: 'none', Binds: ['/tmp:/x'] },
      NetworkingConfig: { EndpointsConfig: { none: {} } },
    });
  });

  test('process fields are refused, all named', () => {
    assert.throws(
      () => checkCreateFields({ Image: 'x', Cmd: ['sh'], Env: ['A=1'], WorkingDir: '/w', Tty: true }),
      (err: Error) =>
        /^Cmd, Env, WorkingDir, Tty: cannot be set on a container created from a checkpoint image/.test(
          err.message,
        ),
    );
  });

  test('create’s own rules come first (endpoint settings ckptd cannot apply)', () => {
    assert.throws(
      () =>
        checkCreateFields({
          Image: 'x',
          NetworkingConfig: { EndpointsConfig: { none: { IPAddress: '10.0.0.2' } } },
        }),
      /NetworkingConfig\.EndpointsConfig\.none\.IPAddress/,
    );
  });
});
