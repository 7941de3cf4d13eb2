// A full disk is one error whatever reports it (issue 16): Node's ENOSPC, containerd's gRPC text,
// the stderr of tar/zstd/CRIU in a message; HTTP 507 with "no space left on device" in the text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { fromGrpcError } from '../../../src/containerd/errors.js';
import {
  httpStatusOf,
  InternalError,
  InvalidArgumentError,
  isNoSpace,
  NoSpaceError,
  noSpaceError,
  wrapError,
} from '../../../src/errors/index.js';
import { toHttpError } from '../../../src/http/error-handler.js';

const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

test('isNoSpace: errno, cause chains, gRPC details and program stderr', () => {
  assert.ok(isNoSpace(enospc));
  assert.ok(isNoSpace(Object.assign(new Error('quota'), { code: 'EDQUOT' })));
  assert.ok(isNoSpace(new InternalError('commit: writing the layer', { cause: enospc })));
  assert.ok(isNoSpace(new Error('tar: spec.dump: Cannot write: No space left on device')));
  assert.ok(isNoSpace(new AggregateError([new Error('x'), enospc])));
  assert.ok(!isNoSpace(new Error('EACCES: permission denied')));
  assert.ok(!isNoSpace(undefined));
});

test('wrapError and noSpaceError make a 507 that names the cause', () => {
  const w = wrapError('extracting the archive', enospc);
  assert.ok(w instanceof NoSpaceError);
  assert.equal(w.code, 'CKPTD_NO_SPACE');
  assert.equal(httpStatusOf(w), 507);
  assert.match(w.message, /^extracting the archive: ENOSPC: no space left on device/);
  const q = noSpaceError(Object.assign(new Error('write failed'), { code: 'EDQUOT' }));
  assert.ok(q);
  assert.match(q.message, /write failed: no space left on device$/);
  assert.equal(noSpaceError(new Error('other')), undefined);
  assert.ok(wrapError('x', new Error('other')) instanceof InternalError);
});

test("fromGrpcError: containerd's ENOSPC text is a NoSpaceError whatever the status code", () => {
  const mk = (code: number, details: string) =>
    Object.assign(new Error(`${code} ${details}`), { code, details, metadata: undefined });
  const e = fromGrpcError(
    mk(GrpcStatus.UNKNOWN, 'failed to copy: write /root/ingest/x/data: no space left on device'),
    { address: '/c.sock', method: '/containerd.services.diff.v1.Diff/Diff' },
  );
  assert.ok(e instanceof NoSpaceError);
  assert.equal(
    e.message,
    'containerd Diff.Diff: failed to copy: write /root/ingest/x/data: no space left on device',
  );
  assert.ok(fromGrpcError(mk(GrpcStatus.INTERNAL, 'boom'), { address: '/c.sock' }) instanceof InternalError);
});

test('toHttpError: a full disk wrapped as internal is still 507; client errors keep their status', () => {
  assert.deepEqual(toHttpError(new InternalError('restore failed: CRIU: No space left on device')), {
    status: 507,
    message: 'restore failed: CRIU: No space left on device',
  });
  assert.deepEqual(toHttpError(enospc), { status: 507, message: 'ENOSPC: no space left on device, write' });
  assert.deepEqual(toHttpError(new InternalError('x', { cause: enospc })), {
    status: 507,
    message: 'x: no space left on device',
  });
  assert.equal(toHttpError(new InvalidArgumentError('no space left on device is a bad name')).status, 400);
});
