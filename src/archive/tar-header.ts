/**
 * Tar headers for archives ckptd lays out itself (POSIX.1-2001: ustar headers, a pax extended
 * header when a name does not fit ustar's name/prefix fields). Only what ckptd's own trees
 * need: regular files and directories, numeric owners, whole-second mtimes.
 */

/** BLOCK is tar's block size: headers and file data are padded to it. */
export const BLOCK = 512;

/** TarHeader describes one entry. Directory names get their trailing `/` here. */
export interface TarHeader {
  name: string;
  type: 'file' | 'directory';
  /** permission bits (the file type bits are ignored) */
  mode: number;
  size: number;
  /** seconds since the epoch */
  mtime: number;
  uid?: number;
  gid?: number;
}

/** END_OF_ARCHIVE is the two zero blocks that end a tar. */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK);

/** padding returns the zero bytes that pad `size` bytes of data to a whole block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/**
 * encodeHeader returns the header blocks of `h`: one ustar block, preceded by a pax extended
 * header (and its data) when the name is longer than ustar can hold.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const name = h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  const split = splitUstarName(name);
  const bigSize = h.size > MAX_USTAR_SIZE;
  const block = ustarBlock({
    ...h,
    name: split?.name ?? name.slice(0, 99),
    prefix: split?.prefix ?? '',
    size: bigSize ? 0 : h.size,
    typeflag: h.type === 'directory' ? '5' : '0',
  });
  if (split !== undefined && !bigSize) return block;
  const data = Buffer.concat([
    ...(split === undefined ? [paxRecord('path', name)] : []),
    ...(bigSize ? [paxRecord('size', String(h.size))] : []),
  ]);
  return Buffer.concat([
    ustarBlock({
      name: 'PaxHeader',
      prefix: '',
      mode: 0o644,
      size: data.length,
      mtime: h.mtime,
      typeflag: 'x',
    }),
    data,
    padding(data.length),
    block,
  ]);
}

/** MAX_USTAR_SIZE is the largest size ustar's 11 octal digits hold (8 GiB - 1). */
const MAX_USTAR_SIZE = 0o77777777777;

/** splitUstarName fits `name` into ustar's 100-byte name and 155-byte prefix, or not at all. */
function splitUstarName(name: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { name, prefix: '' };
  for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) > 155) return undefined;
    if (Buffer.byteLength(rest) <= 100 && rest !== '') return { name: rest, prefix };
  }
  return undefined;
}

/** paxRecord is one `LEN key=value\n` record; LEN counts itself. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return Buffer.from(`${len}${body}`);
}

function ustarBlock(f: {
  name: string;
  prefix: string;
  mode: number;
  size: number;
  mtime: number;
  uid?: number;
  gid?: number;
  typeflag: string;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(f.name, 0, 100, 'utf8');
  octal(b, 100, 8, f.mode & 0o7777);
  octal(b, 108, 8, f.uid ?? 0);
  octal(b, 116, 8, f.gid ?? 0);
  octal(b, 124, 12, f.size);
  octal(b, 136, 12, Math.max(0, Math.floor(f.mtime)));
  b.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  b.write(f.typeflag, 156, 1, 'latin1');
  b.write('ustar\u000000', 257, 8, 'latin1');
  b.write(f.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return b;
}

/** octal writes `value` zero-padded in `len - 1` octal digits and a NUL. */
function octal(b: Buffer, off: number, len: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > len - 1)
    throw new RangeError(`tar header: ${value} does not fit ${len - 1} octal digits`);
  b.write(`${digits.padStart(len - 1, '0')}\u0000`, off, len, 'latin1');
}
