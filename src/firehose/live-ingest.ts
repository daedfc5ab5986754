// Live ingest: a JetstreamClient feeding the writer thread's batcher. It runs on the writer
// (worker) thread, so the cursor it resumes from is exactly what was committed: the time_us of
// the last applied event, stored in the same transaction as that event's changes.
import type { LexMap } from '@atproto/lex'
import path from 'node:path'
import { ConfigError, type Config } from '../config.js'
import type { IngestLoop } from '../indexer/ingest-loop.js'
import type { Logger } from '../logger.js'
import { JetstreamClient, type JetstreamCompression } from './jetstream-client.js'
import { loadZstdDictionary } from './zstd-dictionary.js'

/** time_us is assigned per instance: resuming on another one rewinds by this much. */
export const REWIND_US = 10_000_000

/** Plain data, since it crosses into the worker thread as workerData. */
export interface LiveIngestOptions {
  hosts: string[]
  compress: JetstreamCompression
  dictionaryPath?: string
  dictionaryUrl?: string
  /** Where a downloaded dictionary is cached: the database's directory. */
  dataDir: string
  collections: string[]
  silenceTimeoutMs: number
}

/** Live ingest settings from the configuration, or undefined with `--jetstream none`. */
export function liveIngestOptions(config: Config): LiveIngestOptions | undefined {
  const hosts = splitList(config.jetstream)
  if (hosts.length === 0 || (hosts.length === 1 && hosts[0] === 'none')) return undefined
  for (const host of hosts) {
    if (!/^wss?:\/\/[^/]/.test(host)) throw new ConfigError(`--jetstream: "${host}" is not a ws:// or wss:// URL`)
  }
  return {
    hosts,
    compress: config.compress as JetstreamCompression, // validated by loadConfig
    dictionaryPath: config['zstd-dictionary'],
    dictionaryUrl: config['zstd-dictionary-url'],
    dataDir: path.dirname(path.resolve(config.db!)),
    collections: splitList(config.collections),
    silenceTimeoutMs: Number(config['silence-timeout']) * 1000,
  }
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

export class LiveIngest {
  private client: JetstreamClient | undefined
  private compression: JetstreamCompression
  /** Instance whose time base the stored cursor is in (meta `cursor_host`); undefined if unknown. */
  private cursorHost: string | undefined
  /** Host and cursor of the current connection. */
  private host = ''
  private requested: number | undefined
  private stopped = false

  constructor(
    private readonly loop: IngestLoop,
    private readonly opts: LiveIngestOptions,
    private readonly log: Logger,
  ) {
    this.compression = opts.compress
  }

  /** Obtains the zstd dictionary if needed, then connects; a stop() in the meantime wins. */
  async start(): Promise<void> {
    if (this.stopped) return
    const dictionary = this.opts.compress === 'zstd' ? await this.loadDictionary() : undefined
    if (this.stopped) return
    this.cursorHost = this.loop.writer.getCursorHost()
    const client = new JetstreamClient({
      hosts: this.opts.hosts,
      compress: this.compression,
      dictionary,
      collections: this.opts.collections,
      silenceTimeoutMs: this.opts.silenceTimeoutMs,
      // The client rewinds only for hosts it saw in this process; here the host of a stored
      // cursor is known across restarts, so all rewinding happens in resumeCursor().
      rewindUs: 0,
      getCursor: () => this.resumeCursor(),
      onMessage: (text, timeUs) => this.onMessage(text, timeUs),
      onGap: (fromUs, toUs) => this.loop.writer.recordGap(fromUs, toUs, this.host),
      logger: this.log,
    })
    this.client = client
    client.start()
  }

  /** Stops reading; what was received stays queued for the caller's final flush. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.client?.stop()
  }

  /** Merged into the worker's ingest report (getStatus `ingest`). */
  status(): LexMap {
    const s = this.client?.status()
    if (!s) return { state: this.stopped ? 'stopped' : 'starting', compression: this.compression }
    const cursor = this.loop.writer.getCursor()
    return {
      host: s.host,
      state: s.state,
      compression: this.compression,
      reconnects: s.reconnects,
      decodeErrors: s.decodeErrors,
      gapsDetected: s.gaps,
      ...(cursor !== undefined && { lagSeconds: Math.round(Date.now() / 1000 - cursor / 1e6) }),
    }
  }

  private async loadDictionary(): Promise<Buffer | undefined> {
    const dictionary = await loadZstdDictionary({
      path: this.opts.dictionaryPath,
      dataDir: this.opts.dataDir,
      url: this.opts.dictionaryUrl,
      logger: this.log,
    })
    if (dictionary) return dictionary
    this.log.warn('no zstd dictionary (see above): using deflate instead')
    this.compression = 'deflate'
    return undefined
  }

  /** Called by the client at every (re)connect. */
  private resumeCursor(): number | undefined {
    // Commit what was received, so the server resends only the last applied event.
    this.loop.batcher.flush()
    const cursor = this.loop.writer.getCursor()
    this.host = this.client!.status().host
    this.requested = cursor !== undefined && this.host !== this.cursorHost ? cursor - REWIND_US : cursor
    return this.requested
  }

  private onMessage(text: string, timeUs: number | undefined): void {
    if (timeUs !== undefined && this.host !== this.cursorHost) this.adoptHost()
    if (!this.loop.batcher.push(text)) {
      // Memory stays bounded: stop reading the socket until the writer catches up.
      this.client!.pause()
      void this.loop.batcher.drained().then(() => this.client!.resume())
    }
  }

  /**
   * First event from an instance other than the cursor's. The queue holds nothing older (it
   * was flushed at connect), so cursor and host switch together to the cursor asked of the new
   * instance, in one transaction: after a crash the stored cursor always matches its host.
   */
  private adoptHost(): void {
    this.loop.writer.transaction(() => {
      if (this.requested !== undefined) this.loop.writer.setCursor(this.requested)
      this.loop.writer.setCursorHost(this.host)
    })
    this.cursorHost = this.host
  }
}
