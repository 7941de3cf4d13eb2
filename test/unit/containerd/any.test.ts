import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  OCI_SPEC_TYPE_URL,
  packCheckpointOptions,
  packRuncOptions,
  packSpec,
  unpackCheckpointOptions,
  unpackMessage,
  unpackRuncOptions,
  unpackSpec,
} from '../../../src/containerd/any.js';
import { decodeEnvelope, isEvent } from '../../../src/containerd/events.js';
import { protoRoot } from '../../../src/containerd/proto.js';
import { InvalidArgumentError } from '../../../src/errors/index.js';

describe('Any helpers', () => {
  test('packRuncOptions uses type_url containerd.runc.v1.Options and round-trips criu paths', () => {
    const any = packRuncOptions({
      criu_image_path: '/ckpt/img',
      criu_work_path: '/ckpt/work',
      systemd_cgroup: true,
    });
    assert.equal(any.type_url, 'containerd.runc.v1.Options');
    const back = unpackRuncOptions(any);
    assert.equal(back.criu_image_path, '/ckpt/img');
    assert.equal(back.criu_work_path, '/ckpt/work');
    assert.equal(back.systemd_cgroup, true);
    // criu_image_path alone: field 10, wire type 2 (length-delimited) -> tag byte 0x52
    assert.equal(packRuncOptions({ criu_image_path: '/a' }).value[0], (10 << 3) | 2);
  });

  test('packCheckpointOptions uses type_url containerd.runc.v1.CheckpointOptions', () => {
    const any = packCheckpointOptions({ exit: true, image_path: '/x', work_path: '/y' });
    assert.equal(any.type_url, 'containerd.runc.v1.CheckpointOptions');
    assert.deepEqual(
      { ...unpackCheckpointOptions(any), empty_namespaces: [] },
      {
        exit: true,
        open_tcp: false,
        external_unix_sockets: false,
        terminal: false,
        file_locks: false,
        empty_namespaces: [],
        cgroups_mode: '',
        image_path: '/x',
        work_path: '/y',
      },
    );
  });

  test('packing refuses unknown (camelCase) fields instead of silently dropping them', () => {
    assert.throws(() => packRuncOptions({ criuImagePath: '/x' } as never), InvalidArgumentError);
  });

  test('packSpec stores the OCI spec as JSON under the runtime-spec type_url', () => {
    const spec = { ociVersion: '1.0.2', process: { args: ['sh'] } };
    const any = packSpec(spec);
    assert.equal(any.type_url, OCI_SPEC_TYPE_URL);
    assert.deepEqual(unpackSpec(any), spec);
    assert.equal(unpackMessage(any), undefined);
  });

  test('decodeEnvelope decodes a TaskExit payload and keeps nanosecond time', () => {
    const T = protoRoot.lookupType('containerd.events.TaskExit');
    const value = Buffer.from(
      T.encode(T.fromObject({ container_id: 'c1', pid: 42, exit_status: 137 })).finish(),
    );
    const env = decodeEnvelope({
      timestamp: { seconds: '1700000000', nanos: 123456789 },
      namespace: 'default',
      topic: '/tasks/exit',
      event: { type_url: 'containerd.events.TaskExit', value },
    });
    assert.equal(env.timestampNano, 1_700_000_000_123_456_789n);
    assert.equal(env.timestamp.getTime(), 1_700_000_000_123);
    assert.ok(isEvent(env, 'containerd.events.TaskExit'));
    assert.equal(env.event.value.container_id, 'c1');
    assert.equal(env.event.value.exit_status, 137);
  });

  test('decodeEnvelope leaves unknown payload types undecoded', () => {
    const env = decodeEnvelope({
      timestamp: null,
      namespace: 'n',
      topic: '/x',
      event: { type_url: 'example.Unknown', value: Buffer.alloc(0) },
    });
    assert.equal(env.event.typeUrl, 'example.Unknown');
    assert.equal(env.event.value, undefined);
  });
});
