/**
 * Generators of hostile bytes for the fuzz targets: tar archives whose names, link targets, types
 * and sizes come from an alphabet of known tricks (`..`, absolute names, long names, NUL, symlink
 * chains, hardlinks to outside, device nodes, duplicate and conflicting entries), then optionally
 * mutated at the byte level (flips, truncation, garbage), so both the tar parser and the rules
 * behind it are exercised. fast-check shrinks a failing case to a small one.
 */
import fc from 'fast-check';
import tar from 'tar-stream';

export type EntryType =
  'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

export interface TarEntrySpec {
  name: string;
  type: EntryType;
  linkname: string;
  mode: number;
  body: Buffer;
  uid: number;
  gid: number;
  pax?: Record<string, string>;
}

const SEGMENTS = [
  '..',
  '.',
  'a',
  'b',
  'etc',
  'x',
  '',
  'dev',
  'proc',
  'lnk',
  '.wh.a',
  '.wh..wh..opq',
  'a'.repeat(120),
  'é',
  'a\\b',
];

/** pathArb builds names from hostile segments, sometimes absolute, sometimes with a trailing `/`. */
export const pathArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 6 }),
    fc.boolean(),
    fc.oneof(
      { weight: 9, arbitrary: fc.constant('') },
      { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
    ),
  )
  .map(([abs, segs, trail, junk]) => `${abs ? '/' : ''}${segs.join('/')}${trail ? '/' : ''}${junk}`);

export const entryArb: fc.Arbitrary<TarEntrySpec> = fc.record({
  name: pathArb,
  type: fc.constantFrom<EntryType>(
    'file',
    'file',
    'directory',
    'symlink',
    'link',
    'character-device',
    'block-device',
    'fifo',
  ),
  linkname: fc.oneof(pathArb, fc.constantFrom('/', '/etc/passwd', '../../../../etc/shadow', 'lnk', 'a')),
  mode: fc.oneof(
    fc.constantFrom(0o644, 0o755, 0o4755, 0o777, 0o000, 0o1777),
    fc.integer({ min: 0, max: 0o7777 }),
  ),
  body: fc.oneof(
    fc.constant(Buffer.alloc(0)),
    fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)),
  ),
  uid: fc.constantFrom(0, 1000, 65534, 2 ** 31 - 1),
  gid: fc.constantFrom(0, 1000, 65534),
  pax: fc.option(
    fc.dictionary(
      fc.constantFrom(
        'path',
        'linkpath',
        'size',
        'SCHILY.xattr.user.x',
        'SCHILY.xattr.security.capability',
        'uid',
      ),
      fc.string({ maxLength: 12 }),
      { maxKeys: 2 },
    ),
    { nil: undefined },
  ),
});

/** packTar writes the entries as a tar (ustar + pax where tar-stream needs it). */
export async function packTar(entries: readonly TarEntrySpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const header: Partial<tar.Header> & { name: string } = {
      name: e.name === '' ? '.' : e.name,
      type: e.type,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      ...(e.type === 'symlink' || e.type === 'link' ? { linkname: e.linkname } : {}),
      ...(e.type === 'character-device' || e.type === 'block-device' ? { devmajor: 1, devminor: 3 } : {}),
      ...(e.pax ? { pax: e.pax } : {}),
    };
    try {
      if (e.type === 'file') pack.entry({ ...header, size: e.body.length }, e.body);
      else pack.entry(header);
    } catch {
      // a header tar-stream itself cannot write: leave the entry out
    }
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface Mutation {
  kind: 'none' | 'flip' | 'truncate' | 'garbage';
  at: number;
  value: number;
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom<Mutation['kind']>('none', 'none', 'flip', 'truncate', 'garbage'),
  at: fc.nat(),
  value: fc.integer({ min: 0, max: 255 }),
});

/** mutate applies one byte-level mutation (positions wrap around the buffer). */
export function mutate(buf: Buffer, m: Mutation): Buffer {
  if (buf.length === 0 || m.kind === 'none') return buf;
  const at = m.at % buf.length;
  const out = Buffer.from(buf);
  switch (m.kind) {
    case 'flip':
      out[at] = (out[at]! ^ (m.value || 1)) & 0xff;
      return out;
    case 'truncate':
      return out.subarray(0, at);
    case 'garbage':
      return Buffer.concat([out.subarray(0, at), Buffer.alloc(512, m.value), out.subarray(at)]);
  }
}

/** tarArb is a hostile tar: generated entries, then maybe one byte-level mutation. */
export const tarArb: fc.Arbitrary<Promise<Buffer>> = fc
  .tuple(fc.array(entryArb, { maxLength: 8 }), mutationArb)
  .map(async ([entries, m]) => mutate(await packTar(entries), m));
