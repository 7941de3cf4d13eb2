import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import type { ServiceDefinition } from '@grpc/grpc-js';

/**
 * Conversion options shared by the runtime loader and scripts/gen-proto-types.mjs (both read
 * protos/loader-options.json), so the generated `__Output` types are what grpc-js hands back:
 * - keepCase: field names stay snake_case as on the wire and in containerd's docs.
 * - longs as String: int64 sizes/offsets/seconds lose nothing (Number would past 2^53) and
 *   need no `long` dependency; callers convert with Number()/BigInt() where they need math.
 * - enums as String: `'RUNNING'` reads better than `2` in logs and comparisons.
 * - bytes as Buffer: what Node streams and crypto want, no base64 round trip.
 * - defaults (and oneofs): every scalar/repeated/map is present in outputs, so callers never
 *   test for `undefined` on, e.g., `labels` or `mounts`; absent messages are `null`.
 */
interface LoaderOptionsFile {
  keepCase: boolean;
  longs: 'String' | 'Number';
  enums: 'String';
  bytes: 'Buffer' | 'String' | 'Array';
  defaults: boolean;
  oneofs: boolean;
}

/** findProtoDir locates protos/ from src/containerd (tsx) or dist/src/containerd (build). */
function findProtoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'protos');
    if (existsSync(join(candidate, 'loader-options.json'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('ckptd: cannot find the protos/ directory (protos/loader-options.json)');
}

/** PROTO_DIR is the absolute path of ckptd's protos/ directory. */
export const PROTO_DIR = findProtoDir();

const fileOptions = JSON.parse(
  readFileSync(join(PROTO_DIR, 'loader-options.json'), 'utf8'),
) as LoaderOptionsFile;

/** CONVERSION_OPTIONS are the protobufjs toObject options matching the grpc loader's. */
export const CONVERSION_OPTIONS: protobuf.IConversionOptions = {
  longs: fileOptions.longs === 'String' ? String : Number,
  enums: String,
  bytes: fileOptions.bytes === 'String' ? String : fileOptions.bytes === 'Array' ? Array : Buffer,
  defaults: fileOptions.defaults,
  oneofs: fileOptions.oneofs,
};

/**
 * listProtoFiles returns every .proto under protos/, relative to protos/, sorted: containerd's
 * and their dependencies. protos/criu/ (CRIU's image formats, read by src/criu/) is not a gRPC
 * API and is left out.
 */
export function listProtoFiles(dir: string = PROTO_DIR): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (dir === PROTO_DIR && name === 'criu') continue;
    if (statSync(p).isDirectory()) out.push(...listProtoFiles(p));
    else if (name.endsWith('.proto')) out.push(relative(PROTO_DIR, p));
  }
  return out.sort();
}

const protoFiles = listProtoFiles();

/** packageDefinition is protos/ loaded once for grpc-js (serializers for every method). */
const packageDefinition = protoLoader.loadSync(protoFiles, {
  ...CONVERSION_OPTIONS,
  keepCase: fileOptions.keepCase,
  includeDirs: [PROTO_DIR],
} as protoLoader.Options);

/** protoRoot is the protobufjs view of protos/, used to pack and unpack Any payloads. */
export const protoRoot: protobuf.Root = (() => {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    target.startsWith('google/protobuf/') ? target : join(PROTO_DIR, target);
  root.loadSync(protoFiles, { keepCase: fileOptions.keepCase });
  root.resolveAll();
  return root;
})();

/**
 * serviceDefinition returns the grpc-js definition of a service by its full protobuf name,
 * typed with the generated `<Service>Definition` interface.
 */
export function serviceDefinition<T extends ServiceDefinition>(fullName: string): T {
  const def = packageDefinition[fullName];
  if (def === undefined || !isServiceDefinition(def)) {
    throw new Error(`ckptd: service ${fullName} is not declared in protos/`);
  }
  return def as unknown as T;
}

function isServiceDefinition(def: protoLoader.AnyDefinition): def is protoLoader.ServiceDefinition {
  return !('format' in def);
}
