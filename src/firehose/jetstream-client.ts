// Live ingest transport: one websocket to a Jetstream instance (v1 wire at /subscribe;
// v2 servers' extra top-level `cursor` field is simply passed through), with resume,
// backoff, failover between hosts, silence detection and socket-level backpressure.
//
// Delivery is at-least-once. The cursor is owned by the consumer (getCursor() = time_us
// of the last APPLIED event): a reconnect to the same host asks for exactly that
// cursor, and the server, whose cursor is inclusive, re-sends that event. Messages
// delivered but not yet applied when a connection drops are re-sent as well.
import WebSocket from 'ws';
import { type JetstreamLogger, RateLimitedLog, silentLogger } from './jetstream-log.js';
import { extractTimeUs } from './jetstream-time.js';
import { createZstdDecoder, type ZstdFrameDecoder } from './zstd.js';

export type JetstreamCompression = 'zstd' | 'deflate' | 'none';
export type JetstreamState = 'connecting' | 'connected' | 'backoff' | 'stopped';

export interface JetstreamClientOptions {
  /** Base URLs, e.g. `wss://jetstream1.us-east.bsky.network`, with or without `/subscribe`. */
  hosts: string[];
  /** 'zstd' needs `dictionary`. Default 'deflate' (permessage-deflate where the server offers it). */
  compress?: JetstreamCompression;
  dictionary?: Uint8Array;
  /** NSIDs or `prefix.*`; sent as repeated `wantedCollections`. */
  collections?: string[];
  /** Called at every (re)connect: time_us of the last applied event, if any. */
  getCursor: () => number | undefined;
  /** Receives each message's JSON text; must not throw. timeUs is undefined if the message has none. */
  onMessage: (text: string, timeUs: number | undefined) => void;
  /** The server started far after the requested cursor (it clamped it): events in between are missing. */
  onGap?: (fromUs: number, toUs: number) => void;
  logger?: JetstreamLogger;
  /** No message (or no handshake) for this long means a dead connection. Default 30 s. */
  silenceTimeoutMs?: number;
  backoffInitialMs?: number; // default 1 s
  backoffMaxMs?: number; // default 60 s
  /** Consecutive failures on one host before trying the next. Default 3. */
  failoverAfter?: number;
  /**
   * Rewind applied to the cursor when resuming on a different host than the one that
   * delivered the last event. Default 10 s. The first connection uses getCursor() as is
   * (the client cannot know which host a persisted cursor came from).
   */
  rewindUs?: number;
  /**
   * The first event after (re)connecting with cursor C is a gap when its time_us exceeds
   * C by more than this. Default 60 s: at 2026 network rates (hundreds of events per
   * second, no filter) a minute without any event is not plausible, while a clamped
   * cursor is typically hours off. Raise it when `collections` selects rare records.
   */
  gapThresholdUs?: number;
  /** Largest websocket message accepted, and largest decompressed zstd message. Default 16 MiB. */
  maxMessageBytes?: number;
}

export interface JetstreamStatus {
  host: string;
  state: JetstreamState;
  /** Connection attempts after the first. */
  reconnects: number;
  connectedSince?: number; // epoch ms
  lastMessageAt?: number; // epoch ms
  decodeErrors: number;
  gaps: number;
}

type Raw = WebSocket.RawData;

export class JetstreamClient {
  private readonly opts: Required<
    Omit<JetstreamClientOptions, 'dictionary' | 'collections' | 'onGap' | 'logger'>
  > &
    Pick<JetstreamClientOptions, 'onGap'>;
  private readonly logger: JetstreamLogger;
  private readonly decoder: ZstdFrameDecoder | null;
  private readonly collections: string[];
  private readonly decodeLog = new RateLimitedLog(10_000);
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  private state: JetstreamState = 'stopped';
  private ws: WebSocket | null = null;
  private hostIndex = 0;
  private hostFailures = 0; // consecutive, on the current host: drives failover
  private attempt = 0; // consecutive failed connections: drives backoff
  private reconnects = 0;
  private decodeErrors = 0;
  private gaps = 0;
  private connectedSince: number | undefined;
  private lastMessageAt: number | undefined;
  private lastEventHost: string | undefined; // host whose time base the consumer's cursor is in
  private requestedCursor: number | undefined;
  private awaitingFirstEvent = false;
  private paused = false;
  private pending: Array<[Raw, boolean]> = []; // parsed by ws after pause(), held until resume()
  private silenceTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(options: JetstreamClientOptions) {
    if (options.hosts.length === 0) throw new Error('JetstreamClient: no hosts');
    const compress = options.compress ?? 'deflate';
    if (compress === 'zstd' && !options.dictionary) throw new Error('JetstreamClient: zstd needs a dictionary');
    const maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
    this.opts = {
      hosts: options.hosts,
      compress,
      getCursor: options.getCursor,
      onMessage: options.onMessage,
      onGap: options.onGap,
      silenceTimeoutMs: options.silenceTimeoutMs ?? 30_000,
      backoffInitialMs: options.backoffInitialMs ?? 1_000,
      backoffMaxMs: options.backoffMaxMs ?? 60_000,
      failoverAfter: options.failoverAfter ?? 3,
      rewindUs: options.rewindUs ?? 10_000_000,
      gapThresholdUs: options.gapThresholdUs ?? 60_000_000,
      maxMessageBytes,
    };
    this.collections = options.collections ?? [];
    this.logger = options.logger ?? silentLogger;
    this.decoder =
      compress === 'zstd' ? createZstdDecoder(options.dictionary!, { maxOutputBytes: maxMessageBytes }) : null;
  }

  start(): void {
    if (this.state !== 'stopped') return;
    if (this.decoder) this.logger.info({ engine: this.decoder.engine }, 'jetstream zstd decoder ready');
    this.connect();
  }

  /** Closes the connection (cleanly if the server answers quickly) and stops reconnecting. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.silenceTimer);
    this.pending = [];
    const ws = this.ws;
    if (!ws) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      // A paused socket cannot read the server's close frame; a server may also ignore it.
      const force = setTimeout(() => ws.terminate(), 500);
      ws.once('close', () => clearTimeout(force));
      ws.resume();
      ws.close(1000);
    });
  }

  /** Stops delivery and reading from the socket, so TCP flow control holds back the server. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    clearTimeout(this.silenceTimer); // silence while paused is ours, not the server's
    this.ws?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // Deliver what ws had already parsed, unless the consumer pauses or stops again.
    while (this.pending.length > 0 && !this.paused && this.state !== 'stopped') {
      const [data, isBinary] = this.pending.shift()!;
      this.handleMessage(data, isBinary);
    }
    if (this.paused || !this.ws) return;
    this.ws.resume();
    this.armSilenceTimer();
  }

  status(): JetstreamStatus {
    return {
      host: this.opts.hosts[this.hostIndex]!,
      state: this.state,
      reconnects: this.reconnects,
      connectedSince: this.connectedSince,
      lastMessageAt: this.lastMessageAt,
      decodeErrors: this.decodeErrors,
      gaps: this.gaps,
    };
  }

  private connect(): void {
    const host = this.opts.hosts[this.hostIndex]!;
    let cursor = this.opts.getCursor();
    // time_us is per instance: on another host, rewind to cover the clock difference.
    if (cursor !== undefined && this.lastEventHost !== undefined && this.lastEventHost !== host) {
      cursor -= this.opts.rewindUs;
    }
    this.requestedCursor = cursor;
    this.awaitingFirstEvent = cursor !== undefined;
    this.state = 'connecting';
    const url = subscribeUrl(host, {
      collections: this.collections,
      cursor,
      zstd: this.opts.compress === 'zstd',
    });
    this.logger.info({ url }, 'jetstream connecting');

    const ws = new WebSocket(url, {
      perMessageDeflate: this.opts.compress === 'deflate',
      handshakeTimeout: this.opts.silenceTimeoutMs,
      maxPayload: this.opts.maxMessageBytes,
    });
    this.ws = ws;
    ws.on('open', () => {
      if (this.ws !== ws || this.state === 'stopped') return;
      this.state = 'connected';
      this.connectedSince = Date.now();
      if (this.paused) ws.pause();
      else this.armSilenceTimer();
      this.logger.info({ host, cursor }, 'jetstream connected');
    });
    ws.on('message', (data, isBinary) => {
      if (this.ws !== ws || this.state === 'stopped') return;
      this.lastMessageAt = Date.now();
      if (this.paused) {
        this.pending.push([data, isBinary]);
        return;
      }
      this.armSilenceTimer();
      this.handleMessage(data, isBinary);
    });
    ws.on('error', (err) => {
      if (this.ws === ws && this.state !== 'stopped') this.logger.warn({ host, err: err.message }, 'jetstream socket error');
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.pending = []; // not delivered, so past the consumer's cursor: they will be re-sent
      this.connectedSince = undefined;
      clearTimeout(this.silenceTimer);
      if (this.state === 'stopped') return;
      this.logger.info({ host, code, reason: reason.toString() }, 'jetstream disconnected');
      this.scheduleReconnect();
    });
    this.armSilenceTimer(); // also bounds a hanging handshake
  }

  private scheduleReconnect(): void {
    this.attempt++;
    this.hostFailures++;
    if (this.hostFailures >= this.opts.failoverAfter && this.opts.hosts.length > 1) {
      const from = this.opts.hosts[this.hostIndex];
      this.hostIndex = (this.hostIndex + 1) % this.opts.hosts.length;
      this.hostFailures = 0;
      this.logger.warn({ from, to: this.opts.hosts[this.hostIndex] }, 'jetstream failing over');
    }
    const ceiling = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** (this.attempt - 1));
    // Half fixed, half random: spreads out clients that dropped together.
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    this.state = 'backoff';
    this.reconnects++;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private armSilenceTimer(): void {
    clearTimeout(this.silenceTimer);
    const ws = this.ws;
    this.silenceTimer = setTimeout(() => {
      if (this.ws !== ws || !ws) return;
      this.logger.warn({ host: this.opts.hosts[this.hostIndex], ms: this.opts.silenceTimeoutMs }, 'jetstream silent, reconnecting');
      ws.terminate();
    }, this.opts.silenceTimeoutMs);
  }

  private handleMessage(data: Raw, isBinary: boolean): void {
    const buf = data as Buffer; // binaryType 'nodebuffer': always one Buffer
    let text: string;
    try {
      if (!isBinary) text = buf.toString('utf8');
      else if (this.decoder) text = this.decoder.decode(buf).toString('utf8');
      else text = this.utf8.decode(buf);
    } catch (err) {
      this.decodeError(buf, String(err));
      return;
    }
    const timeUs = extractTimeUs(text);
    if (timeUs === null) {
      this.decodeError(buf, 'not a JSON object');
      return;
    }
    // A decodable message proves the host works.
    this.attempt = 0;
    this.hostFailures = 0;
    if (timeUs !== undefined) {
      this.checkClampedCursor(timeUs);
      this.lastEventHost = this.opts.hosts[this.hostIndex];
    }
    this.opts.onMessage(text, timeUs);
  }

  private checkClampedCursor(timeUs: number): void {
    if (!this.awaitingFirstEvent) return;
    this.awaitingFirstEvent = false;
    const from = this.requestedCursor!;
    if (timeUs - from <= this.opts.gapThresholdUs) return;
    this.gaps++;
    this.logger.warn(
      { host: this.opts.hosts[this.hostIndex], cursor: from, firstTimeUs: timeUs, gapSeconds: (timeUs - from) / 1e6 },
      'jetstream cursor was clamped: events in between are missing',
    );
    this.opts.onGap?.(from, timeUs);
  }

  private decodeError(buf: Buffer, reason: string): void {
    this.decodeErrors++;
    this.decodeLog.warn(
      this.logger,
      { host: this.opts.hosts[this.hostIndex], bytes: buf.length, reason, total: this.decodeErrors },
      'jetstream message skipped',
    );
  }
}

/** `<host>/subscribe?wantedCollections=..&cursor=..&compress=true`, whether or not host ends in /subscribe. */
export function subscribeUrl(
  host: string,
  p: { collections: readonly string[]; cursor: number | undefined; zstd: boolean },
): string {
  const url = new URL(host);
  if (!url.pathname.endsWith('/subscribe')) url.pathname = url.pathname.replace(/\/$/, '') + '/subscribe';
  for (const c of p.collections) url.searchParams.append('wantedCollections', c);
  if (p.cursor !== undefined) url.searchParams.set('cursor', String(Math.max(0, Math.floor(p.cursor))));
  if (p.zstd) url.searchParams.set('compress', 'true');
  return url.toString();
}
