/**
 * LayerPathCheck walks the headers of a layer tar as its bytes stream by and finds the first
 * entry dockerd refuses as a breakout when it unpacks the layer (moby `pkg/archive` UnpackLayer
 * and createTarFile): a name that leaves the layer's root once cleaned (`../x`, `a/../../x`,
 * `/../x`; `/x` is x in the root) or a hard link whose target does. containerd's applier clamps
 * such names silently instead; ckptd refuses the layer as dockerd does.
 *
 * A symlink's target is not checked (dockerd also refuses a relative target that climbs above
 * the root): a symlink is never followed while a layer is unpacked, resolves inside the
 * container's root when used, and `ln -s ../../.. x` in a container, committed and saved, must
 * load back (dockerd cannot load such a save of its own).
 *
 * Only headers are parsed: file data is skipped by size, as Go's archive/tar reads it (ustar
 * prefix, pax `path`/`linkpath`/`size` records, GNU long names; header-only types carry no
 * data). Bytes that are not a tar (a bad header checksum) end the walk with `notTar` set: the
 * entry may be no layer at all (a config), and the diffID check catches a layer that is no tar.
 */

/** BLOCK is tar's block size. */
const BLOCK = 512;
/** MAX_SPECIAL is the largest pax or GNU long-name record read (Go's maxSpecialFileSize). */
const MAX_SPECIAL = 1 << 20;
/** Header-only types (Go's isHeaderOnlyType): link, symlink, char, block, dir, fifo. */
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

/** walkDepth walks `path` from depth `start` below the root: its depth, or -1 once it leaves the root. */
function walkDepth(start: number, path: string): number {
  let depth = start;
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (--depth < 0) return -1;
    } else depth++;
  }
  return depth;
}

/**
 * breakoutOf says why an entry escapes the layer root, as moby words it, or undefined. `type`
 * is the tar typeflag.
 */
export function breakoutOf(name: string, type: string, linkname: string): string | undefined {
  if (walkDepth(0, name) < 0) return `${JSON.stringify(name)} is outside of the layer root`;
  if (type === '1' && walkDepth(0, linkname) < 0) {
    return `invalid hardlink ${JSON.stringify(name)} -> ${JSON.stringify(linkname)}`;
  }
  return undefined;
}

function cString(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

/** parseNumeric reads a tar numeric field: octal text, or base-256 when the high bit is set. */
function parseNumeric(b: Buffer, off: number, len: number): number {
  if ((b[off]! & 0x80) !== 0) {
    let v = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!;
    return v;
  }
  const s = cString(b, off, len).trim();
  if (s === '') return 0;
  const v = parseInt(s, 8);
  return Number.isFinite(v) ? v : NaN;
}

function checksumOk(b: Buffer): boolean {
  const stored = parseNumeric(b, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

/** parsePax reads `LEN key=value\n` records. */
function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp < 0) break;
    const len = Number(data.toString('latin1', off, sp));
    if (!Number.isInteger(len) || len <= sp - off || off + len > data.length) break;
    const rec = data.toString('utf8', sp + 1, off + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    off += len;
  }
  return out;
}

/** LayerPathCheck is fed a layer tar's bytes in order; see the module comment. */
export class LayerPathCheck {
  /** breakout is the first escaping entry found, as dockerd words it. */
  breakout: string | undefined;
  /** notTar is set when the bytes stopped looking like a tar. */
  notTar = false;

  #done = false;
  #skip = 0;
  #need = BLOCK;
  #parts: Buffer[] = [];
  #have = 0;
  /** #special is the typeflag whose data is being collected ('x', 'L', 'K'), else header. */
  #special: { type: string; size: number } | undefined;
  #next: { path?: string; linkpath?: string; size?: number } = {};

  /** write feeds the next bytes. */
  write(chunk: Buffer): void {
    let off = 0;
    while (!this.#done && off < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - off);
        this.#skip -= n;
        off += n;
        continue;
      }
      const n = Math.min(this.#need - this.#have, chunk.length - off);
      this.#parts.push(chunk.subarray(off, off + n));
      this.#have += n;
      off += n;
      if (this.#have < this.#need) continue;
      const buf = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
      this.#parts = [];
      this.#have = 0;
      if (this.#special) this.#onSpecial(this.#special, buf);
      else this.#onHeader(buf);
    }
  }

  #stop(notTar: boolean): void {
    this.#done = true;
    this.notTar ||= notTar;
    this.#parts = [];
  }

  #onHeader(b: Buffer): void {
    if (b.every((x) => x === 0)) {
      this.#stop(false); // end of archive
      return;
    }
    if (!checksumOk(b)) {
      this.#stop(true);
      return;
    }
    const type = String.fromCharCode(b[156]!);
    let size = parseNumeric(b, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0) {
      this.#stop(true);
      return;
    }
    if (type === 'x' || type === 'L' || type === 'K' || type === 'g') {
      if (size > MAX_SPECIAL) {
        this.#stop(true);
        return;
      }
      this.#special = { type, size };
      this.#need = Math.ceil(size / BLOCK) * BLOCK;
      if (this.#need === 0) this.#onSpecial(this.#special, Buffer.alloc(0));
      return;
    }
    let name = cString(b, 0, 100);
    const magic = b.toString('latin1', 257, 263);
    if (magic === 'ustar\0') {
      const prefix = cString(b, 345, 155);
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    let linkname = cString(b, 157, 100);
    const next = this.#next;
    this.#next = {};
    if (next.path !== undefined) name = next.path;
    if (next.linkpath !== undefined) linkname = next.linkpath;
    if (next.size !== undefined) size = next.size;
    this.breakout = breakoutOf(name, type, linkname);
    if (this.breakout !== undefined) {
      this.#stop(false);
      return;
    }
    const data = HEADER_ONLY.has(type) ? 0 : size;
    this.#skip = Math.ceil(data / BLOCK) * BLOCK;
  }

  #onSpecial(s: { type: string; size: number }, buf: Buffer): void {
    this.#special = undefined;
    this.#need = BLOCK;
    const data = buf.subarray(0, s.size);
    if (s.type === 'L') this.#next.path = cString(data, 0, data.length);
    else if (s.type === 'K') this.#next.linkpath = cString(data, 0, data.length);
    else if (s.type === 'x') {
      const pax = parsePax(data);
      const path = pax.get('path');
      const linkpath = pax.get('linkpath');
      const size = pax.get('size');
      if (path !== undefined) this.#next.path = path;
      if (linkpath !== undefined) this.#next.linkpath = linkpath;
      if (size !== undefined) {
        const n = Number(size);
        if (!Number.isSafeInteger(n) || n < 0) {
          this.#stop(true);
          return;
        }
        this.#next.size = n;
      }
    }
    // 'g' (global pax): Go's reader applies no path from it to entries; nothing to keep.
  }
}
