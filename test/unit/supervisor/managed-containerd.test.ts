import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerdConfigToml, managedContainerdPaths } from '../../../src/supervisor/managed-containerd.js';

test('a managed containerd keeps root, state and sockets under the data root', () => {
  const p = managedContainerdPaths('/var/lib/ckptd');
  for (const v of Object.values(p)) assert.ok(v.startsWith('/var/lib/ckptd/containerd'), v);
  const toml = containerdConfigToml(p);
  assert.match(toml, /^version = 2$/m);
  assert.match(toml, /root = "\/var\/lib\/ckptd\/containerd\/root"/);
  assert.match(toml, /address = "\/var\/lib\/ckptd\/containerd\/containerd.sock"/);
  assert.match(toml, /disabled_plugins = \["io.containerd.grpc.v1.cri"\]/);
});
