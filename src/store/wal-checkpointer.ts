import type Database from 'better-sqlite3'
import { statSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import type { Logger } from '../logger.js'
import type { CheckpointWorkerData, FromCheckpointer } from './checkpoint-worker.js'
import { WAL_AUTOCHECKPOINT_PAGES } from './open.js'

/** How often the checkpoint thread copies newly committed WAL frames into the database file. */
const POLL_MS = 500
/**
 * The writer's own checkpoint threshold while the thread runs (~400 MB of WAL): a safety net for
 * when the thread fails, never reached otherwise (BENCHMARKS.md, "WAL checkpoints on their own
 * thread").
 */
const WRITER_CHECKPOINT_PAGES = 100_000
/**
 * SQLite starts the WAL over only when a checkpoint finished between two commits; while ingest is
 * behind, commits can keep coming sooner and the WAL keeps growing. Past this size the writer
 * waits for a whole checkpoint and truncates the WAL (limitWal).
 */
const WAL_LIMIT_BYTES = WRITER_CHECKPOINT_PAGES * 4096

/**
 * Runs WAL checkpoints on a thread of their own. A checkpoint copies every page the last commits
 * wrote from the WAL into the database file; done by the writer after its commits (SQLite's
 * autocheckpoint) it took ~17% of ingest time at 10M links, on the one core the writer has.
 */
export class WalCheckpointer {
  private stopped: Promise<void> | undefined
  private exited = false

  private constructor(
    private readonly worker: Worker,
    private readonly writer: Database.Database,
    private readonly walLimitBytes: number,
  ) {}

  /** Starts the thread for the database the writer connection `writer` has open. */
  static start(writer: Database.Database, log: Logger, opts: { walLimitBytes?: number } = {}): WalCheckpointer {
    const workerData: CheckpointWorkerData = { path: writer.name, pollMs: POLL_MS }
    // Small heap limits: the thread holds no data, and its memory counts in the service's budget.
    const worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
      workerData,
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
    })
    // Never what keeps the process alive: an abandoned writer (a crash in tests) must not hang it.
    worker.unref()
    writer.pragma(`wal_autocheckpoint = ${WRITER_CHECKPOINT_PAGES}`)
    let warned = false
    worker.on('message', (m: FromCheckpointer) => {
      if (m.type !== 'error' || warned) return
      warned = true
      log.warn({ message: m.message }, 'WAL checkpoint failed; the writer checkpoints when the WAL grows (logged once)')
    })
    worker.on('error', (err) => log.warn({ err }, 'WAL checkpoint thread failed; the writer checkpoints from now on'))
    // Without the thread the writer checkpoints as often as it did before it existed.
    worker.on('exit', () => {
      if (writer.open) writer.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
    })
    const checkpointer = new WalCheckpointer(worker, writer, opts.walLimitBytes ?? WAL_LIMIT_BYTES)
    worker.once('exit', () => (checkpointer.exited = true))
    return checkpointer
  }

  /** Called by the writer after a commit: bounds the WAL (WAL_LIMIT_BYTES). */
  limitWal(): void {
    const size = statSync(`${this.writer.name}-wal`, { throwIfNoEntry: false })?.size ?? 0
    if (size > this.walLimitBytes) this.writer.pragma('wal_checkpoint(TRUNCATE)')
  }

  /** Stops the thread; the writer checkpoints again itself (and on close, as SQLite does). */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      if (this.exited) return resolve()
      this.worker.once('exit', () => resolve())
      this.worker.ref() // keeps the process alive until the thread has closed its connection
      this.worker.postMessage({ type: 'stop' })
    })
    return this.stopped
  }
}
