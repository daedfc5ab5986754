// A small Jetstream-compatible server for tests and benchmarks, on 127.0.0.1 only.
//
// Serves a list of events at /subscribe with the v1 wire's rules: replay from the first
// event with time_us >= cursor (inclusive; a cursor older than the oldest event is thereby
// clamped to it), then live tail (append()); `compress=true` sends each message as one
// zstd frame made with the given dictionary (any bytes work as a raw-content dictionary);
// `wantedCollections` filters commit events; permessage-deflate is negotiated when offered
// without compress=true, and offering both is refused with HTTP 400 as v2 servers do.
// Sending follows the socket's backpressure, so a paused client holds the server back.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import { WebSocket, WebSocketServer } from 'ws';

export interface TestEvent {
  time_us: number;
  kind?: string;
  commit?: { collection?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** How an event is broken on the wire, for decoder-error tests. */
export type Fault = 'garbage' | 'corrupt-zstd' | 'invalid-json';

export interface JetstreamTestServerOptions {
  events?: TestEvent[];
  dictionary?: Uint8Array;
  /** Without a cursor: replay everything ('start', default) or only appended events ('live'). */
  noCursor?: 'start' | 'live';
  /** Drop each connection (no close frame) after this many messages were written. */
  dropAfter?: number;
  /** Events sent broken, keyed by their original time_us. */
  faults?: Map<number, Fault>;
  /** Add v2's extra top-level `cursor` field to every message. */
  v2CursorField?: boolean;
  /** Negotiate permessage-deflate when offered (default true; costly for benchmarks). */
  deflate?: boolean;
  /** Bytes queued per connection before waiting for the socket to drain. */
  highWaterBytes?: number;
  port?: number;
}

export interface ConnectionRecord {
  url: string;
  cursor?: number;
  compress: boolean;
  /** The client offered permessage-deflate (negotiated unless the server was started with deflate: false). */
  offeredDeflate: boolean;
  wantedCollections: string[];
}

interface Subscriber {
  ws: WebSocket;
  next: number; // index into events
  sent: number;
  zstd: boolean;
  wanted: string[];
  writing: boolean;
}

export class JetstreamTestServer {
  readonly connections: ConnectionRecord[] = [];
  /** Messages per connection before it is dropped; may be changed at any time. */
  dropAfter: number | undefined;
  private readonly events: TestEvent[];
  private readonly subscribers = new Set<Subscriber>();
  private readonly encoded = new Map<number, { text: string; zstd?: Buffer }>();
  private shiftUs = 0;
  private silent = false;
  private totalSent = 0;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly http: http.Server,
    private readonly wss: WebSocketServer,
    private readonly opts: JetstreamTestServerOptions,
  ) {
    this.events = [...(opts.events ?? [])];
    this.dropAfter = opts.dropAfter;
  }

  static async start(opts: JetstreamTestServerOptions = {}): Promise<JetstreamTestServer> {
    const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: opts.deflate ?? true });
    const server = new JetstreamTestServer(httpServer, wss, opts);
    httpServer.on('upgrade', (req, socket, head) => server.upgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    return server;
  }

  /** `ws://127.0.0.1:<port>` (no /subscribe: clients add it). */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** Number of open client connections. */
  get openConnections(): number {
    return this.subscribers.size;
  }

  /** Messages written so far, over all connections (shows backpressure at work). */
  get messagesSent(): number {
    return this.totalSent;
  }

  /** time_us of every event as currently served (after any time shift). */
  timeUs(): number[] {
    return this.events.map((e) => e.time_us + this.shiftUs);
  }

  /** Live tail: adds events (time_us increasing) and sends them to caught-up clients. */
  append(...events: TestEvent[]): void {
    this.events.push(...events);
    for (const sub of this.subscribers) this.pump(sub);
  }

  /** While silent, connections are accepted but nothing is sent. */
  setSilent(silent: boolean): void {
    this.silent = silent;
    if (!silent) for (const sub of this.subscribers) this.pump(sub);
  }

  /** Sends raw bytes or text to every open connection (text frame for strings). */
  sendRaw(data: string | Buffer): void {
    for (const sub of this.subscribers) send(sub.ws, data);
  }

  /** Drops every connection without a close frame. */
  dropAll(): void {
    for (const sub of this.subscribers) sub.ws.terminate();
  }

  /** Simulates a restart: drops everyone; afterwards the same events carry time_us + shiftUs. */
  restart(shiftUs: number): void {
    this.dropAll();
    this.shiftUs = shiftUs;
    this.encoded.clear();
  }

  /** Stops accepting (later connects are refused), then drops every client. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
      this.dropAll();
      await new Promise<void>((resolve) => this.wss.close(() => resolve()));
      this.http.closeAllConnections();
      await closed;
    })();
    return this.closing;
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const reject = (status: number): void => {
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== '/subscribe') return reject(404);
    const zstd = url.searchParams.get('compress') === 'true';
    const offersDeflate = /permessage-deflate/.test(String(req.headers['sec-websocket-extensions'] ?? ''));
    if (zstd && offersDeflate) return reject(400);
    if (zstd && !this.opts.dictionary) return reject(400);
    const cursorParam = url.searchParams.get('cursor');
    const cursor = cursorParam === null ? undefined : Number(cursorParam);
    const wanted = url.searchParams.getAll('wantedCollections');
    this.connections.push({
      url: req.url ?? '',
      cursor,
      compress: zstd,
      offeredDeflate: offersDeflate,
      wantedCollections: wanted,
    });

    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.closing) {
        ws.terminate();
        return;
      }
      const sub: Subscriber = { ws, next: this.startIndex(cursor), sent: 0, zstd, wanted, writing: false };
      this.subscribers.add(sub);
      ws.on('close', () => this.subscribers.delete(sub));
      ws.on('error', () => ws.terminate());
      this.pump(sub);
    });
  }

  private startIndex(cursor: number | undefined): number {
    if (cursor === undefined || Number.isNaN(cursor)) {
      return this.opts.noCursor === 'live' ? this.events.length : 0;
    }
    const i = this.events.findIndex((e) => e.time_us + this.shiftUs >= cursor);
    return i === -1 ? this.events.length : i;
  }

  // Sends until the socket's buffer passes the high-water mark, then continues from the
  // callback of the last write, i.e. once the kernel took the bytes.
  private pump(sub: Subscriber): void {
    if (sub.writing || this.silent) return;
    const highWater = this.opts.highWaterBytes ?? 256 * 1024;
    const ws = sub.ws;
    while (sub.next < this.events.length && ws.readyState === WebSocket.OPEN) {
      const index = sub.next++;
      if (!wanted(this.events[index]!, sub.wanted)) continue;
      sub.sent++;
      this.totalSent++;
      const last = sub.sent === this.dropAfter;
      const full = ws.bufferedAmount >= highWater;
      if (!last && !full) {
        send(ws, this.frame(index, sub.zstd));
        continue;
      }
      sub.writing = true;
      send(ws, this.frame(index, sub.zstd), () => {
        sub.writing = false;
        if (last) ws.terminate();
        else this.pump(sub);
      });
      return;
    }
  }

  private frame(index: number, zstd: boolean): string | Buffer {
    const event = this.events[index]!;
    let enc = this.encoded.get(index);
    if (!enc) {
      const timeUs = event.time_us + this.shiftUs;
      const fields = this.opts.v2CursorField ? { ...event, time_us: timeUs, cursor: timeUs } : { ...event, time_us: timeUs };
      enc = { text: JSON.stringify(fields) };
      this.encoded.set(index, enc);
    }
    const fault = this.opts.faults?.get(event.time_us);
    if (fault === 'invalid-json') return zstd ? this.compress(`{"did":"x","time_us":oops`) : `{"did":"x","time_us":oops`;
    if (fault === 'garbage') return GARBAGE;
    if (!zstd) return enc.text;
    enc.zstd ??= this.compress(enc.text);
    return fault === 'corrupt-zstd' ? corruptFrame(enc.zstd) : enc.zstd;
  }

  private compress(text: string): Buffer {
    return zstdFrame(Buffer.from(text), this.opts.dictionary!);
  }
}

// Neither valid UTF-8 nor a zstd frame.
const GARBAGE = Buffer.from([0xff, 0xfe, 0x00, 0x13, 0x37, 0xc0, 0xaf, 0x28, 0xb5, 0x2f]);

// Strings go as text frames, buffers as binary ones.
function send(ws: WebSocket, data: string | Buffer, cb?: (err?: Error) => void): void {
  ws.send(data, { binary: typeof data !== 'string' }, cb);
}

/** One zstd frame with a content checksum, as Jetstream sends them. */
export function zstdFrame(data: Uint8Array, dictionary: Uint8Array): Buffer {
  return zlib.zstdCompressSync(data, { dictionary, params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 } });
}

/** A copy of the frame with one payload byte flipped (the header stays valid). */
export function corruptFrame(frame: Buffer): Buffer {
  const copy = Buffer.from(frame);
  copy[copy.length - 6]! ^= 0x01;
  return copy;
}

function wanted(event: TestEvent, collections: string[]): boolean {
  if (collections.length === 0 || event.kind !== 'commit') return true;
  const collection = event.commit?.collection ?? '';
  return collections.some((c) => (c.endsWith('.*') ? collection.startsWith(c.slice(0, -1)) : collection === c));
}
