/**
 * Docker's stdcopy framing (moby `pkg/stdcopy`): without a TTY, attach, exec and logs streams
 * carry stdout and stderr in one connection as frames of an 8-byte header
 * `[stream, 0, 0, 0, uint32 BE length]` followed by the payload.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** StdStream names the stream of a frame; the numbers are stdcopy's StdType. */
export type StdStream = 'stdin' | 'stdout' | 'stderr';

/** STD_STREAM_IDS maps a stream to its header byte. */
export const STD_STREAM_IDS: Readonly<Record<StdStream, number>> = Object.freeze({
  stdin: 0,
  stdout: 1,
  stderr: 2,
});

/** MUX_HEADER_SIZE is the size of a frame header. */
export const MUX_HEADER_SIZE = 8;

/** MAX_FRAME_PAYLOAD bounds one frame's payload; longer chunks are split (the length field is 32 bits). */
export const MAX_FRAME_PAYLOAD = 1 << 20;

/** OutputChunk is a piece of a process's output on one stream. */
export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** encodeFrames frames `data` for `stream` (several frames when it exceeds MAX_FRAME_PAYLOAD). */
export function encodeFrames(stream: StdStream, data: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let off = 0; off < data.length || (off === 0 && data.length === 0); off += MAX_FRAME_PAYLOAD) {
    const payload = data.subarray(off, off + MAX_FRAME_PAYLOAD);
    const header = Buffer.alloc(MUX_HEADER_SIZE);
    header[0] = STD_STREAM_IDS[stream];
    header.writeUInt32BE(payload.length, 4);
    frames.push(header, payload);
    if (data.length === 0) break;
  }
  return frames;
}

/** encodeFrame returns one buffer holding `data` framed for `stream`. */
export function encodeFrame(stream: StdStream, data: Buffer): Buffer {
  return Buffer.concat(encodeFrames(stream, data));
}

const STREAM_NAMES: readonly StdStream[] = ['stdin', 'stdout', 'stderr'];

/** DecodedFrame is one frame read back by MuxDecoder. */
export interface DecodedFrame {
  stream: StdStream;
  data: Buffer;
}

/**
 * MuxDecoder is a Transform from framed bytes to DecodedFrame objects (stdcopy's StdCopy, used
 * by tests and clients). A bad stream byte or a truncated frame at the end is an error.
 */
export class MuxDecoder extends Transform {
  #pending: Buffer = Buffer.alloc(0);

  constructor() {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (this.#pending.length >= MUX_HEADER_SIZE) {
      const id = this.#pending[0] ?? 255;
      const stream = STREAM_NAMES[id];
      if (stream === undefined) {
        cb(new Error(`unrecognized stream: ${id}`));
        return;
      }
      const len = this.#pending.readUInt32BE(4);
      if (this.#pending.length < MUX_HEADER_SIZE + len) break;
      this.push({
        stream,
        data: this.#pending.subarray(MUX_HEADER_SIZE, MUX_HEADER_SIZE + len),
      } satisfies DecodedFrame);
      this.#pending = this.#pending.subarray(MUX_HEADER_SIZE + len);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    cb(
      this.#pending.length > 0 ? new Error(`truncated frame: ${this.#pending.length} trailing bytes`) : null,
    );
  }
}
