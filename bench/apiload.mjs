#!/usr/bin/env node
// Bounded keep-alive HTTP load over a unix socket (node:http only); prints one JSON line.
//   node bench/apiload.mjs --socket /path.sock --path /_ping [--concurrency 8] [--seconds 3]
import http from 'node:http';

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const socketPath = args.socket;
const path = args.path ?? '/_ping';
const conc = Math.max(1, Number(args.concurrency ?? 1));
const maxMs = Number(args.seconds ?? 3) * 1000;
if (!socketPath) {
  console.error('--socket required');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
let done = 0;
let errors = 0;
const lat = [];
const t0 = performance.now();
function one() {
  if (performance.now() - t0 >= maxMs) return Promise.resolve();
  const s = performance.now();
  return new Promise((resolve) => {
    const req = http.request({ socketPath, path, agent, headers: { Host: 'docker' } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) errors++;
        done++;
        lat.push(performance.now() - s);
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      done++;
      resolve();
    });
    req.end();
  }).then(one);
}
await Promise.all(Array.from({ length: conc }, one));
const secs = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const q = (p) => (lat.length ? +lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(3) : null);
console.log(
  JSON.stringify({
    path,
    concurrency: conc,
    requests: done,
    errors,
    rps: +(done / secs).toFixed(1),
    p50_ms: q(0.5),
    p99_ms: q(0.99),
  }),
);
agent.destroy();
