import { parentPort, workerData } from 'node:worker_threads'
import { Backfill, type BackfillOptions, type BackfillProgress } from '../backfill/backfill.js'
import { LiveIngest, type LiveIngestOptions } from '../firehose/live-ingest.js'
import { createLogger } from '../logger.js'
import type { MetricsJson } from '../ops/ingest-metrics.js'
import { IngestLoop } from './ingest-loop.js'

// The writer thread: SQLite calls are synchronous, so commits run here and never stall the
// thread that answers HTTP requests.
export interface WorkerOptions {
  dbPath: string
  replay: string[]
  logLevel: string
  /** --commit-interval in ms. */
  commitIntervalMs: number
  /** Live ingest from Jetstream, started after any replay; absent when disabled. */
  live?: LiveIngestOptions
  /** Whole-repo backfill alongside live ingest (serve --backfill); absent when not asked for. */
  backfill?: BackfillOptions
}

export type ToMain =
  | { type: 'report'; report: Record<string, unknown>; metrics: MetricsJson; backfill?: BackfillProgress }
  | { type: 'replay-done' }
  | { type: 'stopped' }
  | { type: 'fatal'; message: string }

const opts = workerData as WorkerOptions
const port = parentPort!
const send = (m: ToMain) => port.postMessage(m)
const log = createLogger(opts.logLevel).child({ thread: 'ingest' })
const abort = new AbortController()

async function main() {
  const loop = await IngestLoop.open(opts.dbPath, log, { spanMaxMs: opts.commitIntervalMs })
  const live = opts.live && new LiveIngest(loop, opts.live, log)
  const report = () => ({ ...loop.report(), ...live?.status() })
  const backfill = opts.backfill && new Backfill(opts.backfill, { indexer: loop.indexer, store: loop.store, logger: log })
  const sendReport = async () =>
    send({ type: 'report', report: report(), metrics: await loop.metrics.json(), backfill: backfill?.progress() })
  const reportTimer = setInterval(() => void sendReport(), 1000)
  port.on('message', async (m: { type: string }) => {
    if (m.type !== 'stop') return
    abort.abort()
    clearInterval(reportTimer)
    await backfill?.stop()
    await live?.stop() // stop reading first, so the flush in close() commits the last batch and its cursor
    await loop.close()
    send({ type: 'stopped' })
    port.close()
  })
  if (opts.replay.length) {
    await loop.replay(opts.replay, abort.signal)
    await sendReport()
    send({ type: 'replay-done' })
  }
  // Backfill shares this thread's writer with live ingest: live events for a repo being fetched are
  // held by the indexer and merged after it (see docs/backfill.md).
  void backfill?.start().then(
    (summary) => log.info({ summary }, 'backfill finished'),
    (err: Error) => log.error({ err }, 'backfill failed; live ingest and serving continue'),
  )
  await live?.start()
}

main().catch((err: Error) => {
  log.error({ err }, 'ingest failed')
  send({ type: 'fatal', message: err.message })
})
