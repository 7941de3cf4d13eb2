import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateInsecureRegistries } from '../../../src/config/config.js';
import { pullReference } from '../../../src/engine/pull.js';
import { pushReference } from '../../../src/engine/push.js';
import { humanSize, progressBar } from '../../../src/engine/progress.js';
import { InvalidArgumentError, NotFoundError } from '../../../src/errors/index.js';
import {
  TokenCache,
  credentialsKey,
  decodeRegistryAuth,
  parseChallenges,
} from '../../../src/registry/auth.js';
import { errcodeText, parseErrors } from '../../../src/registry/errors.js';
import { classifyManifest, parsePlatform, selectPlatform } from '../../../src/registry/manifests.js';
import { registryHost, remoteRef, serverAddressHost } from '../../../src/registry/reference.js';
import { Transport } from '../../../src/registry/transport.js';

test('references resolve to registry hosts as dockerd: docker.io -> registry-1.docker.io, library/ prefix', () => {
  const r = remoteRef('busybox');
  assert.equal(r.host, 'registry-1.docker.io');
  assert.equal(r.repo, 'library/busybox');
  assert.equal(remoteRef('user/app:1').repo, 'user/app');
  const l = remoteRef('localhost:5000/a/b@sha256:' + 'a'.repeat(64));
  assert.equal(l.host, 'localhost:5000');
  assert.equal(l.repo, 'a/b');
  assert.equal(registryHost('quay.io'), 'quay.io');
  assert.equal(serverAddressHost(''), 'docker.io');
  assert.equal(serverAddressHost('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(serverAddressHost('http://127.0.0.1:5000/'), '127.0.0.1:5000');
});

test('pull and push references combine name and tag (a digest tag becomes @digest); all tags is refused', () => {
  const d = 'sha256:' + 'b'.repeat(64);
  assert.equal(pullReference('busybox', 'latest'), 'docker.io/library/busybox:latest');
  assert.equal(pullReference('localhost:5000/x', d), `localhost:5000/x@${d}`);
  assert.equal(pullReference('x:1', ''), 'docker.io/library/x:1');
  assert.throws(
    () => pullReference('x', ''),
    (e: Error) => e instanceof InvalidArgumentError && /^tag: /.test(e.message),
  );
  assert.equal(pushReference('localhost:5000/x', 'v2'), 'localhost:5000/x:v2');
  assert.throws(() => pushReference('x', ''), /^InvalidArgumentError: tag: pushing every tag/);
});

test('WWW-Authenticate challenges are parsed (quoted values, several challenges)', () => {
  const chs = parseChallenges(
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull", Basic realm="x"',
  );
  assert.equal(chs.length, 2);
  assert.equal(chs[0]?.scheme, 'bearer');
  assert.deepEqual(chs[0]?.params, {
    realm: 'https://auth.docker.io/token',
    service: 'registry.docker.io',
    scope: 'repository:library/busybox:pull',
  });
  assert.deepEqual(chs[1], { scheme: 'basic', params: { realm: 'x' } });
});

test('X-Registry-Auth decodes base64url JSON: password, identity token, anonymous; garbage is a 400', () => {
  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  assert.deepEqual(decodeRegistryAuth(enc({ username: 'u', password: 'p?>', serveraddress: 'r' })), {
    kind: 'basic',
    username: 'u',
    password: 'p?>',
  });
  assert.deepEqual(decodeRegistryAuth(enc({ identitytoken: 't' })), {
    kind: 'identity',
    username: '',
    identityToken: 't',
  });
  assert.equal(decodeRegistryAuth(enc({})), undefined);
  assert.equal(decodeRegistryAuth('e30='), undefined);
  assert.equal(decodeRegistryAuth(undefined), undefined);
  assert.throws(() => decodeRegistryAuth('!!!notjson'), /invalid X-Registry-Auth header/);
  assert.notEqual(
    credentialsKey({ kind: 'basic', username: 'u', password: 'a' }),
    credentialsKey({ kind: 'basic', username: 'u', password: 'b' }),
  );
});

test('TokenCache keeps a token per key until it expires', () => {
  const c = new TokenCache();
  c.set('k', 't', 300);
  assert.equal(c.get('k'), 't');
  assert.equal(c.get('other'), undefined);
});

test('registry errors are worded as distribution errcode', () => {
  const errs = parseErrors(
    Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'),
  );
  assert.equal(errcodeText(errs, 404, 'Not Found'), 'manifest unknown: manifest unknown');
  assert.equal(errcodeText([], 401, 'Unauthorized'), 'unauthorized: authentication required');
});

test('progress bars and sizes as jsonmessage and go-units', () => {
  assert.equal(humanSize(536870912), '536.9MB');
  assert.equal(humanSize(1024), '1.024kB');
  assert.equal(humanSize(12), '12B');
  assert.equal(progressBar(0, 1000), `[>${' '.repeat(50)}]       0B/1kB`);
  assert.equal(progressBar(1000, 1000), `[${'='.repeat(50)}>]      1kB/1kB`);
});

test('manifests: schema 1 refused with the deprecation notice, indexes resolve to a platform', () => {
  assert.throws(
    () =>
      classifyManifest(
        Buffer.from('{"schemaVersion":1}'),
        'application/vnd.docker.distribution.manifest.v1+prettyjws',
        'x:1',
      ),
    /\[DEPRECATION NOTICE\].*x:1 to upgrade/,
  );
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: 'sha256:' + '1'.repeat(64),
        size: 1,
        platform: { os: 'linux', architecture: 'arm64' },
      },
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: 'sha256:' + '2'.repeat(64),
        size: 1,
        platform: { os: 'linux', architecture: 'amd64' },
      },
    ],
  };
  const c = classifyManifest(
    Buffer.from(JSON.stringify(index)),
    'application/vnd.oci.image.index.v1+json',
    'x',
  );
  assert.equal(c.kind, 'index');
  if (c.kind !== 'index') return;
  assert.equal(
    selectPlatform(c.index, { os: 'linux', architecture: 'amd64' }).digest,
    'sha256:' + '2'.repeat(64),
  );
  assert.throws(
    () => selectPlatform(c.index, { os: 'linux', architecture: 's390x' }),
    (e: Error) =>
      e instanceof NotFoundError &&
      e.message === 'no matching manifest for linux/s390x in the manifest list entries',
  );
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.throws(() => parsePlatform('a/b/c/d'), /^InvalidArgumentError: platform: /);
});

test('insecure registries: host[:port] and CIDR; loopback is always insecure, others not', async () => {
  assert.throws(
    () => validateInsecureRegistries(['http://x']),
    /should not contain '::\/\/'|should not contain/,
  );
  assert.throws(() => validateInsecureRegistries(['10.0.0.0/99']), /not a valid CIDR/);
  validateInsecureRegistries(['r.example:5000', '10.1.0.0/16']);
  const t = new Transport({ insecureRegistries: ['r.example:5000', '10.1.0.0/16'] });
  try {
    assert.equal(await t.isInsecure('127.0.0.1:5000'), true);
    assert.equal(await t.isInsecure('r.example:5000'), true);
    assert.equal(await t.isInsecure('10.1.2.3'), true);
    assert.equal(await t.isInsecure('10.2.0.1:443'), false);
  } finally {
    t.close();
  }
});
