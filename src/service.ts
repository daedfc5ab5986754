import type { Server } from 'node:http'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { backfillOptions } from './backfill/command.js'
import { createApp } from './api/server.js'
import type { IngestReport } from './api/context.js'
import type { Config } from './config.js'
import { liveIngestOptions } from './firehose/live-ingest.js'
import type { Logger } from './logger.js'
import { ingestHealth } from './ops/health.js'
import { applyTimeouts } from './ops/http.js'
import { createOps, metricsApp, opsOptions } from './ops/index.js'
import type { MetricsJson } from './ops/ingest-metrics.js'
import { migrationLog, openStore } from './store/open.js'
import { Reader } from './store/reader.js'
import { WriterSupervisor } from './indexer/supervisor.js'
import type { WorkerOptions } from './indexer/worker.js'
import { VERSION } from './version.js'

export interface Service {
  url: string
  port: number
  reader: Reader
  /** Resolves when a --replay capture has been fully applied. */
  replayDone: Promise<void>
  /** Port of /metrics when it has its own (--metrics-port). */
  metricsPort?: number
  close(): Promise<void>
}

/** Starts the HTTP API on this thread and, unless read-only, the ingest worker thread. */
export async function startService(config: Config, log: Logger): Promise<Service> {
  if (config['read-only']) {
    if (!existsSync(config.db!)) throw new Error(`--read-only needs an existing database, ${config.db} not found`)
  } else {
    // Create and migrate before the reader opens it.
    await (await openStore(config.db!, { onMigration: migrationLog(log) })).close()
  }
  const readStore = await openStore(config.db!, { readOnly: true })
  const reader = new Reader(readStore)
  let report: IngestReport = {}
  let reportedAt: number | undefined
  let failure: string | undefined
  let workerMetrics: MetricsJson | undefined

  let writer: WriterSupervisor | undefined
  let replayDone = Promise.resolve()
  const live = config['read-only'] ? undefined : liveIngestOptions(config)
  if (!config['read-only']) {
    const workerData: WorkerOptions = {
      dbPath: config.db!,
      replay: config.replay ? [config.replay] : [],
      logLevel: config['log-level'] ?? 'info',
      commitIntervalMs: Number(config['commit-interval']) * 1000,
      live,
      backfill: config.backfill ? backfillOptions(config) : undefined,
    }
    // V8 sizes the young generation from the machine's memory; in the writer thread it only holds
    // each batch's garbage. Capped, 150k events at full speed peak at ~300 MB RSS instead of ~400
    // (24 GB machine), ingest rate unchanged within noise (test/live-ingest-backpressure.test.ts).
    // The old generation is capped too: V8 otherwise lets garbage grow toward the machine's memory
    // before collecting. The writer's live set is ~60-80 MB (bounded queue, batch and caches); at
    // 128 MB, 1M replayed events peak at ~310 MB RSS instead of ~450 MB at the same rate.
    const resourceLimits = { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 128 }
    let resolveReplay!: () => void
    replayDone = config.replay ? new Promise((r) => (resolveReplay = r)) : replayDone
    writer = new WriterSupervisor(workerData, resourceLimits, log, {
      onReport(m) {
        report = { ingest: { ...m.report, workerRestarts: writer!.restarts }, backfill: m.backfill as IngestReport['backfill'] }
        reportedAt = Date.now()
        workerMetrics = m.metrics
        failure = undefined // a restarted thread reports: ingest runs again
      },
      onReplayDone: () => resolveReplay?.(),
      onFailure(message, restartInMs) {
        failure = message
        log.error({ message, restartInMs }, 'ingest worker failed; serving queries, restarting it')
      },
    })
    writer.start()
  }

  const health = () =>
    ingestHealth({
      writer: !config['read-only'],
      live: live !== undefined,
      ingest: report.ingest,
      reportedAt,
      failure,
      maxLagSeconds: Number(config['max-lag']),
    })
  const ops = createOps(
    opsOptions(config),
    { reader, report: () => report, ingestHealthy: () => health().healthy, workerMetrics: () => workerMetrics },
    VERSION,
  )
  // getStatus's `ingest` carries the verdict next to the figures it is drawn from.
  const statusReport = () => ({ ...report, ingest: { ...report.ingest, ...health() } })
  const app = createApp({ reader, version: VERSION, startedAt: new Date(), report: statusReport }, ops)
  const http: Server = app.listen(Number(config.port), config.host ?? '0.0.0.0')
  await once(http, 'listening')
  applyTimeouts(http, ops.options.requestTimeout)
  const port = boundPort(http)
  log.info({ port, host: config.host, db: config.db, readOnly: config['read-only'] }, 'serving XRPC')
  let metricsHttp: Server | undefined
  if (ops.options.metricsPort !== undefined) {
    metricsHttp = metricsApp(ops).listen(ops.options.metricsPort, config.host ?? '0.0.0.0')
    await once(metricsHttp, 'listening')
    log.info({ port: boundPort(metricsHttp) }, 'serving /metrics')
  }

  return {
    url: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`,
    port,
    reader,
    replayDone,
    metricsPort: metricsHttp && boundPort(metricsHttp),
    async close() {
      for (const server of [http, metricsHttp]) {
        server?.close()
        server?.closeAllConnections()
      }
      await writer?.stop()
      await readStore.close()
    },
  }
}

function boundPort(server: Server): number {
  const address = server.address()
  return typeof address === 'object' && address ? address.port : 0
}
