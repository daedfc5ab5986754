/**
 * A lean Jetstream-compatible server for the benchmark, on 127.0.0.1 only.
 *
 * Unlike test/helpers/jetstream-server.ts it keeps no list of events: it generates them lazily
 * from the seeded generator as the socket accepts them, so tens of millions of events cost no
 * memory. Plain text frames (no permessage-deflate, no zstd) so the server's own CPU stays small
 * on a 2-core machine; decompression is not what this benchmark measures.
 *
 * One subscriber at a time (the service). A reconnect with a cursor resumes from a ring of the
 * most recent events, so a client that timed out while the server was paused loses nothing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { JetstreamGenerator, type GenerateOptions } from './generate.js';

export type StreamOptions = Omit<GenerateOptions, 'count'> & {
  /** Recent events kept for reconnects (default 131,072: more than the client and writer queues hold). */
  ringSize?: number;
};

/** Every SAMPLE_EVERY-th event's time_us is kept, to turn a committed cursor into an event count. */
const SAMPLE_EVERY = 256;
const HIGH_WATER_BYTES = 256 * 1024;
const PACE_TICK_MS = 10;

export class BenchStreamServer {
  /** Events generated so far. */
  private generated = 0;
  private gen: JetstreamGenerator;
  private readonly ringText: string[];
  private readonly ringTime: Float64Array;
  private samples = new Float64Array(1 << 16);
  private ws: WebSocket | undefined;
  /** Index of the next event to send to the current subscriber (may be behind `generated` after a resume). */
  private next = 0;
  private writing = false;
  private rate: number | undefined; // events/s; undefined = as fast as the socket takes them
  private paused = true;
  private paceStart = 0;
  private paceSent = 0;
  private paceTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly http: http.Server,
    private readonly wss: WebSocketServer,
    private readonly opts: StreamOptions,
  ) {
    this.gen = new JetstreamGenerator(opts);
    const ring = opts.ringSize ?? 1 << 17;
    this.ringText = new Array<string>(ring);
    this.ringTime = new Float64Array(ring);
  }

  /** Starts listening; nothing is sent until run() or pace(). */
  static async start(opts: StreamOptions): Promise<BenchStreamServer> {
    const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    const server = new BenchStreamServer(httpServer, wss, opts);
    httpServer.on('upgrade', (req, socket, head) => server.upgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(0, '127.0.0.1', () => resolve());
    });
    return server;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  /** Events sent so far (a reconnect may rewind this to the cursor it asked for). */
  get sent(): number {
    return this.next;
  }

  /** time_us of the last event sent (undefined before the first). */
  get lastSentTimeUs(): number | undefined {
    return this.next > 0 ? this.ringTime[(this.next - 1) % this.ringTime.length] : undefined;
  }

  /** Sends as fast as the subscriber reads (TCP backpressure sets the pace). */
  run(): void {
    this.setMode(false, undefined);
  }

  /** Sends `eventsPerSecond` events per second (fewer if the subscriber falls behind). */
  pace(eventsPerSecond: number): void {
    this.setMode(false, eventsPerSecond);
  }

  /** Stops sending; events already in socket buffers still arrive. */
  pause(): void {
    this.setMode(true, undefined);
  }

  /**
   * How many events come up to and including the one with this time_us (a committed cursor),
   * to within SAMPLE_EVERY events.
   */
  eventsThrough(timeUs: number): number {
    const n = Math.ceil(this.generated / SAMPLE_EVERY);
    let lo = 0;
    let hi = n; // first sample with time > timeUs
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.samples[mid]! <= timeUs) lo = mid + 1;
      else hi = mid;
    }
    return Math.min(this.generated, lo * SAMPLE_EVERY);
  }

  async close(): Promise<void> {
    this.pause();
    this.ws?.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private setMode(paused: boolean, rate: number | undefined): void {
    this.paused = paused;
    this.rate = rate;
    clearInterval(this.paceTimer);
    this.paceTimer = undefined;
    if (paused) return;
    if (rate === undefined) {
      this.pump(Infinity);
      return;
    }
    this.paceStart = performance.now();
    this.paceSent = 0;
    this.paceTimer = setInterval(() => {
      const due = Math.floor(((performance.now() - this.paceStart) / 1000) * rate) - this.paceSent;
      if (due > 0) this.pump(due);
    }, PACE_TICK_MS);
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/subscribe' || url.searchParams.get('compress') === 'true') {
      // zstd would make this server, not the service, the bottleneck: the client must ask for plain frames.
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const cursor = url.searchParams.get('cursor');
    let start: number;
    try {
      start = cursor === null ? 0 : this.resumeIndex(Number(cursor));
    } catch (err) {
      socket.end('HTTP/1.1 410 Gone\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      console.error(`bench stream server: ${(err as Error).message}`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.ws?.terminate();
      this.ws = ws;
      this.writing = false;
      if (start === 0 && this.generated > 0) this.restartGenerator();
      this.next = start;
      ws.on('close', () => this.ws === ws && (this.ws = undefined));
      ws.on('error', () => ws.terminate());
      if (!this.paused && this.rate === undefined) this.pump(Infinity);
    });
  }

  /** Index of the first event with time_us >= cursor (inclusive, as Jetstream replays). */
  private resumeIndex(cursor: number): number {
    const ring = this.ringTime.length;
    const oldest = Math.max(0, this.generated - ring);
    for (let i = oldest; i < this.generated; i++) if (this.ringTime[i % ring]! >= cursor) return i;
    if (this.generated === 0 || cursor > this.ringTime[(this.generated - 1) % ring]!) return this.generated;
    throw new Error(`cursor ${cursor} is older than the last ${ring} events kept for resuming`);
  }

  private restartGenerator(): void {
    this.gen = new JetstreamGenerator(this.opts);
    this.generated = 0;
  }

  private eventAt(i: number): string {
    const ring = this.ringText.length;
    if (i < this.generated) return this.ringText[i % ring]!;
    const text = this.gen.next();
    const time = timeUsOf(text);
    this.ringText[i % ring] = text;
    this.ringTime[i % ring] = time;
    if (i % SAMPLE_EVERY === 0) this.sample(i / SAMPLE_EVERY, time);
    this.generated++;
    return text;
  }

  private sample(k: number, time: number): void {
    if (k >= this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[k] = time;
  }

  // Sends up to `budget` events, stopping at the socket's high-water mark and continuing from
  // the callback of the last write, i.e. once the kernel took the bytes.
  private pump(budget: number): void {
    const ws = this.ws;
    if (!ws || this.writing || this.paused || ws.readyState !== WebSocket.OPEN) return;
    while (budget > 0) {
      const text = this.eventAt(this.next++);
      budget--;
      if (this.rate !== undefined) this.paceSent++;
      if (ws.bufferedAmount < HIGH_WATER_BYTES) {
        ws.send(text);
        continue;
      }
      this.writing = true;
      ws.send(text, () => {
        if (this.ws !== ws) return;
        this.writing = false;
        if (this.rate === undefined) this.pump(Infinity);
      });
      return;
    }
  }
}

/** time_us of a generated line: the generator writes it as a plain integer field. */
function timeUsOf(line: string): number {
  const at = line.indexOf('"time_us":') + 10;
  let end = at;
  while (line.charCodeAt(end) >= 48 && line.charCodeAt(end) <= 57) end++;
  return Number(line.slice(at, end));
}
