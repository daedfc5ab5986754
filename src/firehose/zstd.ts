// Decompression of Jetstream `compress=true` messages: each binary message is one
// independent zstd frame made with a fixed dictionary.
//
// Two engines, both Node's built-in zstd (fzstd is NOT usable: it ignores
// dictionaries and returns wrong bytes without an error):
//  - 'oneshot': zlib.zstdDecompressSync(frame, { dictionary }). Public API, but it
//    builds a decoder and loads the dictionary on every call (~22-34 us/message).
//  - 'reuse': one ZstdDecompress object with the dictionary loaded once, fed frame by
//    frame through its native handle (~2.5-3 us/message). Node exposes no public
//    per-frame API on a reusable decoder, so this uses `_handle.writeSync` and
//    `_writeState` (the same calls Node's own zstdDecompressSync makes). It is guarded:
//    'auto' self-tests it at creation and falls back to 'oneshot' if anything differs.
// Both verify the frame checksum (Jetstream frames carry one).
import zlib from 'node:zlib';

export type ZstdEngine = 'auto' | 'reuse' | 'oneshot';

export interface ZstdFrameDecoder {
  readonly engine: 'reuse' | 'oneshot';
  /** Decompresses exactly one complete frame; throws on any corruption. */
  decode(frame: Uint8Array): Buffer;
}

export interface ZstdDecoderOptions {
  engine?: ZstdEngine;
  /** Upper bound on one decompressed message (default 16 MiB). */
  maxOutputBytes?: number;
}

const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;
const ZSTD_MAGIC = 0xfd2fb528;

export function createZstdDecoder(dictionary: Uint8Array, opts: ZstdDecoderOptions = {}): ZstdFrameDecoder {
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const engine = opts.engine ?? 'auto';
  if (engine === 'oneshot') return new OneShotDecoder(dictionary, max);
  if (engine === 'reuse') return new ReusingDecoder(dictionary, max);
  try {
    const reuse = new ReusingDecoder(dictionary, max);
    if (selfTest(reuse, dictionary)) return reuse;
  } catch {
    // internals changed shape: fall through to the public API
  }
  return new OneShotDecoder(dictionary, max);
}

/**
 * Length of the single zstd frame that starts at buf[0], from its block headers
 * (RFC 8878 section 3.1.1); throws if the bytes are not a complete frame. Lets the
 * reusing decoder be fed only whole frames, so it is always at a frame boundary.
 */
export function zstdFrameLength(buf: Uint8Array): number {
  const fail = (why: string): never => {
    throw new Error(`not a zstd frame: ${why}`);
  };
  if (buf.length < 6) fail('too short');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(0, true) !== ZSTD_MAGIC) fail('bad magic');
  const fhd = buf[4]!;
  if (fhd & 0x08) fail('reserved bit set');
  const singleSegment = (fhd >> 5) & 1;
  const fcsFlag = fhd >> 6;
  const hasChecksum = (fhd >> 2) & 1;
  const dictIdSize = [0, 1, 2, 4][fhd & 3]!;
  const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  let pos = 5 + (singleSegment ? 0 : 1) + dictIdSize + fcsSize;
  for (;;) {
    if (pos + 3 > buf.length) fail('truncated block header');
    const header = buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16);
    pos += 3;
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    if (type === 3) fail('reserved block type');
    pos += type === 1 ? 1 : size;
    if (pos > buf.length) fail('truncated block');
    if (header & 1) break;
  }
  if (hasChecksum) pos += 4;
  if (pos > buf.length) fail('truncated checksum');
  return pos;
}

class OneShotDecoder implements ZstdFrameDecoder {
  readonly engine = 'oneshot' as const;
  constructor(
    private readonly dictionary: Uint8Array,
    private readonly max: number,
  ) {}

  decode(frame: Uint8Array): Buffer {
    // zstdDecompressSync would also accept several concatenated frames.
    if (zstdFrameLength(frame) !== frame.length) throw new Error('not exactly one zstd frame');
    return zlib.zstdDecompressSync(frame, { dictionary: this.dictionary, maxOutputLength: this.max });
  }
}

// The slice of Node's zstd stream object the reusing decoder relies on.
interface NativeZstdHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
}
interface ZstdStreamInternals {
  _handle: NativeZstdHandle | null;
  _writeState: Uint32Array; // [availOutAfter, availInAfter]
}

class ReusingDecoder implements ZstdFrameDecoder {
  readonly engine = 'reuse' as const;
  private stream: zlib.ZstdDecompress | null = null;
  private out = Buffer.allocUnsafe(64 * 1024);

  constructor(
    private readonly dictionary: Uint8Array,
    private readonly max: number,
  ) {
    this.open();
  }

  decode(frame: Uint8Array): Buffer {
    // A partial frame or trailing bytes would desynchronise the shared decoder.
    if (zstdFrameLength(frame) !== frame.length) throw new Error('not exactly one zstd frame');
    const stream = this.stream ?? this.open();
    try {
      return this.run(stream, frame);
    } catch (err) {
      // The native decoder is unusable after an error: start a fresh one next time.
      this.stream = null;
      stream.destroy();
      throw err;
    }
  }

  private open(): zlib.ZstdDecompress {
    const stream = new zlib.ZstdDecompress({ dictionary: this.dictionary });
    // Node reports native errors by destroying the stream and emitting 'error'
    // later; run() reads `errored` synchronously instead, so swallow the event.
    stream.on('error', () => {});
    const internals = stream as unknown as ZstdStreamInternals;
    if (typeof internals._handle?.writeSync !== 'function' || !(internals._writeState instanceof Uint32Array)) {
      throw new Error('unsupported Node zlib internals');
    }
    this.stream = stream;
    return stream;
  }

  private run(stream: zlib.ZstdDecompress, frame: Uint8Array): Buffer {
    const internals = stream as unknown as ZstdStreamInternals;
    const state = internals._writeState;
    const chunks: Buffer[] = [];
    let total = 0;
    let inOff = 0;
    let inLen = frame.length;
    for (;;) {
      const handle = internals._handle;
      if (!handle) throw stream.errored ?? new Error('zstd decoder closed');
      handle.writeSync(zlib.constants.ZSTD_e_end, frame, inOff, inLen, this.out, 0, this.out.length);
      if (stream.errored) throw stream.errored;
      const produced = this.out.length - state[0]!;
      const inLeft = state[1]!;
      total += produced;
      if (total > this.max) throw new Error(`zstd frame larger than ${this.max} bytes`);
      chunks.push(Buffer.from(this.out.subarray(0, produced)));
      if (state[0] !== 0) break; // output space left over: the frame is fully flushed
      inOff += inLen - inLeft;
      inLen = inLeft;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  }
}

// Checks the reusing decoder against the public one on a few frames, including a
// corrupt one in the middle, before trusting it.
function selfTest(reuse: ReusingDecoder, dictionary: Uint8Array): boolean {
  const samples = ['{"did":"did:plc:a","time_us":1,"kind":"identity"}', 'x'.repeat(200_000), '{}'];
  const frames = samples.map((s) =>
    zlib.zstdCompressSync(Buffer.from(s), {
      dictionary,
      params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 },
    }),
  );
  const corrupt = Buffer.from(frames[0]!);
  corrupt[corrupt.length - 1]! ^= 0xff;
  for (let i = 0; i < samples.length; i++) {
    if (reuse.decode(frames[i]!).toString('utf8') !== samples[i]) return false;
    if (i === 0 && !throws(() => reuse.decode(corrupt))) return false;
  }
  return true;
}

function throws(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch {
    return true;
  }
}
