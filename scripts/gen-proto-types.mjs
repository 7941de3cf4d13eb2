#!/usr/bin/env node
// gen-proto-types.mjs generates TypeScript types for protos/ into src/gen/ (gitignored, never
// edited by hand) with proto-loader-gen-types, using the same conversion options as the runtime
// loader in src/containerd/proto.ts: both read protos/loader-options.json, so the generated
// `__Output` types describe exactly the objects grpc-js hands back at run time.
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = join(root, 'protos');
const outDir = join(root, 'src', 'gen');
const opts = JSON.parse(readFileSync(join(protoDir, 'loader-options.json'), 'utf8'));

/** listProtos returns every .proto under dir, relative to protos/, sorted for stable output. */
function listProtos(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (dir === protoDir && name === 'criu') continue; // CRIU image formats: src/criu/, no gRPC
    if (statSync(p).isDirectory()) out.push(...listProtos(p));
    else if (name.endsWith('.proto')) out.push(relative(protoDir, p));
  }
  return out.sort();
}

const args = [
  '--grpcLib=@grpc/grpc-js',
  '--importFileExtension=.js',
  `--includeDirs=${protoDir}`,
  `--outDir=${outDir}`,
  `--longs=${opts.longs}`,
  `--enums=${opts.enums}`,
  `--bytes=${opts.bytes}`,
];
if (opts.keepCase) args.push('--keepCase');
if (opts.defaults) args.push('--defaults');
if (opts.oneofs) args.push('--oneofs');

rmSync(outDir, { recursive: true, force: true });
const bin = join(root, 'node_modules', '.bin', 'proto-loader-gen-types');
const res = spawnSync(bin, [...args, ...listProtos(protoDir)], { cwd: protoDir, stdio: 'inherit' });
if (res.error) throw res.error;
process.exit(res.status ?? 1);
