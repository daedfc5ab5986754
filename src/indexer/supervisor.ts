import { Worker, type ResourceLimits } from 'node:worker_threads'
import type { Logger } from '../logger.js'
import type { ToMain, WorkerOptions } from './worker.js'

export interface SupervisorHandlers {
  onReport(m: Extract<ToMain, { type: 'report' }>): void
  onReplayDone(): void
  /** The writer thread failed; `restartInMs` until it is started again. */
  onFailure(message: string, restartInMs: number): void
}

const FIRST_DELAY_MS = 1000
const MAX_DELAY_MS = 60_000
/** A thread that ran this long before failing restarts after the first delay again. */
const STABLE_MS = 60_000

/**
 * Runs the writer thread and starts it again when it dies (its heap limit reached, an error it
 * could not handle), with a growing delay, so one failure does not end ingest while queries go
 * on being served. A new thread resumes from the stored cursor like a restarted process; nothing
 * committed is lost and the rest is received again.
 */
export class WriterSupervisor {
  private worker: Worker | undefined
  private restartTimer: NodeJS.Timeout | undefined
  private delayMs = FIRST_DELAY_MS
  private stopping = false
  private replayDone = false
  restarts = 0

  constructor(
    private readonly data: WorkerOptions,
    private readonly resourceLimits: ResourceLimits,
    private readonly log: Logger,
    private readonly handlers: SupervisorHandlers,
  ) {}

  start(): void {
    const startedAt = Date.now()
    // A replay that finished is not replayed again; an interrupted one is (applying is idempotent).
    const workerData: WorkerOptions = { ...this.data, replay: this.replayDone ? [] : this.data.replay }
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData, resourceLimits: this.resourceLimits })
    this.worker = worker
    let failed = false
    const fail = (message: string) => {
      if (failed || this.stopping) return
      failed = true
      if (Date.now() - startedAt >= STABLE_MS) this.delayMs = FIRST_DELAY_MS
      const delay = this.delayMs
      this.delayMs = Math.min(MAX_DELAY_MS, this.delayMs * 2)
      this.handlers.onFailure(message, delay)
      void worker.terminate()
      this.restartTimer = setTimeout(() => {
        this.restarts++
        this.log.warn({ restarts: this.restarts }, 'restarting the ingest worker')
        this.start()
      }, delay)
    }
    worker.on('message', (m: ToMain) => {
      if (m.type === 'report') this.handlers.onReport(m)
      else if (m.type === 'replay-done') {
        this.replayDone = true
        this.handlers.onReplayDone()
      } else if (m.type === 'fatal') fail(m.message)
    })
    worker.on('error', (err) => fail(err.message))
    worker.on('exit', (code) => fail(`ingest worker exited (code ${code})`))
  }

  /** Asks the writer to flush its batch and close the database; forces it after 10 s. */
  async stop(): Promise<void> {
    this.stopping = true
    clearTimeout(this.restartTimer)
    const worker = this.worker
    if (!worker) return
    const stopped = new Promise<void>((resolve) => {
      worker.on('message', (m: ToMain) => m.type === 'stopped' && resolve())
      worker.on('exit', () => resolve())
    })
    worker.postMessage({ type: 'stop' })
    const timeout = setTimeout(() => void worker.terminate(), 10_000)
    await stopped
    clearTimeout(timeout)
    await worker.terminate()
  }
}
