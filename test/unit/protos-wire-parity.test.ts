// Guards wire compatibility: every message, enum and service method ckptd declares in protos/
// must match containerd 1.6's own .proto files (names, field numbers, types, cardinality).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import protobuf from 'protobufjs';
import { PROTO_DIR, listProtoFiles } from '../../src/containerd/proto.js';

// CKPTD_GOCODE_SRC only exists to prove the missing-package failure; normally unset.
const GOCODE = process.env.CKPTD_GOCODE_SRC ?? '/usr/share/gocode/src';
const CONTAINERD = join(GOCODE, 'github.com/containerd/containerd');
const GOGO = join(GOCODE, 'github.com/gogo/protobuf');
const GOOGLEAPIS = join(GOCODE, 'github.com/gogo/googleapis');

const UPSTREAM_FILES = [
  'api/types/descriptor.proto',
  'api/types/mount.proto',
  'api/types/platform.proto',
  'api/types/metrics.proto',
  'api/types/task/task.proto',
  'api/services/version/v1/version.proto',
  'api/services/introspection/v1/introspection.proto',
  'api/services/namespaces/v1/namespace.proto',
  'api/services/containers/v1/containers.proto',
  'api/services/content/v1/content.proto',
  'api/services/snapshots/v1/snapshots.proto',
  'api/services/diff/v1/diff.proto',
  'api/services/images/v1/images.proto',
  'api/services/leases/v1/leases.proto',
  'api/services/tasks/v1/tasks.proto',
  'api/services/events/v1/events.proto',
  'api/events/container.proto',
  'api/events/content.proto',
  'api/events/image.proto',
  'api/events/namespace.proto',
  'api/events/snapshot.proto',
  'api/events/task.proto',
  'runtime/v2/runc/options/oci.proto',
].map((f) => join(CONTAINERD, f));

/** loadUpstream loads containerd's .proto files the way protoc would with Go import paths. */
function loadUpstream(): protobuf.Root {
  const missing = UPSTREAM_FILES.filter((f) => !existsSync(f));
  if (missing.length > 0 || !existsSync(join(GOGO, 'gogoproto/gogo.proto'))) {
    assert.fail(
      `containerd's .proto files are missing (${missing[0] ?? 'gogoproto/gogo.proto'}): ` +
        'run scripts/setup-host.sh (installs golang-github-containerd-containerd-dev)',
    );
  }
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (target.startsWith('/')) return target;
    if (target.startsWith('github.com/')) return join(GOCODE, target);
    if (target.startsWith('gogoproto/')) return join(GOGO, target);
    if (target === 'google/protobuf/descriptor.proto') return join(GOGO, 'protobuf', target);
    if (target.startsWith('google/protobuf/')) return target; // protobufjs' bundled well-known types
    if (target.startsWith('google/rpc/')) return join(GOOGLEAPIS, target);
    return join(CONTAINERD, target);
  };
  root.loadSync(UPSTREAM_FILES, { keepCase: true });
  root.resolveAll();
  return root;
}

/** loadOurs loads ckptd's protos/ the same way the runtime loader does. */
function loadOurs(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    target.startsWith('google/protobuf/') ? target : join(PROTO_DIR, target);
  root.loadSync(listProtoFiles(), { keepCase: true });
  root.resolveAll();
  return root;
}

type Declared = { types: protobuf.Type[]; enums: protobuf.Enum[]; services: protobuf.Service[] };

/** declared collects every type, enum and service our files declare (not the bundled google.protobuf ones). */
function declared(
  ns: protobuf.NamespaceBase,
  out: Declared = { types: [], enums: [], services: [] },
): Declared {
  for (const obj of ns.nestedArray) {
    if (obj.fullName.startsWith('.google.protobuf')) continue;
    if (obj instanceof protobuf.Type) out.types.push(obj);
    else if (obj instanceof protobuf.Enum) out.enums.push(obj);
    else if (obj instanceof protobuf.Service) out.services.push(obj);
    if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) declared(obj, out);
  }
  return out;
}

/** fieldShape is what decides a field's wire encoding: number, type, cardinality, map key. */
function fieldShape(f: protobuf.Field): Record<string, unknown> {
  return {
    id: f.id,
    type: f.resolvedType ? f.resolvedType.fullName : f.type,
    repeated: f.repeated,
    map: f.map,
    keyType: f instanceof protobuf.MapField ? f.keyType : undefined,
  };
}

describe('protos/ wire parity with containerd 1.6', () => {
  let loaded: { upstream: protobuf.Root; decl: Declared } | undefined;
  // Every test fails (never skips) with the setup-host.sh hint when the Debian package is missing.
  const load = (): { upstream: protobuf.Root; decl: Declared } =>
    (loaded ??= { upstream: loadUpstream(), decl: declared(loadOurs()) });

  test('declares the services, messages and enums ckptd needs', () => {
    const { decl } = load();
    assert.ok(decl.services.length >= 11, `services: ${decl.services.map((s) => s.fullName).join(', ')}`);
    assert.ok(decl.types.length > 100, `messages: ${decl.types.length}`);
    assert.ok(decl.enums.length >= 3);
  });

  test('every declared message exists upstream with identical field numbers, types and cardinality', () => {
    const { upstream, decl } = load();
    const problems: string[] = [];
    for (const t of decl.types) {
      const up = upstream.lookup(t.fullName);
      if (!(up instanceof protobuf.Type)) {
        problems.push(`${t.fullName}: no such message upstream`);
        continue;
      }
      for (const f of t.fieldsArray) {
        const uf = up.fields[f.name];
        if (!uf) {
          problems.push(`${t.fullName}.${f.name}: no such field upstream`);
          continue;
        }
        const a = fieldShape(f);
        const b = fieldShape(uf);
        if (JSON.stringify(a) !== JSON.stringify(b)) {
          problems.push(`${t.fullName}.${f.name}: ours ${JSON.stringify(a)} upstream ${JSON.stringify(b)}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('every declared enum value has the upstream number', () => {
    const { upstream, decl } = load();
    const problems: string[] = [];
    for (const e of decl.enums) {
      const up = upstream.lookup(e.fullName);
      if (!(up instanceof protobuf.Enum)) {
        problems.push(`${e.fullName}: no such enum upstream`);
        continue;
      }
      for (const [name, num] of Object.entries(e.values)) {
        if (up.values[name] !== num)
          problems.push(`${e.fullName}.${name}: ours ${num} upstream ${up.values[name]}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('every declared service method exists upstream with the same request/response types and streaming', () => {
    const { upstream, decl } = load();
    const problems: string[] = [];
    for (const s of decl.services) {
      const up = upstream.lookup(s.fullName);
      if (!(up instanceof protobuf.Service)) {
        problems.push(`${s.fullName}: no such service upstream`);
        continue;
      }
      for (const m of s.methodsArray) {
        const um = up.methods[m.name];
        if (!um) {
          problems.push(`${s.fullName}/${m.name}: no such method upstream`);
          continue;
        }
        const shape = (x: protobuf.Method): string =>
          JSON.stringify([
            x.resolvedRequestType?.fullName,
            !!x.requestStream,
            x.resolvedResponseType?.fullName,
            !!x.responseStream,
          ]);
        if (shape(m) !== shape(um))
          problems.push(`${s.fullName}/${m.name}: ours ${shape(m)} upstream ${shape(um)}`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
