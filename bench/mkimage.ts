// bench/mkimage.ts OUT: writes the busybox test image archive (docker-save layout) the commit
// and export benchmarks load into every engine, so ckptd and dockerd start from the same image.
import { buildTestImage } from '../test/helpers/images.js';

const out = process.argv[2];
if (!out) throw new Error('usage: mkimage.ts OUT.tar');
await buildTestImage(out, { name: 'ckptd-bench/busybox:latest' });
