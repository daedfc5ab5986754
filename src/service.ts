import type { Server } from 'node:http'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { createApp } from './api/server.js'
import type { IngestReport } from './api/context.js'
import type { Config } from './config.js'
import { liveIngestOptions } from './firehose/live-ingest.js'
import type { Logger } from './logger.js'
import { openStore } from './store/open.js'
import { Reader } from './store/reader.js'
import type { ToMain, WorkerOptions } from './indexer/worker.js'
import { VERSION } from './version.js'

export interface Service {
  url: string
  port: number
  reader: Reader
  /** Resolves when a --replay capture has been fully applied. */
  replayDone: Promise<void>
  close(): Promise<void>
}

/** Starts the HTTP API on this thread and, unless read-only, the ingest worker thread. */
export async function startService(config: Config, log: Logger): Promise<Service> {
  if (config['read-only']) {
    if (!existsSync(config.db!)) throw new Error(`--read-only needs an existing database, ${config.db} not found`)
  } else {
    await (await openStore(config.db!)).close() // create and migrate before the reader opens it
  }
  const readStore = await openStore(config.db!, { readOnly: true })
  const reader = new Reader(readStore)
  let report: IngestReport = {}

  let worker: Worker | undefined
  let replayDone = Promise.resolve()
  if (!config['read-only']) {
    const workerData: WorkerOptions = {
      dbPath: config.db!,
      replay: config.replay ? [config.replay] : [],
      logLevel: config['log-level'] ?? 'info',
      live: liveIngestOptions(config),
    }
    worker = new Worker(new URL('./indexer/worker.js', import.meta.url), { workerData })
    let resolveReplay!: () => void
    replayDone = config.replay ? new Promise((r) => (resolveReplay = r)) : replayDone
    worker.on('message', (m: ToMain) => {
      if (m.type === 'report') report = { ...report, ingest: m.report as IngestReport['ingest'] }
      else if (m.type === 'replay-done') resolveReplay?.()
      else if (m.type === 'fatal') log.error({ message: m.message }, 'ingest worker failed; serving queries only')
    })
    worker.on('error', (err) => log.error({ err }, 'ingest worker crashed'))
  }

  const app = createApp({ reader, version: VERSION, startedAt: new Date(), report: () => report })
  const http: Server = app.listen(Number(config.port), config.host ?? '0.0.0.0')
  await once(http, 'listening')
  const address = http.address()
  const port = typeof address === 'object' && address ? address.port : Number(config.port)
  log.info({ port, host: config.host, db: config.db, readOnly: config['read-only'] }, 'serving XRPC')

  return {
    url: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`,
    port,
    reader,
    replayDone,
    async close() {
      http.close()
      http.closeAllConnections()
      if (worker) await stopWorker(worker)
      await readStore.close()
    },
  }
}

/** Asks the writer to flush its batch and close the database; forces it after 10 s. */
async function stopWorker(worker: Worker): Promise<void> {
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
