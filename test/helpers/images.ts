import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

/** TestFile is one file (or dir/symlink) of a test image layer. */
export interface TestFile {
  path: string;
  type?: 'file' | 'directory' | 'symlink';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

/** TestImageOptions shape a test image built from the host's busybox-static. */
export interface TestImageOptions {
  /** name is the full or familiar reference written into the archive (RepoTags / ref.name). */
  name?: string;
  /** extraLayers are added on top of the busybox layer. */
  extraLayers?: TestFile[][];
  /** cmd is the image's Cmd (default ["sh"]). */
  cmd?: string[];
  env?: string[];
  labels?: Record<string, string>;
  /** format: `docker-save` (dockerd 20.10's legacy layout) or `oci+docker` (both index.json and manifest.json). */
  format?: 'docker-save' | 'oci+docker';
}

/** TestImage describes what buildTestImage wrote. */
export interface TestImage {
  path: string;
  configDigest: string;
  diffIds: string[];
}

const CREATED = '2024-01-01T00:00:00Z';
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function layerTar(files: TestFile[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r, j) => {
    pack.on('end', () => r());
    pack.on('error', j);
  });
  for (const f of files) {
    const type = f.type ?? 'file';
    const header = {
      name: f.path.replace(/^\//, ''),
      type,
      mode: f.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
      uid: f.uid ?? 0,
      gid: f.gid ?? 0,
      mtime: new Date(CREATED),
      ...(type === 'symlink' ? { linkname: f.linkname ?? '' } : {}),
    };
    if (type === 'file') {
      const data = typeof f.content === 'string' ? Buffer.from(f.content) : (f.content ?? Buffer.alloc(0));
      pack.entry({ ...header, size: data.length }, data);
    } else {
      pack.entry(header);
    }
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

let busyboxLayerCache: Promise<Buffer> | undefined;

/** busyboxLayer is a root filesystem with Debian's busybox-static and its applet links. */
function busyboxLayer(): Promise<Buffer> {
  busyboxLayerCache ??= (async () => {
    const bin = await readFile('/bin/busybox');
    const applets = execFileSync('/bin/busybox', ['--list'])
      .toString()
      .split('\n')
      .filter((a) => a && a !== 'busybox');
    const files: TestFile[] = [
      { path: 'bin', type: 'directory' },
      { path: 'bin/busybox', content: bin, mode: 0o755 },
      ...applets.map((a): TestFile => ({ path: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
      { path: 'etc', type: 'directory' },
      {
        path: 'etc/passwd',
        content:
          'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser1:x:1000:1000::/home/user1:/bin/sh\n',
      },
      { path: 'etc/group', content: 'root:x:0:\nnogroup:x:65534:\nuser1:x:1000:\n' },
      { path: 'root', type: 'directory', mode: 0o700 },
      { path: 'tmp', type: 'directory', mode: 0o1777 },
      { path: 'home', type: 'directory' },
      { path: 'home/user1', type: 'directory', uid: 1000, gid: 1000 },
      { path: 'proc', type: 'directory' },
      { path: 'sys', type: 'directory' },
      { path: 'dev', type: 'directory' },
    ];
    return layerTar(files);
  })();
  return busyboxLayerCache;
}

/** buildTestImage writes an image archive (no registry needed) built from the host's busybox-static. */
export async function buildTestImage(out: string, opts: TestImageOptions = {}): Promise<TestImage> {
  const name = opts.name ?? 'ckptd-test/busybox:latest';
  const layers = [await busyboxLayer(), ...(await Promise.all((opts.extraLayers ?? []).map(layerTar)))];
  const diffIds = layers.map((l) => `sha256:${sha(l)}`);
  const config = Buffer.from(
    JSON.stringify({
      created: CREATED,
      architecture: 'amd64',
      os: 'linux',
      config: {
        Env: opts.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: opts.cmd ?? ['sh'],
        WorkingDir: '/',
        Labels: opts.labels ?? null,
      },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: layers.map((_, i) => ({ created: CREATED, created_by: `test layer ${i}` })),
    }),
  );
  const configHex = sha(config);
  const familiar = name.replace(/^docker\.io\/(library\/)?/, '');
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(out));
  const add = (path: string, data: Buffer): void => {
    pack.entry({ name: path, size: data.length, mode: 0o644, mtime: new Date(0) }, data);
  };
  if ((opts.format ?? 'docker-save') === 'docker-save') {
    // dockerd 20.10's layout: <id>/layer.tar, <config hex>.json, manifest.json, repositories
    const layerPaths: string[] = [];
    layers.forEach((l, i) => {
      const id = sha(Buffer.from(`${configHex}-${i}`));
      pack.entry({ name: `${id}/`, type: 'directory', mode: 0o755, mtime: new Date(0) });
      add(`${id}/VERSION`, Buffer.from('1.0'));
      add(`${id}/layer.tar`, l);
      layerPaths.push(`${id}/layer.tar`);
    });
    add(`${configHex}.json`, config);
    add(
      'manifest.json',
      Buffer.from(
        JSON.stringify([{ Config: `${configHex}.json`, RepoTags: [familiar], Layers: layerPaths }]),
      ),
    );
  } else {
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: `sha256:${configHex}`,
          size: config.length,
        },
        layers: layers.map((l) => ({
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: `sha256:${sha(l)}`,
          size: l.length,
        })),
      }),
    );
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: `sha256:${sha(manifest)}`,
          size: manifest.length,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: {
            'io.containerd.image.name': name,
            'org.opencontainers.image.ref.name': name.split(':').pop(),
          },
        },
      ],
    };
    add('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
    add('index.json', Buffer.from(JSON.stringify(index)));
    add(`blobs/sha256/${configHex}`, config);
    add(`blobs/sha256/${sha(manifest)}`, manifest);
    for (const l of layers) add(`blobs/sha256/${sha(l)}`, l);
    add(
      'manifest.json',
      Buffer.from(
        JSON.stringify([
          {
            Config: `blobs/sha256/${configHex}`,
            RepoTags: [familiar],
            Layers: layers.map((l) => `blobs/sha256/${sha(l)}`),
          },
        ]),
      ),
    );
  }
  pack.finalize();
  await written;
  return { path: out, configDigest: `sha256:${configHex}`, diffIds };
}
