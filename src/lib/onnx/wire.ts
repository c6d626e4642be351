/**
 * Windowed reading of the protobuf wire format. A model file is seen through a `ByteSource`
 * (bytes in memory, or a Blob/File read in small slices); `WindowReader` keeps one window of it
 * in memory and hands out field headers: (field number, wire type, value or byte range). Payloads
 * that are not needed (tensor data) are skipped by range, never read.
 */
import protobuf from 'protobufjs/minimal.js';
import { OnnxFormatError, truncatedHint } from './errors.ts';

const { Reader } = protobuf;
type PbReader = InstanceType<typeof Reader>;

/** Random access to the bytes of one file. Offsets and lengths are in bytes. */
export interface ByteSource {
  readonly size: number;
  /** Bytes [start, end); `end` ≤ size. May return a view into a larger buffer (no copy). */
  read(start: number, end: number): Promise<Uint8Array>;
}

/** Anything the ONNX layer accepts as a file: bytes in memory or a Blob/File (read lazily). */
export type BytesLike = ArrayBuffer | Uint8Array | Blob;

/** Wraps bytes or a Blob as a ByteSource without copying (a ByteSource is returned as is). */
export function toByteSource(src: BytesLike | ByteSource): ByteSource {
  if (src instanceof Uint8Array || src instanceof ArrayBuffer) {
    const bytes = src instanceof Uint8Array ? src : new Uint8Array(src);
    return { size: bytes.length, read: async (a, b) => bytes.subarray(a, b) };
  }
  if (typeof Blob !== 'undefined' && src instanceof Blob) {
    return {
      size: src.size,
      read: async (a, b) => new Uint8Array(await src.slice(a, b).arrayBuffer()),
    };
  }
  if (src && typeof (src as ByteSource).read === 'function' && typeof (src as ByteSource).size === 'number') return src as ByteSource;
  throw new TypeError('expected an ArrayBuffer, a Uint8Array, a Blob, a File or a ByteSource');
}

/** One field header. For LEN fields [start, end) is the payload; `next` is where the next field starts. */
export interface FieldHead {
  field: number;
  wire: number;
  /** Offset of the tag. */
  at: number;
  start: number;
  end: number;
  next: number;
  /** Varint value (wire 0), as a signed int64 read into a double (exact up to 2^53). */
  int: number;
  /** float value (wire 5). */
  float: number;
}

export const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

/** Smallest window fetched (bytes). */
const MIN_WINDOW = 4096;

/** Longest single read the parser does for a structural field (names, small messages). */
const MAX_FETCH = 64 << 20;

/** A cached window [winStart, winStart + win.length) of a ByteSource plus a protobufjs Reader over it. */
export class WindowReader {
  readonly size: number;
  private win: Uint8Array = new Uint8Array(0);
  private winStart = 0;
  private reader: PbReader = new Reader(new Uint8Array(0));
  /** Size of the next fetch (bytes), between MIN_WINDOW and windowSize. */
  private span = MIN_WINDOW;
  /** Bytes fetched from the source so far (for benchmarks). */
  bytesFetched = 0;

  constructor(
    private readonly src: ByteSource,
    private readonly windowSize = 256 << 10,
  ) {
    this.size = src.size;
  }

  /**
   * Makes bytes [start, end) available in the window (end is clipped to the file size), reading
   * at most windowSize bytes beyond `end`.
   */
  async ensure(start: number, end: number): Promise<void> {
    end = Math.min(end, this.size);
    if (start >= this.winStart && end <= this.winStart + this.win.length) return;
    if (end - start > MAX_FETCH) {
      throw new OnnxFormatError(`a structural field of ${end - start} bytes is implausibly large`, start);
    }
    // Reading on from the window's end (nodes, value infos) grows the window up to windowSize;
    // a jump (past a skipped tensor payload) starts small again: most jumps land on a tensor
    // header of a few dozen bytes followed by another large payload.
    const sequential = start === this.winStart + this.win.length;
    this.span = Math.min(this.windowSize, sequential ? this.span * 2 : MIN_WINDOW);
    const fetchEnd = Math.min(this.size, Math.max(end, start + this.span));
    this.win = await this.src.read(start, fetchEnd);
    this.winStart = start;
    this.bytesFetched += this.win.length;
    this.reader = new Reader(this.win);
  }

  /** Bytes [start, end) as a view into the window (valid until the next `ensure`). */
  async view(start: number, end: number): Promise<Uint8Array> {
    if (!this.covers(start, end)) await this.ensure(start, end);
    return this.win.subarray(start - this.winStart, end - this.winStart);
  }

  private viewInWindow(start: number, end: number): Uint8Array {
    return this.win.subarray(start - this.winStart, end - this.winStart);
  }

  /** True when bytes [start, end) (clipped to the file) are in the window. */
  private covers(start: number, end: number): boolean {
    return start >= this.winStart && Math.min(end, this.size) <= this.winStart + this.win.length;
  }

  /**
   * Reads the field header at `pos` of a message that ends at `end`; `what` names the message for
   * errors. Returns a plain value when the header is already in the window: callers test
   * `instanceof Promise` before awaiting, since awaiting a plain value still costs a microtask
   * per field (about a third of the indexing time).
   */
  field(pos: number, end: number, what: string): FieldHead | Promise<FieldHead> {
    const need = Math.min(end, pos + 24);
    if (this.covers(pos, need)) return this.fieldInWindow(pos, end, what);
    return this.ensure(pos, need).then(() => this.fieldInWindow(pos, end, what));
  }

  private fieldInWindow(pos: number, end: number, what: string): FieldHead {
    const r = this.reader;
    r.pos = pos - this.winStart;
    r.len = Math.min(end, this.winStart + this.win.length) - this.winStart;
    const head: FieldHead = { field: 0, wire: 0, at: pos, start: 0, end: 0, next: 0, int: 0, float: 0 };
    try {
      const tag = r.tag();
      head.field = tag >>> 3;
      head.wire = tag & 7;
      if (head.field === 0) throw new OnnxFormatError(`invalid field number 0 in ${what}`, pos);
      if (head.wire === WIRE.VARINT) head.int = longToNumber(r.int64());
      else if (head.wire === WIRE.I64) r.skip(8);
      else if (head.wire === WIRE.I32) head.float = r.float();
      else if (head.wire === WIRE.LEN) {
        const len = r.size();
        head.start = this.winStart + r.pos;
        head.end = head.start + len;
      } else {
        throw new OnnxFormatError(`unsupported wire type ${head.wire} (field ${head.field}) in ${what}`, pos);
      }
    } catch (e) {
      throw this.explain(e, pos, end, what);
    }
    head.next = head.wire === WIRE.LEN ? head.end : this.winStart + r.pos;
    if (head.wire !== WIRE.LEN) {
      head.start = pos;
      head.end = head.next;
    }
    if (head.end > end) {
      if (head.end > this.size) {
        throw new OnnxFormatError(
          `field ${head.field} of ${what} declares ${head.end - head.start} bytes, past the end of the file`,
          pos,
          truncatedHint(this.size, head.end),
        );
      }
      throw new OnnxFormatError(
        `field ${head.field} of ${what} declares ${head.end - head.start} bytes, past the end of its message (byte ${end})`,
        pos,
      );
    }
    return head;
  }

  /** UTF-8 string payload of a LEN field, at most `max` bytes. */
  string(f: FieldHead, what: string, max = 1 << 20): string | Promise<string> {
    if (f.wire !== WIRE.LEN) throw wrongWire(f, what);
    if (f.end - f.start > max) throw new OnnxFormatError(`${what} is ${f.end - f.start} bytes long (limit ${max})`, f.at);
    if (this.covers(f.start, f.end)) return utf8.decode(this.viewInWindow(f.start, f.end));
    return this.view(f.start, f.end).then((v) => utf8.decode(v));
  }

  /** Integers of a repeated int64/int32 field: one varint (unpacked) or a packed LEN run. */
  async ints(f: FieldHead, what: string, max = 1 << 16): Promise<number[]> {
    if (f.wire === WIRE.VARINT) return [f.int];
    if (f.wire !== WIRE.LEN) throw wrongWire(f, what);
    const bytes = await this.view(f.start, f.end);
    const r = new Reader(bytes);
    const out: number[] = [];
    try {
      while (r.pos < r.len) {
        if (out.length >= max) throw new OnnxFormatError(`${what} has more than ${max} values`, f.at);
        out.push(longToNumber(r.int64()));
      }
    } catch (e) {
      throw this.explain(e, f.start, f.end, what);
    }
    return out;
  }

  /** Floats of a repeated float field: one fixed32 (unpacked) or a packed LEN run. */
  async floats(f: FieldHead, what: string, max = 1 << 16): Promise<number[]> {
    if (f.wire === WIRE.I32) return [f.float];
    if (f.wire !== WIRE.LEN) throw wrongWire(f, what);
    const n = (f.end - f.start) / 4;
    if (!Number.isInteger(n)) throw new OnnxFormatError(`${what} is not a whole number of floats`, f.at);
    if (n > max) throw new OnnxFormatError(`${what} has ${n} values (limit ${max})`, f.at);
    const v = await this.view(f.start, f.end);
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    return Array.from({ length: n }, (_, i) => dv.getFloat32(4 * i, true));
  }

  private explain(e: unknown, pos: number, end: number, what: string): unknown {
    if (e instanceof OnnxFormatError) return e;
    if (end >= this.size && pos < this.size && (e instanceof RangeError || /out of range/.test(String(e)))) {
      return new OnnxFormatError(`${what} ends in the middle of a field`, pos, truncatedHint(this.size, pos + 1));
    }
    const msg = e instanceof Error ? e.message : String(e);
    return new OnnxFormatError(`malformed protobuf in ${what} (${msg})`, pos);
  }
}

const utf8 = new TextDecoder('utf-8');

function wrongWire(f: FieldHead, what: string): OnnxFormatError {
  return new OnnxFormatError(`${what} has wire type ${f.wire}, which does not fit its field`, f.at);
}

/** protobufjs returns int64 as a Long (when long.js is present) or a number. */
export function longToNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  const l = v as { toNumber(): number };
  return l.toNumber();
}
