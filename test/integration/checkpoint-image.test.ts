// Checkpoints as OCI images against real daemons (two ckptd + containerd 1.6 instances, runc,
// CRIU) and podman 4.3: checkpoint?image= writes a Podman/CRI-O checkpoint image, `docker run`
// / `docker create`+`start` / restore?image= of it restore the counter with its files, the image
// moves between hosts by docker save | docker load, and the image is as untrusted as an import.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { startContainerd, type RunningContainerd } from '../helpers/containerd.js';
import { startCkptd, type CkptdProcess } from '../helpers/ckptd.js';
import { buildTestImage } from '../helpers/images.js';

const execFileP = promisify(execFile);
const NS = 'ckptd-cpimage';
const IMG = 'ckptd-test/busybox:latest';
const COUNTER = 'i=0; while true; do i=$((i+1)); echo $i > /tmp/c.t; mv /tmp/c.t /tmp/c; sleep 0.1; done';
// moby's default capability set (CapEff)
const DEFAULT_CAPEFF = '00000000a80425fb';

interface Node {
  ctd: RunningContainerd;
  d: CkptdProcess;
}

async function until(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function call(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    const req = request({ socketPath: socket, method, path: `/v1.47${path}`, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(180_000, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** readTar lists a tar's regular files with their contents (small test archives only). */
async function readTar(buf: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (h.type === 'file') out.set(h.name.replace(/^\.\//, ''), Buffer.concat(chunks));
        next();
      });
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return out;
}

async function writeTar(files: Map<string, Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  const dirs = new Set<string>();
  for (const name of [...files.keys()].sort()) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) {
        dirs.add(dir);
        pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o755 });
      }
    }
    pack.entry({ name, type: 'file', mode: 0o600, size: files.get(name)!.length }, files.get(name)!);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const blobPath = (digest: string) => `blobs/sha256/${digest.replace(/^sha256:/, '')}`;

interface Manifest {
  mediaType: string;
  config: { digest: string; mediaType: string };
  layers: { digest: string; mediaType: string; size: number }[];
  annotations?: Record<string, string>;
}

/** savedImage reads the manifest, config and layer files of a one-image `docker save` archive. */
async function savedImage(archive: Buffer): Promise<{ manifest: Manifest; files: Map<string, Buffer> }> {
  const files = await readTar(archive);
  const index = JSON.parse(files.get('index.json')!.toString()) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(files.get(blobPath(index.manifests[0]!.digest))!.toString()) as Manifest;
  return { manifest, files };
}

describe('checkpoints as images', { timeout: 15 * 60_000 }, () => {
  let work: string;
  let a: Node;
  let b: Node;
  let dockerConfig: string;
  let imgTar: string;

  const docker = async (n: Node, ...args: string[]): Promise<string> => {
    const { stdout } = await execFileP('docker', args, {
      env: { ...process.env, DOCKER_HOST: `unix://${n.d.socket}`, DOCKER_CONFIG: dockerConfig },
      timeout: 180_000,
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'buffer',
    });
    return stdout.toString();
  };
  const dockerFails = async (n: Node, ...args: string[]): Promise<string> => {
    try {
      await docker(n, ...args);
    } catch (err) {
      return String((err as { stderr?: Buffer }).stderr ?? err);
    }
    return assert.fail(`docker ${args.join(' ')} succeeded`);
  };
  const counter = async (n: Node, ref: string) =>
    Number((await docker(n, 'exec', ref, 'cat', '/tmp/c')).trim());
  const runCounter = async (n: Node, name: string, ...opts: string[]) => {
    await docker(n, 'run', '-d', '--network', 'none', '--name', name, ...opts, IMG, 'sh', '-c', COUNTER);
    await until(`${name}'s counter`, async () => (await counter(n, name)) > 5);
    await docker(n, 'exec', name, 'sh', '-c', `echo ${name}-data > /data.txt`);
  };
  const checkpointImage = async (n: Node, ctr: string, image: string, query = '') => {
    const r = await call(
      n.d.socket,
      'POST',
      `/containers/${ctr}/checkpoint?image=${encodeURIComponent(image)}${query}`,
    );
    assert.equal(r.status, 201, r.body);
    return JSON.parse(r.body) as { Id: string; Image: string; Stats?: Record<string, number> };
  };
  const save = async (n: Node, ref: string, path: string) => {
    await docker(n, 'save', '-o', path, ref);
  };
  const names = async (n: Node) =>
    (await docker(n, 'ps', '-a', '--format', '{{.Names}}')).trim().split('\n').filter(Boolean).sort();

  const startNode = async (label: string): Promise<Node> => {
    const ctd = await startContainerd();
    const d = await startCkptd(['--containerd', ctd.address, '--containerd-namespace', NS], {
      dataRoot: join(work, label, 'data'),
    });
    return { ctd, d };
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ckptd-cpimage-'));
    dockerConfig = join(work, 'docker-config');
    imgTar = join(work, 'img.tar');
    await buildTestImage(imgTar, { name: IMG, format: 'oci+docker' });
    a = await startNode('a');
    b = await startNode('b');
    await docker(a, 'load', '-i', imgTar);
  });

  after(async () => {
    if (process.env.CKPTD_TEST_LOGS) console.log(a?.d.logs(), b?.d.logs());
    for (const n of [a, b]) {
      await n?.d.cleanup();
      await n?.ctd.stop();
    }
    await rm(work, { recursive: true, force: true });
  });

  test('checkpoint?image= with leaveRunning writes a one-layer OCI image with the Podman and CRI-O annotations; the container keeps running', async () => {
    await runCounter(a, 'src1');
    const res = await checkpointImage(a, 'src1', 'ckpt/counter:v1', '&leaveRunning=1&printStats=1');
    assert.match(res.Image, /^sha256:[0-9a-f]{64}$/);
    assert.ok(res.Stats?.imageDurationMs !== undefined, JSON.stringify(res.Stats));
    assert.equal((await docker(a, 'inspect', '-f', '{{.State.Running}}', 'src1')).trim(), 'true');
    const before1 = await counter(a, 'src1');
    await until('the source to keep counting', async () => (await counter(a, 'src1')) > before1);
    assert.match(
      await docker(a, 'images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'),
      /ckpt\/counter:v1 /,
    );

    const path = join(work, 'v1.tar');
    await save(a, 'ckpt/counter:v1', path);
    const { manifest, files } = await savedImage(await readFile(path));
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    assert.equal(manifest.layers.length, 1);
    assert.equal(manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar');
    const ann = manifest.annotations ?? {};
    assert.equal(ann['io.podman.annotations.checkpoint.name'], 'src1');
    assert.equal(ann['io.podman.annotations.checkpoint.runtime.name'], 'runc');
    assert.equal(ann['io.podman.annotations.checkpoint.rootfsImageName'], `docker.io/${IMG}`);
    const baseId = (await docker(a, 'image', 'inspect', '-f', '{{.Id}}', IMG)).trim();
    assert.equal(`sha256:${ann['io.podman.annotations.checkpoint.rootfsImageID']}`, baseId);
    assert.equal(ann['io.kubernetes.cri-o.annotations.checkpoint.name'], 'src1');
    assert.match(ann['io.podman.annotations.checkpoint.criu.version'] ?? '', /^\d{5,}$/);
    // the layer is the checkpoint archive's content, at the root as Podman's
    const layer = files.get(blobPath(manifest.layers[0]!.digest))!;
    assert.equal(sha(layer), manifest.layers[0]!.digest);
    const entries = await readTar(layer);
    for (const f of ['config.dump', 'spec.dump', 'ckptd.dump', 'checkpoint/inventory.img', 'rootfs-diff.tar'])
      assert.ok(entries.has(f), `${f} in the layer: ${[...entries.keys()].join(',')}`);
    const config = JSON.parse(files.get(blobPath(manifest.config.digest))!.toString()) as {
      rootfs: { diff_ids: string[] };
    };
    assert.deepEqual(config.rootfs.diff_ids, [manifest.layers[0]!.digest]);
    await docker(a, 'rm', '-f', 'src1');
  });

  test('docker run -d of a checkpoint image continues the counter with its files; docker create + start does too', async () => {
    await runCounter(a, 'src2');
    await checkpointImage(a, 'src2', 'ckpt/counter:v2'); // stops src2
    assert.equal((await docker(a, 'inspect', '-f', '{{.State.Running}}', 'src2')).trim(), 'false');
    const path = join(work, 'v2.tar');
    await save(a, 'ckpt/counter:v2', path);
    const { manifest, files } = await savedImage(await readFile(path));
    const diff = (await readTar(files.get(blobPath(manifest.layers[0]!.digest))!)).get('rootfs-diff.tar')!;
    const at = Number((await readTar(diff)).get('tmp/c')!.toString());
    assert.ok(at > 5, `checkpointed at ${at}`);

    await docker(a, 'run', '-d', '--name', 'run2', 'ckpt/counter:v2');
    const v = await counter(a, 'run2');
    assert.ok(v >= at, `continued from ${at}: ${v}`);
    assert.equal((await docker(a, 'exec', 'run2', 'cat', '/data.txt')).trim(), 'src2-data');
    // restored, not restarted: the shell is still pid 1 and keeps its own value
    assert.equal(
      (await docker(a, 'exec', 'run2', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "')).trim(),
      `sh -c ${COUNTER}`,
    );
    assert.equal((await docker(a, 'inspect', '-f', '{{.Config.Image}}', 'run2')).trim(), IMG);

    await docker(a, 'create', '--name', 'create2', 'ckpt/counter:v2');
    await docker(a, 'start', 'create2');
    assert.ok((await counter(a, 'create2')) >= at);
    // only the first start restores: a later one starts the process afresh
    await docker(a, 'stop', '-t', '0', 'create2');
    await docker(a, 'start', 'create2');
    // a second start is a cold start: the counter begins again from 1
    await until('a fresh counter', async () => (await counter(a, 'create2')) < at);
    await docker(a, 'rm', '-f', 'src2', 'run2', 'create2');
  });

  test('restore?image=&name= restores a new container; fields a restore cannot honour are refused, nothing left', async () => {
    await runCounter(a, 'src3');
    const at = await counter(a, 'src3');
    await checkpointImage(a, 'src3', 'ckpt/counter:v3');
    const r = await call(a.d.socket, 'POST', '/containers/ignored/restore?image=ckpt/counter:v3&name=rest3');
    assert.equal(r.status, 201, r.body);
    assert.ok((await counter(a, 'rest3')) >= at, 'continued');
    assert.equal((await docker(a, 'exec', 'rest3', 'cat', '/data.txt')).trim(), 'src3-data');
    // a restart of a never-started container is its first start: it restores too
    await docker(a, 'create', '--name', 'restart3', 'ckpt/counter:v3');
    await docker(a, 'restart', 'restart3');
    assert.ok((await counter(a, 'restart3')) >= at, 'restart restored');
    await docker(a, 'rm', '-f', 'restart3');

    const before1 = await names(a);
    const refused = await call(a.d.socket, 'POST', '/containers/create?name=bad3', {
      Image: 'ckpt/counter:v3',
      Cmd: ['sh'],
      Env: ['A=1'],
      User: 'nobody',
    });
    assert.equal(refused.status, 400, refused.body);
    assert.match(
      (JSON.parse(refused.body) as { message: string }).message,
      /^Cmd, Env, User: cannot be set on a container created from a checkpoint image/,
    );
    assert.match(
      await dockerFails(a, 'run', '-d', '--workdir', '/x', 'ckpt/counter:v3'),
      /WorkingDir: cannot be set/,
    );
    const combo = await call(a.d.socket, 'POST', '/containers/x/restore?image=ckpt/counter:v3&checkpoint=c1');
    assert.equal(combo.status, 400, combo.body);
    const notCk = await call(a.d.socket, 'POST', `/containers/x/restore?image=${encodeURIComponent(IMG)}`);
    assert.equal(notCk.status, 400, notCk.body);
    assert.match(notCk.body, /is not a checkpoint image/);
    assert.deepEqual(await names(a), before1);
    await docker(a, 'rm', '-f', 'src3', 'rest3');
  });

  test('a checkpoint image moves to a second ckptd by docker save | docker load and continues there; without its base image it is refused (pull it first)', async () => {
    await runCounter(a, 'mig');
    await checkpointImage(a, 'mig', 'ckpt/mig:v1');
    const path = join(work, 'mig.tar');
    await save(a, 'ckpt/mig:v1', path);
    await docker(b, 'load', '-i', path);
    // B has no base image yet
    assert.match(
      await dockerFails(b, 'run', '-d', '--name', 'mig', 'ckpt/mig:v1'),
      /base image ckptd-test\/busybox:latest not found.*pull it first/,
    );
    assert.deepEqual(await names(b), []);
    await docker(b, 'load', '-i', imgTar);
    const { manifest, files } = await savedImage(await readFile(path));
    const diff = (await readTar(files.get(blobPath(manifest.layers[0]!.digest))!)).get('rootfs-diff.tar')!;
    const at = Number((await readTar(diff)).get('tmp/c')!.toString());
    await docker(b, 'run', '-d', '--name', 'mig', 'ckpt/mig:v1');
    assert.ok((await counter(b, 'mig')) >= at, 'continued on B');
    assert.equal((await docker(b, 'exec', 'mig', 'cat', '/data.txt')).trim(), 'mig-data');
    await docker(a, 'rm', '-f', 'mig');
    await docker(b, 'rm', '-f', 'mig');
  });

  test('a hostile checkpoint image: its spec.dump and ckptd.dump grant nothing; CRIU images asking for more than the caller’s HostConfig are refused before CRIU', async () => {
    // (1) a privileged container's checkpoint run without privileges: refused by the image check
    await docker(
      a,
      'run',
      '-d',
      '--network',
      'none',
      '--name',
      'priv',
      '--cap-add',
      'ALL',
      IMG,
      'sh',
      '-c',
      COUNTER,
    );
    await until('priv counts', async () => (await counter(a, 'priv')) > 2);
    await checkpointImage(a, 'priv', 'ckpt/priv:v1');
    const msg = await dockerFails(a, 'run', '-d', '--name', 'priv2', 'ckpt/priv:v1');
    assert.match(msg, /cap|capabilit/i);
    assert.doesNotMatch(msg, /CRIU:/, 'refused before CRIU ran');
    assert.equal((await docker(a, 'inspect', '-f', '{{.State.Running}}', 'priv2')).trim(), 'false');
    // the caller may grant it: the HostConfig decides
    await docker(a, 'rm', '-f', 'priv2');
    await docker(a, 'run', '-d', '--name', 'priv2', '--cap-add', 'ALL', 'ckpt/priv:v1');
    assert.ok((await counter(a, 'priv2')) > 2);
    await docker(a, 'rm', '-f', 'priv', 'priv2');

    // (2) a tampered image whose spec.dump and ckptd.dump ask for privileges, caps and a host bind
    await runCounter(a, 'tame');
    await checkpointImage(a, 'tame', 'ckpt/tame:v1');
    const path = join(work, 'tame.tar');
    await save(a, 'ckpt/tame:v1', path);
    const { manifest, files } = await savedImage(await readFile(path));
    const layer = await readTar(files.get(blobPath(manifest.layers[0]!.digest))!);
    const spec = JSON.parse(layer.get('spec.dump')!.toString()) as {
      process: { capabilities: Record<string, string[]> };
      mounts: unknown[];
    };
    const all = ['CAP_SYS_ADMIN', 'CAP_SYS_MODULE', 'CAP_SYS_PTRACE', 'CAP_NET_ADMIN'];
    for (const k of Object.keys(spec.process.capabilities)) spec.process.capabilities[k] = all;
    spec.mounts.push({ destination: '/host', type: 'bind', source: '/', options: ['rbind', 'rw'] });
    layer.set('spec.dump', Buffer.from(JSON.stringify(spec)));
    const dump = JSON.parse(layer.get('ckptd.dump')!.toString()) as { HostConfig: Record<string, unknown> };
    dump.HostConfig = {
      ...dump.HostConfig,
      Privileged: true,
      CapAdd: ['ALL'],
      Binds: ['/:/host'],
      PidMode: 'host',
    };
    layer.set('ckptd.dump', Buffer.from(JSON.stringify(dump)));
    const newLayer = await writeTar(layer);
    const config = JSON.parse(files.get(blobPath(manifest.config.digest))!.toString()) as {
      rootfs: { diff_ids: string[] };
    };
    config.rootfs.diff_ids = [sha(newLayer)];
    const configBytes = Buffer.from(JSON.stringify(config));
    const m2 = {
      ...manifest,
      config: { ...manifest.config, digest: sha(configBytes), size: configBytes.length },
      layers: [{ ...manifest.layers[0]!, digest: sha(newLayer), size: newLayer.length }],
    };
    const mBytes = Buffer.from(JSON.stringify(m2));
    const out = new Map<string, Buffer>([
      ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
      [
        'index.json',
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            manifests: [
              {
                mediaType: 'application/vnd.oci.image.manifest.v1+json',
                digest: sha(mBytes),
                size: mBytes.length,
                annotations: {
                  'io.containerd.image.name': 'docker.io/ckpt/hostile:v1',
                  'org.opencontainers.image.ref.name': 'v1',
                },
              },
            ],
          }),
        ),
      ],
      [blobPath(sha(mBytes)), mBytes],
      [blobPath(sha(configBytes)), configBytes],
      [blobPath(sha(newLayer)), newLayer],
    ]);
    const hostilePath = join(work, 'hostile.tar');
    await writeFile(hostilePath, await writeTar(out));
    await docker(a, 'load', '-i', hostilePath);
    await docker(a, 'run', '-d', '--name', 'hostile', 'ckpt/hostile:v1');
    assert.ok((await counter(a, 'hostile')) > 5, 'restored');
    const status = await docker(a, 'exec', 'hostile', 'cat', '/proc/1/status');
    assert.match(status, new RegExp(`CapEff:\\s+${DEFAULT_CAPEFF}`));
    assert.equal(
      (
        await docker(a, 'inspect', '-f', '{{.HostConfig.Privileged}}/{{.HostConfig.PidMode}}', 'hostile')
      ).trim(),
      'false/',
    );
    const mounts = await docker(a, 'exec', 'hostile', 'cat', '/proc/self/mountinfo');
    assert.doesNotMatch(mounts, / \/host /);
    await docker(a, 'rm', '-f', 'tame', 'hostile');
  });

  describe('podman 4.3 interop', () => {
    let podmanDir: string;
    const podman = async (...args: string[]) => {
      const { stdout } = await execFileP(
        'podman',
        [
          '--root',
          join(podmanDir, 'root'),
          '--runroot',
          join(podmanDir, 'run'),
          '--tmpdir',
          join(podmanDir, 'tmp'),
          '--cgroup-manager',
          'cgroupfs',
          '--events-backend',
          'file',
          '--log-level',
          'error',
          ...args,
        ],
        { timeout: 180_000 },
      );
      return stdout;
    };
    const podmanFails = async (...args: string[]) => {
      try {
        await podman(...args);
      } catch (err) {
        return String((err as { stderr?: string }).stderr ?? err);
      }
      return assert.fail(`podman ${args.join(' ')} succeeded`);
    };
    let havePodman = true;

    before(async () => {
      havePodman = await execFileP('podman', ['--version']).then(
        () => true,
        () => false,
      );
      if (!havePodman) return;
      podmanDir = join(work, 'podman');
      await mkdir(join(podmanDir, 'tmp'), { recursive: true });
      await podman('load', '-i', imgTar);
    });

    after(async () => {
      if (!havePodman) return;
      await podman('rm', '-af', '-t', '0').catch(() => undefined);
      await podman('rmi', '-af').catch(() => undefined);
      // podman's overlay storage may leave mounts below its root: unmount before removing
      const info = await readFile('/proc/self/mountinfo', 'utf8');
      const points = info
        .split('\n')
        .map((l) => l.split(' ')[4] ?? '')
        .filter((p) => p.startsWith(`${podmanDir}/`))
        .sort((x, y) => y.length - x.length);
      for (const p of points) await execFileP('umount', ['-l', p]).catch(() => undefined);
    });

    test('a podman checkpoint image loads into ckptd, is recognised, and restores (counter and files) once the caller declares podman’s mounts', async (t) => {
      if (!havePodman) return t.skip('podman is not installed (scripts/setup-host.sh installs it)');
      // podman's default RLIMIT_NOFILE (1048576) is above this host's hard limit
      await podman(
        'run',
        '-d',
        '--network',
        'none',
        '--ulimit',
        'nofile=1024:1024',
        '--ulimit',
        'nproc=1024:1024',
        '--name',
        'pc1',
        IMG,
        'sh',
        '-c',
        COUNTER,
      );
      await until(
        'podman counter',
        async () => Number((await podman('exec', 'pc1', 'cat', '/tmp/c')).trim()) > 50,
      );
      await podman('exec', 'pc1', 'sh', '-c', 'echo from-podman > /data.txt');
      const seen = Number((await podman('exec', 'pc1', 'cat', '/tmp/c')).trim());
      await podman('container', 'checkpoint', '--create-image', 'localhost/pck:v1', 'pc1');
      const path = join(work, 'pck.tar');
      await podman('save', '--format', 'oci-archive', '-o', path, 'localhost/pck:v1');
      const loaded = await docker(a, 'load', '-i', path);
      const id = /sha256:[0-9a-f]{64}/.exec(loaded)?.[0];
      assert.ok(id, loaded);
      // undeclared podman mounts: refused by the image check, before CRIU
      const refused = await dockerFails(a, 'run', '-d', '--name', 'pc-a', id);
      assert.match(refused, /\/run\/\.containerenv.*is not a bind mount of the container/);
      await docker(a, 'rm', '-f', 'pc-a');
      // declared: the images pass, and the restore continues podman's counter with its files
      // (CRIU checks the root directory's mode: podman's storage makes it 0555; ckptd sets the
      // recorded permission bits on the new snapshot's root before CRIU runs)
      const env = join(work, 'containerenv');
      await writeFile(env, '');
      const shm = join(work, 'shm');
      await mkdir(shm, { recursive: true });
      await docker(
        a,
        'run',
        '-d',
        '--name',
        'pc-b',
        '-v',
        `${env}:/run/.containerenv`,
        '-v',
        `${shm}:/dev/shm`,
        '--tmpfs',
        '/sys/dev/block:ro',
        id,
      );
      const first = await counter(a, 'pc-b');
      console.log(
        `# podman -> ckptd: restored, counter ${first} (podman showed ${seen} before its checkpoint)`,
      );
      // a fresh start would count from 1 (10 a second): restored, it goes on from podman's value
      assert.ok(first >= seen, `continued podman's counter: ${seen} -> ${first}`);
      assert.equal((await docker(a, 'exec', 'pc-b', 'cat', '/data.txt')).trim(), 'from-podman');
      await docker(a, 'rm', '-f', 'pc-b');
    });

    test('ckptd’s checkpoint image loads into podman with its annotations; podman container restore reaches CRIU', async (t) => {
      if (!havePodman) return t.skip('podman is not installed (scripts/setup-host.sh installs it)');
      await runCounter(a, 'top');
      await checkpointImage(a, 'top', 'ckpt/topodman:v1');
      const path = join(work, 'topodman.tar');
      await save(a, 'ckpt/topodman:v1', path);
      await podman('load', '-i', path);
      const ann = JSON.parse(
        await podman('image', 'inspect', '--format', '{{json .Annotations}}', 'docker.io/ckpt/topodman:v1'),
      ) as Record<string, string>;
      assert.equal(ann['io.podman.annotations.checkpoint.name'], 'top');
      const err = await podmanFails('container', 'restore', 'docker.io/ckpt/topodman:v1');
      console.log(`# ckptd -> podman: ${err.trim().split('\n')[0]}`);
      // podman created the container from config.dump/spec.dump and ran runc restore
      assert.match(err, /criu failed/);
      await docker(a, 'rm', '-f', 'top');
    });
  });
});
