import compression from 'compression'
import express from 'express'
import type { Config } from '../config.js'
import type { Reader } from '../store/reader.js'
import { didDocumentHandler } from './did-web.js'
import { healthHandler } from './health.js'
import { cacheControl } from './http.js'
import { Metrics, type MetricsSources } from './metrics.js'
import { rateLimit } from './rate-limit.js'

/** The HTTP behaviour of a public service, from the configuration. */
export interface OpsOptions {
  cacheMaxAge: number
  /** Requests per minute per IP; 0 = unlimited. */
  rateLimit: number
  /** Express "trust proxy" value, so req.ip is the client behind a reverse proxy. */
  trustProxy?: boolean | number | string
  publicUrl?: string
  /** /metrics on its own port (not on the API port) when set. */
  metricsPort?: number
  requestTimeout: number
}

export function opsOptions(config: Config): OpsOptions {
  const trust = config['trust-proxy']
  return {
    cacheMaxAge: Number(config['cache-max-age']),
    rateLimit: Number(config['rate-limit']),
    trustProxy: trust === undefined || trust === 'false' ? undefined : /^\d+$/.test(trust) ? Number(trust) : trust === 'true' || trust,
    publicUrl: config['public-url'],
    metricsPort: config['metrics-port'] === undefined ? undefined : Number(config['metrics-port']),
    requestTimeout: Number(config['request-timeout']),
  }
}

export interface Ops {
  options: OpsOptions
  metrics: Metrics
  reader: Reader
  version: string
}

export function createOps(options: OpsOptions, sources: MetricsSources, version: string): Ops {
  return { options, metrics: new Metrics(sources), reader: sources.reader, version }
}

/**
 * Mounts, in order: request metrics, cache headers, the operational routes (/xrpc/_health,
 * /.well-known/did.json, /metrics; not rate limited), compression, then the rate limit in front
 * of everything the app mounts afterwards.
 */
export function mountOps(app: express.Express, ops: Ops): void {
  const { options } = ops
  if (options.trustProxy !== undefined) app.set('trust proxy', options.trustProxy)
  app.use(ops.metrics.middleware())
  app.use(cacheControl(options.cacheMaxAge))
  app.get('/xrpc/_health', healthHandler(ops.reader, ops.version))
  if (options.publicUrl) app.get('/.well-known/did.json', didDocumentHandler(options.publicUrl))
  if (options.metricsPort === undefined) app.get('/metrics', ops.metrics.handler())
  app.use(compression({ threshold: 1024 }))
  if (options.rateLimit > 0) app.use(rateLimit(options.rateLimit))
}

/** The app of --metrics-port: /metrics alone, kept off the public port. */
export function metricsApp(ops: Ops): express.Express {
  const app = express()
  app.disable('x-powered-by')
  app.get('/metrics', ops.metrics.handler())
  return app
}
