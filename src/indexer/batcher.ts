import type { BatchResult, Indexer } from './indexer.js'

export interface BatcherOptions {
  /** Events per transaction: larger is faster to ingest, smaller keeps commits (and read stalls) short. */
  batchSize?: number
  /** Most events held in memory; past this, producers are told to pause. */
  maxQueued?: number
  /** Longest an event waits before its batch is committed. */
  maxDelayMs?: number
  onBatch?: (result: BatchResult, ms: number) => void
}

/**
 * A bounded queue in front of the indexer. push() returns false when the queue is full: the
 * producer pauses (socket or file stream) and resumes on the 'drain' callback, so memory stays
 * bounded however far behind the writer is.
 */
export class Batcher {
  private queue: string[] = []
  private timer: NodeJS.Timeout | undefined
  private flushing = false
  private drainWaiters: Array<() => void> = []
  private readonly batchSize: number
  private readonly maxQueued: number
  private readonly maxDelayMs: number

  constructor(
    private indexer: Indexer,
    private opts: BatcherOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 5000
    this.maxQueued = opts.maxQueued ?? 10_000
    this.maxDelayMs = opts.maxDelayMs ?? 200
  }

  get size(): number {
    return this.queue.length
  }

  push(line: string): boolean {
    this.queue.push(line)
    if (this.queue.length >= this.batchSize) this.schedule(0)
    else if (!this.timer) this.schedule(this.maxDelayMs)
    return this.queue.length < this.maxQueued
  }

  /** Resolves when the queue has room again. */
  drained(): Promise<void> {
    if (this.queue.length < this.maxQueued) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  /** Commits everything queued now (used at shutdown and at the end of a replay). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    while (this.queue.length > 0) this.commitOne()
    this.wakeDrainWaiters()
  }

  private schedule(delay: number): void {
    if (this.timer) clearTimeout(this.timer)
    // setTimeout (not a loop) yields to the event loop between batches so sockets keep flowing.
    this.timer = setTimeout(() => this.tick(), delay)
  }

  private tick(): void {
    this.timer = undefined
    if (this.flushing) return
    this.flushing = true
    try {
      this.commitOne()
    } finally {
      this.flushing = false
    }
    this.wakeDrainWaiters()
    if (this.queue.length >= this.batchSize) this.schedule(0)
    else if (this.queue.length > 0) this.schedule(this.maxDelayMs)
  }

  private commitOne(): void {
    const batch = this.queue.length <= this.batchSize ? this.queue : this.queue.slice(0, this.batchSize)
    this.queue = batch === this.queue ? [] : this.queue.slice(this.batchSize)
    const started = performance.now()
    // While more events wait, the batch joins the open ingest span; caught up, it commits now.
    const result = this.indexer.applyLines(batch, { keepOpen: this.queue.length > 0 })
    this.opts.onBatch?.(result, performance.now() - started)
  }

  private wakeDrainWaiters(): void {
    if (this.queue.length >= this.maxQueued) return
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const w of waiters) w()
  }
}
