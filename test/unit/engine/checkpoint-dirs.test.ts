// A caller's checkpoint directory resolves (realpath, no "." or "..") under the data root or an
// allowed directory; anything else is 403, never created or read.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveCheckpointDir } from '../../../src/engine/checkpoint/checkpoint-dirs.js';
import { isEngineError } from '../../../src/errors/index.js';

describe('resolveCheckpointDir', () => {
  let base: string;
  let data: string;
  let allowed: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'ckpt-dirs-'));
    data = join(base, 'data');
    allowed = join(base, 'allowed');
    await mkdir(join(data, 'x'), { recursive: true });
    await mkdir(allowed);
    await mkdir(join(base, 'outside'));
    await symlink(join(base, 'outside'), join(allowed, 'escape'));
    await symlink(join(allowed), join(base, 'outside', 'back'));
  });
  after(() => rm(base, { recursive: true, force: true }));

  const code = (kind: string) => (err: unknown) => isEngineError(err) && err.kind === kind;

  test('absent, under the data root, under an allowed directory (existing or not)', async () => {
    assert.equal(await resolveCheckpointDir(undefined, data, []), undefined);
    assert.equal(await resolveCheckpointDir('', data, []), undefined);
    assert.equal(await resolveCheckpointDir(join(data, 'x'), data, []), join(data, 'x'));
    assert.equal(await resolveCheckpointDir(`${data}/`, data, []), data);
    assert.equal(
      await resolveCheckpointDir(join(allowed, 'new', 'deeper'), data, [allowed]),
      join(allowed, 'new', 'deeper'),
    );
    // a link from outside into an allowed directory resolves there
    assert.equal(
      await resolveCheckpointDir(join(base, 'outside', 'back', 'n'), data, [allowed]),
      join(allowed, 'n'),
    );
  });

  test('outside, through a symlink out, or another directory than allowed: 403', async () => {
    await assert.rejects(resolveCheckpointDir('/etc', data, []), code('PermissionDenied'));
    await assert.rejects(
      resolveCheckpointDir(join(base, 'outside'), data, [allowed]),
      (err: unknown) =>
        code('PermissionDenied')(err) &&
        /^checkpoint directory ".*outside" is not allowed: it must be under the data root \(.*\) or one of --checkpoint-dirs \(/.test(
          (err as Error).message,
        ),
    );
    await assert.rejects(
      resolveCheckpointDir(join(allowed, 'escape', 'c'), data, [allowed]),
      code('PermissionDenied'),
    );
    await assert.rejects(resolveCheckpointDir(`${data}x`, data, []), code('PermissionDenied'));
    await assert.rejects(
      resolveCheckpointDir(join(base, 'allowed2'), data, [allowed]),
      code('PermissionDenied'),
    );
  });

  test('relative paths, NUL, "." and ".." components: 400', async () => {
    await assert.rejects(resolveCheckpointDir('rel/dir', data, []), code('InvalidArgument'));
    await assert.rejects(resolveCheckpointDir(`${data}/\0`, data, []), code('InvalidArgument'));
    await assert.rejects(
      resolveCheckpointDir(`${data}/../etc`, data, []),
      /must not contain "\." or "\.\." components/,
    );
    await assert.rejects(resolveCheckpointDir(`${data}/x/..`, data, []), code('InvalidArgument'));
    await assert.rejects(resolveCheckpointDir(`${data}/./x`, data, []), code('InvalidArgument'));
  });
});
