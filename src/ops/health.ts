import type { LexMap } from '@atproto/lex'
import type { RequestHandler } from 'express'
import type { Reader } from '../store/reader.js'

/** The writer thread reports every second; this much silence means it is stuck or gone. */
const REPORT_STALE_MS = 10_000

export interface IngestHealth {
  healthy: boolean
  reason: string
}

export interface IngestState {
  /** False for a read-only service: nothing to be healthy about. */
  writer: boolean
  /** Live Jetstream ingest configured (otherwise only replays, or nothing, are ingested). */
  live: boolean
  /** Latest writer report, and when it arrived (undefined before the first). */
  ingest?: LexMap
  reportedAt?: number
  /** Message of a writer thread that failed. */
  failure?: string
  maxLagSeconds: number
}

/** Whether ingest keeps the index current: connected, reporting, and not too far behind. */
export function ingestHealth(s: IngestState, now = Date.now()): IngestHealth {
  if (!s.writer) return { healthy: true, reason: 'read-only: this process does not ingest' }
  if (s.failure) return { healthy: false, reason: `ingest failed: ${s.failure}` }
  if (s.reportedAt === undefined) return { healthy: false, reason: 'starting' }
  if (now - s.reportedAt > REPORT_STALE_MS) {
    return { healthy: false, reason: `no report from the ingest thread for ${Math.round((now - s.reportedAt) / 1000)} s` }
  }
  if (!s.live) return { healthy: true, reason: 'live ingest disabled' }
  const state = s.ingest?.state
  if (state !== 'connected') return { healthy: false, reason: `jetstream ${typeof state === 'string' ? state : 'not started'}` }
  const lag = s.ingest?.lagSeconds
  if (typeof lag === 'number' && lag > s.maxLagSeconds) {
    return { healthy: false, reason: `lag ${lag} s is over ${s.maxLagSeconds} s` }
  }
  return { healthy: true, reason: typeof lag === 'number' ? `connected, lag ${lag} s` : 'connected' }
}

/**
 * GET /xrpc/_health: 200 {version} while the database answers a trivial query on the reader's
 * own connection, 503 otherwise. It says nothing of ingest (that is getStatus's `ingest`), so
 * a load balancer keeps a lagging instance serving.
 */
export function healthHandler(reader: Reader, version: string): RequestHandler {
  const ping = reader.store.sqlite.prepare('SELECT 1').pluck()
  return (_req, res) => {
    res.set('Cache-Control', 'no-store')
    try {
      ping.get()
      res.json({ version })
    } catch (err) {
      res.status(503).json({ version, error: 'DatabaseUnavailable', message: (err as Error).message })
    }
  }
}
