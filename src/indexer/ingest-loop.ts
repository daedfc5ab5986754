import type { LexMap } from '@atproto/lex'
import type { Logger } from '../logger.js'
import { migrationLog, openStore, type StoreHandle } from '../store/open.js'
import { IngestMetrics } from '../ops/ingest-metrics.js'
import { Writer, type WriterOptions } from '../store/writer.js'
import { Batcher, type BatcherOptions } from './batcher.js'
import { Indexer } from './indexer.js'
import { replayFile } from './replay.js'

/** Events applied over a sliding minute, for the events/s figure in status. */
class RateWindow {
  private buckets: Array<[second: number, count: number]> = []
  add(n: number): void {
    const now = Math.floor(Date.now() / 1000)
    const last = this.buckets[this.buckets.length - 1]
    if (last && last[0] === now) last[1] += n
    else this.buckets.push([now, n])
    while (this.buckets.length && this.buckets[0][0] <= now - 60) this.buckets.shift()
  }
  perSecond(): number {
    const now = Math.floor(Date.now() / 1000)
    const recent = this.buckets.filter(([s]) => s > now - 60)
    const total = recent.reduce((sum, [, n]) => sum + n, 0)
    const span = recent.length ? Math.max(1, now - recent[0][0] + 1) : 1
    return Math.round(total / span)
  }
}

/**
 * The writer side of the service: one store connection, the indexer, and its queue. Sources
 * (replay files, Jetstream, backfill) push into `batcher`; everything commits on this thread.
 */
export class IngestLoop {
  readonly indexer: Indexer
  readonly batcher: Batcher
  readonly rate = new RateWindow()
  readonly metrics: IngestMetrics
  batches = 0
  lastBatchMs = 0
  private jobTimer: NodeJS.Timeout

  private constructor(
    readonly store: StoreHandle,
    readonly writer: Writer,
    readonly log: Logger,
    batcherOpts: BatcherOptions,
  ) {
    this.indexer = new Indexer(writer, { logger: log, onApplied: (event) => this.metrics.eventApplied(event) })
    this.metrics = new IngestMetrics(this.indexer.skipped)
    this.batcher = new Batcher(this.indexer, {
      ...batcherOpts,
      onBatch: (result, ms) => {
        this.batches++
        this.lastBatchMs = ms
        this.rate.add(result.applied)
        this.metrics.batchCommitted(ms)
        batcherOpts.onBatch?.(result, ms)
      },
    })
    // Account hide/show/purge jobs continue in slices even when no events arrive.
    this.jobTimer = setInterval(() => {
      if (!this.writer.inSpan && this.writer.pendingAccountJobs() > 0) this.indexer.runAccountJobs()
    }, 50)
    this.jobTimer.unref()
  }

  static async open(dbPath: string, log: Logger, opts: BatcherOptions & WriterOptions = {}): Promise<IngestLoop> {
    const store = await openStore(dbPath, { onMigration: migrationLog(log) })
    return new IngestLoop(store, new Writer(store, opts), log, opts)
  }

  async replay(files: string[], signal?: AbortSignal, onProgress?: (line: string) => void): Promise<void> {
    // A capture's time_us come from an unknown Jetstream instance: live ingest will rewind.
    if (files.length) this.writer.setCursorHost(undefined)
    for (const file of files) {
      const started = Date.now()
      const done = await replayFile(
        file,
        this.batcher,
        (p) => onProgress?.(`${p.file}: ${p.lines} lines, ${(p.bytes / 1e6).toFixed(1)} MB, ${this.rate.perSecond()} events/s`),
        signal,
      )
      this.batcher.flush()
      this.log.info({ file, lines: done.lines, seconds: (Date.now() - started) / 1000 }, 'replay finished')
    }
  }

  report(): LexMap {
    return {
      eventsPerSecond: this.rate.perSecond(),
      batches: this.batches,
      lastBatchMs: Math.round(this.lastBatchMs),
      queued: this.batcher.size,
      skipped: Object.fromEntries(this.indexer.skipped),
      applied: Object.fromEntries(this.indexer.appliedByKind),
    }
  }

  /** Commits what is queued and closes the database cleanly. */
  async close(): Promise<void> {
    clearInterval(this.jobTimer)
    this.batcher.flush()
    this.writer.commitSpan()
    await this.store.close()
  }
}
