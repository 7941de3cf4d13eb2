import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../../src/errors/index.js';
import {
  familiarName,
  isImageIdLike,
  normalizeName,
  parseAnyReference,
  parseNamedStrict,
  parseReference,
  truncatedIdHex,
  withTag,
} from '../../../src/oci/reference.js';

const HEX = 'a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
const DIGEST = `sha256:${HEX}`;

describe('parseReference', () => {
  it('puts a bare official name under docker.io/library', () => {
    const r = parseReference('busybox');
    assert.equal(r.domain, 'docker.io');
    assert.equal(r.path, 'library/busybox');
    assert.equal(r.name, 'docker.io/library/busybox');
    assert.equal(r.tag, undefined);
    assert.equal(r.toString(), 'docker.io/library/busybox');
  });

  it('puts a user repository under docker.io', () => {
    assert.equal(parseReference('user/x').name, 'docker.io/user/x');
  });

  it('treats a first component with a dot, a port or localhost as a domain', () => {
    assert.equal(parseReference('localhost:5000/a/b').domain, 'localhost:5000');
    assert.equal(parseReference('localhost:5000/a/b').path, 'a/b');
    assert.equal(parseReference('localhost/a').domain, 'localhost');
    assert.equal(parseReference('a.b/c:tag').domain, 'a.b');
    assert.equal(parseReference('a.b/c:tag').tag, 'tag');
    assert.equal(parseReference('[::1]:5000/a').domain, '[::1]:5000');
  });

  it('rewrites index.docker.io to docker.io', () => {
    assert.equal(parseReference('index.docker.io/busybox').name, 'docker.io/library/busybox');
  });

  it('keeps a digest, and both tag and digest when given', () => {
    const d = parseReference(`busybox@${DIGEST}`);
    assert.equal(d.digest, DIGEST);
    assert.equal(d.tag, undefined);
    const td = parseReference(`busybox:1.36@${DIGEST}`);
    assert.equal(td.tag, '1.36');
    assert.equal(td.digest, DIGEST);
    assert.equal(td.toString(), `docker.io/library/busybox:1.36@${DIGEST}`);
  });

  it('reports an uppercase repository with Docker wording', () => {
    assert.throws(() => parseReference('Busybox'), {
      name: 'InvalidArgumentError',
      message: 'invalid reference format: repository name (library/Busybox) must be lowercase',
    });
    assert.throws(() => parseReference('user/X:tag'), {
      message: 'invalid reference format: repository name (user/X) must be lowercase',
    });
  });

  it('reports malformed references as invalid reference format', () => {
    for (const bad of ['', 'a b', 'busybox:', 'busybox:-x', '-busybox', 'a//b', 'busybox@sha256:abc', 'x/']) {
      assert.throws(() => parseReference(bad), InvalidArgumentError, bad);
    }
    assert.throws(() => parseReference('a b'), { message: 'invalid reference format' });
  });

  it('refuses a 64-hex string as a repository name', () => {
    assert.throws(() => parseReference(HEX), /cannot specify 64-byte hexadecimal strings/);
  });

  it('refuses names longer than 255 characters', () => {
    assert.throws(() => parseReference(`a/${'b'.repeat(260)}`), /must not be more than 255 characters/);
  });

  it('allows an uppercase tag (tags are \\w)', () => {
    assert.equal(parseReference('busybox:Latest').tag, 'Latest');
  });

  it('parseNamedStrict accepts only canonical names', () => {
    assert.equal(parseNamedStrict('docker.io/library/busybox:latest').tag, 'latest');
    assert.throws(() => parseNamedStrict('busybox:latest'), /must be canonical/);
  });
});

describe('normalizeName', () => {
  it('adds docker.io, library/ and :latest as Docker does', () => {
    assert.equal(normalizeName('busybox'), 'docker.io/library/busybox:latest');
    assert.equal(normalizeName('user/x'), 'docker.io/user/x:latest');
    assert.equal(normalizeName('localhost:5000/a/b'), 'localhost:5000/a/b:latest');
    assert.equal(normalizeName('a.b/c:tag'), 'a.b/c:tag');
  });

  it('does not add :latest to a digest reference', () => {
    assert.equal(normalizeName(`x@${DIGEST}`), `docker.io/library/x@${DIGEST}`);
    assert.equal(normalizeName(`x:t@${DIGEST}`), `docker.io/library/x:t@${DIGEST}`);
  });
});

describe('familiarName', () => {
  it('shortens Hub names back to what docker shows in RepoTags', () => {
    assert.equal(familiarName('docker.io/library/busybox:latest'), 'busybox:latest');
    assert.equal(familiarName('docker.io/user/x:1'), 'user/x:1');
    assert.equal(familiarName('localhost:5000/a:b'), 'localhost:5000/a:b');
    assert.equal(familiarName(`docker.io/library/busybox@${DIGEST}`), `busybox@${DIGEST}`);
  });

  it('keeps a nested library path and returns unparsable names unchanged', () => {
    assert.equal(familiarName('docker.io/library/a/b:1'), 'library/a/b:1');
    assert.equal(familiarName('Not A Name'), 'Not A Name');
  });
});

describe('withTag', () => {
  it('joins a repository and a tag, defaulting to latest', () => {
    assert.equal(withTag('busybox', 'v1'), 'docker.io/library/busybox:v1');
    assert.equal(withTag('busybox'), 'docker.io/library/busybox:latest');
    assert.equal(withTag('busybox:old', 'new'), 'docker.io/library/busybox:new');
    assert.equal(withTag('busybox:old', ''), 'docker.io/library/busybox:old');
  });

  it('rejects bad tags and digest repositories', () => {
    assert.throws(() => withTag('busybox', '-bad'), { message: 'invalid tag format' });
    assert.throws(() => withTag(`busybox@${DIGEST}`, 'x'), InvalidArgumentError);
  });
});

describe('image IDs', () => {
  it('parseAnyReference reads 64-hex and sha256: strings as IDs', () => {
    assert.deepEqual(parseAnyReference(HEX), { kind: 'digest', digest: DIGEST });
    assert.deepEqual(parseAnyReference(DIGEST), { kind: 'digest', digest: DIGEST });
    const named = parseAnyReference('busybox');
    assert.equal(named.kind, 'named');
  });

  it('isImageIdLike follows moby checkTruncatedID: 4..64 lowercase hex, optional sha256:', () => {
    assert.ok(isImageIdLike(HEX));
    assert.ok(isImageIdLike(DIGEST));
    assert.ok(isImageIdLike('a3ed'));
    assert.ok(isImageIdLike('sha256:a3ed95'));
    assert.ok(!isImageIdLike('a3e'));
    assert.ok(!isImageIdLike('A3ED95'));
    assert.ok(!isImageIdLike('busybox'));
    assert.ok(!isImageIdLike(`${HEX}0`));
    assert.equal(truncatedIdHex('sha256:abcd'), 'abcd');
    assert.equal(truncatedIdHex('xyz1'), undefined);
  });
});
