import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { chainIds } from '../../src/oci/manifest.js';
import { ckptdFixture, type Run } from '../helpers/fixture.js';
import { type TestImage } from '../helpers/images.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-images-it';

/** tamperLayer copies a docker-save archive, flipping one byte inside its first layer.tar. */
async function tamperLayer(src: string, dst: string): Promise<void> {
  const extract = tar.extract();
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(dst));
  let done = false;
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    stream.on('end', () => {
      const data = Buffer.concat(chunks);
      if (!done && header.name.endsWith('layer.tar')) {
        data[data.length - 4096] = data[data.length - 4096]! ^ 0xff; // inside the busybox binary
        done = true;
      }
      pack.entry(header, data, next);
    });
  });
  await pipeline(createReadStream(src), extract);
  pack.finalize();
  await written;
}

describe('images through the docker CLI and docker-py (real containerd)', () => {
  const f = ckptdFixture({ ns: NS, images: [], dockerTimeout: 60_000 });
  const { ok } = f;
  const docker = (...args: string[]): Promise<Run> => f.run(args);
  let img: TestImage;
  let oci: TestImage;

  const repoTags = async (): Promise<string[]> =>
    (await ok('images', '--format', '{{.Repository}}:{{.Tag}}')).split('\n').filter(Boolean).sort();

  before(async () => {
    img = await f.buildImage('img.tar');
    oci = await f.buildImage('oci.tar', {
      format: 'oci+docker',
      name: 'ckptd-test/oci:v1',
      extraLayers: [[{ path: 'hello.txt', content: 'hello\n' }]],
      labels: { 'org.example.kind': 'oci' },
    });
  });

  test('docker load of a docker-save archive prints "Loaded image" and unpacks the chain snapshot', async () => {
    const out = await ok('load', '-i', img.path);
    assert.match(out, /Loaded image: ckptd-test\/busybox:latest/);
    assert.deepEqual(await repoTags(), ['ckptd-test/busybox:latest']);
    const top = chainIds(img.diffIds).at(-1)!;
    const info = await f.client.snapshots('overlayfs').stat(top);
    assert.equal(info.kind, 'COMMITTED');
    // runnable: a container rootfs prepared on the chain holds bin/busybox
    const key = `it-view-${Date.now()}`;
    const mounts = await f.client.snapshots('overlayfs').view(key, top);
    try {
      const m = mounts[0]!;
      const lower =
        m.type === 'bind'
          ? m.source
          : (m.options
              .find((o) => o.startsWith('lowerdir='))
              ?.slice(9)
              .split(':')[0] ?? '');
      assert.ok((await stat(join(lower, 'bin/busybox'))).size > 100_000);
    } finally {
      await f.client.snapshots('overlayfs').remove(key);
    }
  });

  test('docker load of an OCI layout archive (with manifest.json) keeps its manifest; labels show', async () => {
    const out = await ok('load', '-i', oci.path);
    assert.match(out, /Loaded image: ckptd-test\/oci:v1/);
    const labels = JSON.parse(
      await ok('image', 'inspect', '--format', '{{json .Config.Labels}}', 'ckptd-test/oci:v1'),
    );
    assert.deepEqual(labels, { 'org.example.kind': 'oci' });
    const filtered = await ok(
      'images',
      '--filter',
      'label=org.example.kind=oci',
      '--format',
      '{{.Repository}}',
    );
    assert.equal(filtered.trim(), 'ckptd-test/oci');
  });

  for (const [kind, cmd, args] of [
    ['gzip', 'gzip', ['-c']],
    ['zstd', 'zstd', ['-c', '-q']],
    ['xz', 'xz', ['-c', '-T1']],
  ] as const) {
    test(`docker load of a ${kind}-compressed archive`, async () => {
      const path = join(f.work, `img.${kind}`);
      await execFileP('sh', ['-c', `${cmd} ${args.join(' ')} < "${img.path}" > "${path}"`]);
      const out = await ok('load', '-i', path);
      assert.match(out, /Loaded image: ckptd-test\/busybox:latest/);
    });
  }

  test('docker images lists one entry per image ID, with reference filters', async () => {
    const rows = (await ok('images', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'))
      .trim()
      .split('\n');
    assert.ok(rows.includes(`${img.configDigest} ckptd-test/busybox:latest`), rows.join('\n'));
    assert.equal(rows.length, 2);
    assert.equal(
      (await ok('images', 'ckptd-test/bus*', '--format', '{{.Repository}}')).trim(),
      'ckptd-test/busybox',
    );
    assert.equal((await ok('images', '--filter', 'dangling=true', '-q')).trim(), '');
  });

  test('docker image inspect shows Docker’s fields; by short ID too', async () => {
    const [info] = JSON.parse(await ok('image', 'inspect', img.configDigest.slice(7, 19))) as Record<
      string,
      unknown
    >[];
    assert.equal(info!.Id, img.configDigest);
    assert.deepEqual(info!.RepoTags, ['ckptd-test/busybox:latest']);
    assert.equal(info!.Created, '2024-01-01T00:00:00Z');
    assert.equal(info!.Os, 'linux');
    assert.deepEqual(info!.RootFS, { Type: 'layers', Layers: img.diffIds });
    assert.equal((info!.GraphDriver as { Name: string }).Name, 'overlayfs');
    assert.ok((info!.Size as number) > 100_000);
  });

  test('docker history lists newest first with the image ID on top', async () => {
    const rows = (
      await ok('history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}', 'ckptd-test/oci:v1')
    )
      .trim()
      .split('\n');
    assert.deepEqual(rows, [`${oci.configDigest}|test layer 1`, '<missing>|test layer 0']);
  });

  test('docker tag adds a name; docker rmi by ID then needs -f; rmi by name untags', async () => {
    await ok('tag', 'ckptd-test/busybox', 'other/bb:1');
    assert.deepEqual(await repoTags(), ['ckptd-test/busybox:latest', 'ckptd-test/oci:v1', 'other/bb:1']);
    const r = await docker('rmi', img.configDigest.slice(7, 19));
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories/,
    );
    const out = await ok('rmi', 'other/bb:1');
    assert.equal(out.trim(), 'Untagged: other/bb:1');
    assert.deepEqual(await repoTags(), ['ckptd-test/busybox:latest', 'ckptd-test/oci:v1']);
  });

  test('docker tag with an invalid repository is a 400 with Docker’s message', async () => {
    const r = await docker('tag', 'ckptd-test/busybox', 'Bad/Name');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /must be lowercase|invalid reference format/);
  });

  test('an unknown image is 404 {"message":"No such image: x"}', async () => {
    const res = await f.api('GET', '/images/x/json');
    assert.equal(res.status, 404);
    assert.deepEqual(JSON.parse(res.body), { message: 'No such image: x' });
    const r = await docker('image', 'inspect', 'x');
    assert.match(r.stderr, /No such image: x/);
  });

  test('docker rmi of an image used by a container is a 409 unless forced', async () => {
    // a container record as the containers engine creates it (image = full name)
    await f.client.containers.create({
      id: 'imgtestuser0000000000000000000000000000000000000000000000000000',
      image: 'docker.io/ckptd-test/oci:v1',
      runtime: { name: 'io.containerd.runc.v2' },
      spec: { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{}') },
    });
    try {
      const r = await docker('rmi', 'ckptd-test/oci:v1');
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /conflict: unable to remove repository reference "ckptd-test\/oci:v1" \(must force\) - container imgtestuser0 is using its referenced image [0-9a-f]{12}/,
      );
    } finally {
      await f.client.containers.delete('imgtestuser0000000000000000000000000000000000000000000000000000');
    }
    const out = await ok('rmi', 'ckptd-test/oci:v1');
    assert.match(out, /Untagged: ckptd-test\/oci:v1/);
    assert.match(out, new RegExp(`Deleted: ${oci.configDigest}`));
  });

  test('a tampered layer (diffID mismatch) fails the load, tags nothing and leaves no lease or content', async () => {
    await ok('rmi', 'ckptd-test/busybox');
    assert.deepEqual(await repoTags(), []);
    const bad = join(f.work, 'bad.tar');
    await tamperLayer(img.path, bad);
    const r = await docker('load', '-i', bad);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /invalid diffID for layer 0/);
    assert.deepEqual(await repoTags(), []);
    assert.deepEqual(await f.client.images.list(), []);
    assert.deepEqual(await f.client.leases.list(), []);
    // once the lease is gone, the GC (triggered by a sync delete) leaves no blob behind
    await f.client.leases.create('it-gc-trigger', {});
    await f.client.leases.delete('it-gc-trigger', { sync: true });
    const blobs = [];
    for await (const b of f.client.content.list()) blobs.push(b.digest);
    assert.deepEqual(blobs, []);
    assert.deepEqual(await f.client.content.listStatuses(), []);
  });

  test('docker-py loads, lists and gets images', async () => {
    const script = `
import docker, sys
c = docker.DockerClient(base_url="unix://${f.socket}")
imgs = c.images.load(open(${JSON.stringify(img.path)}, "rb"))
print("loaded", imgs[0].id, imgs[0].tags)
print("list", sorted(t for i in c.images.list() for t in i.tags))
print("get", c.images.get("ckptd-test/busybox").id)
`;
    const { stdout } = await execFileP('python3', ['-c', script], { timeout: 60_000 });
    assert.match(stdout, new RegExp(`loaded ${img.configDigest} \\['ckptd-test/busybox:latest'\\]`));
    assert.match(stdout, /list \['ckptd-test\/busybox:latest'\]/);
    assert.match(stdout, new RegExp(`get ${img.configDigest}`));
  });
});
