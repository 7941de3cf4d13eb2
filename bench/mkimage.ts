// bench/mkimage.ts OUT [MEMHOG]: writes the busybox test image archive (docker-save layout) the
// benchmarks load into every engine, so ckptd, dockerd and podman start from the same image.
// MEMHOG, when given, is a static binary added as /memhog in a second layer (checkpoint cases).
import { readFile } from 'node:fs/promises';
import { buildTestImage } from '../test/helpers/images.js';

const [out, memhog] = process.argv.slice(2);
if (!out) throw new Error('usage: mkimage.ts OUT.tar [MEMHOG]');
await buildTestImage(out, {
  name: 'ckptd-bench/busybox:latest',
  ...(memhog ? { extraLayers: [[{ path: 'memhog', content: await readFile(memhog), mode: 0o755 }]] } : {}),
});
