import type { LexMap } from '@atproto/lex'
import type { Request, RequestHandler } from 'express'
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type PrometheusContentType } from 'prom-client'
import type { IngestReport } from '../api/context.js'
import type { IndexStats, Reader } from '../store/reader.js'
import type { MetricsJson } from './ingest-metrics.js'

export interface MetricsSources {
  reader: Reader
  /** Latest report of the writer thread (getStatus's `ingest` and `backfill`). */
  report: () => IngestReport
  ingestHealthy: () => boolean
  /** The writer thread's own registry, as last posted (see ingest-metrics.ts). */
  workerMetrics: () => MetricsJson | undefined
}

/** Backfill progress fields (src/backfill/progress.ts) exported as repo counts by state. */
const BACKFILL_REPOS = { done: 'reposDone', failed: 'reposFailed', skipped: 'reposSkipped', pending: 'reposPending', unlisted: 'reposUnlisted' }

/**
 * Prometheus metrics of the main thread: HTTP, index figures read at scrape time, and the ingest
 * state from the writer's report. /metrics serves these merged with the writer thread's metrics.
 */
export class Metrics {
  readonly registry = new Registry()
  /** Read once per scrape and shared by the index gauges. */
  private stats: IndexStats | undefined
  private requests = new Counter({
    name: 'backlinks_http_requests_total',
    help: 'HTTP requests by route (XRPC method NSID or route pattern) and status',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  })
  private duration = new Histogram({
    name: 'backlinks_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  })

  constructor(private sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry })
    const stats = () => (this.stats ??= sources.reader.stats())
    const ingest = () => sources.report().ingest ?? {}
    this.gauge('backlinks_index_records', 'Linking records indexed', () => stats().records)
    this.gauge('backlinks_index_links', 'Backlinks indexed (record, path, target)', () => stats().links)
    this.gauge('backlinks_index_targets', 'Distinct link targets', () => stats().targets)
    this.gauge('backlinks_index_dids', 'Accounts known to the index', () => stats().dids)
    this.gauge('backlinks_db_bytes', 'Database size on disk, WAL included', () => stats().dbBytes)
    this.gauge('backlinks_pending_account_jobs', 'Account hide/show/purge jobs not yet done', () => stats().pendingAccountJobs)
    this.gauge('backlinks_gaps', 'Recorded stretches of missed events', () => stats().gaps)
    this.gauge('backlinks_cursor_lag_seconds', 'Now minus the time of the last applied event (NaN before the first)', () => {
      const cursor = stats().cursor
      return cursor === undefined ? NaN : Date.now() / 1000 - cursor / 1e6
    })
    this.gauge('backlinks_ingest_queue_events', 'Events received and waiting for the writer', () => num(ingest().queued))
    this.gauge('backlinks_ingest_healthy', '1 when ingest is healthy (getStatus ingest.healthy)', () => +sources.ingestHealthy())
    new Counter({
      name: 'backlinks_jetstream_reconnects_total',
      help: 'Jetstream connection attempts after the first',
      registers: [this.registry],
      collect() {
        this.reset()
        this.inc(num(ingest().reconnects) ?? 0)
      },
    })
    const backfill = () => sources.report().backfill
    new Gauge({
      name: 'backlinks_backfill_repos',
      help: 'Backfill repos by state (when a backfill has run)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        this.reset()
        for (const [state, field] of Object.entries(BACKFILL_REPOS)) {
          const n = num(backfill()?.[field])
          if (n !== undefined) this.set({ state }, n)
        }
      },
    })
    this.gauge('backlinks_backfill_records', 'Records read from repos by the current backfill run', () => num(backfill()?.records))
  }

  /** Times every request; mount before anything that can answer. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const end = this.duration.startTimer()
      res.once('finish', () => {
        const labels = { route: routeLabel(req), status: String(res.statusCode) }
        end(labels)
        this.requests.inc(labels)
      })
      next()
    }
  }

  /** GET /metrics: this thread's registry merged with the writer thread's. */
  handler(): RequestHandler {
    return async (_req, res, next) => {
      try {
        const worker = this.sources.workerMetrics()
        const registries = worker ? [this.registry, AggregatorRegistry.aggregate<PrometheusContentType>([worker])] : [this.registry]
        this.stats = undefined
        const body = await Registry.merge(registries).metrics()
        // end(), not send(): express would rewrite prom-client's Content-Type parameters.
        res.setHeader('Content-Type', this.registry.contentType)
        res.setHeader('Cache-Control', 'no-store')
        res.end(body)
      } catch (err) {
        next(err)
      }
    }
  }

  /** A gauge read at scrape time; undefined reads as 0. */
  private gauge(name: string, help: string, read: () => number | undefined): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read() ?? 0)
      },
    })
  }
}

/** Route pattern or XRPC NSID of a finished request; never the raw URL (bounded label values). */
function routeLabel(req: Request): string {
  const path: unknown = req.route?.path
  if (typeof path !== 'string') return 'unmatched'
  return path.startsWith('/xrpc/') ? path.slice('/xrpc/'.length) : req.baseUrl + path
}

function num(v: LexMap[string] | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined
}
