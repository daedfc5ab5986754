import { availableParallelism } from 'node:os'

/** Where repos come from: the relay's hosts, one PDS, or explicit DIDs (in that order of precedence: dids, pds, relay). */
export interface BackfillOptions {
  /** Relay to enumerate hosts from (com.atproto.sync.listHosts). Default https://bsky.network. */
  relay?: string
  /** A single PDS to enumerate repos from (com.atproto.sync.listRepos). */
  pds?: string
  /** Explicit DIDs: each is resolved to its PDS and always re-fetched, even if done before (repair). */
  dids?: string[]
  /** PLC directory for did:plc resolution. Default https://plc.directory. */
  plc?: string
  /** Repos in flight at once (downloading, parsing or writing). Default 8. */
  concurrency?: number
  /** Requests in flight to one host at once. Default 2. */
  perHost?: number
  /** Move repos recorded as failed back to pending before starting. */
  retryFailed?: boolean
  /** Check each commit's signature against the DID document's #atproto key (one DID lookup per repo). */
  verifySignatures?: boolean
  /** Largest repo CAR accepted; larger downloads are aborted and the repo marked failed. Default 512 MiB. */
  maxRepoBytes?: number
  /** A request fails when no byte arrives for this long. Default 30 s. */
  requestTimeoutMs?: number
  /** Tries per request (and per repo) before giving up. Default 5. */
  maxAttempts?: number
  /** First retry delay; doubles per attempt (with jitter) up to retryMaxMs. Default 1 s. */
  retryBaseMs?: number
  /** Longest backoff between tries. Default 60 s. (A server's Retry-After is honoured up to MAX_RATE_LIMIT_WAIT_MS.) */
  retryMaxMs?: number
  /** Records per write transaction (the live-event commit stall is about sliceSize / 20,000 s). Default 5,000. */
  sliceSize?: number
  /** Worker threads that parse CARs (0 = parse on the writer thread). Default: cores - 1, at most 4. */
  parseWorkers?: number
  /** Interval of the progress log line; 0 turns it off. Default 5 s. */
  progressIntervalMs?: number
  /** Base URL of a host named by listHosts or a did:web (tests use plain http). Default https://<host>. */
  hostUrl?: (host: string) => string
  userAgent?: string
}

export type ResolvedOptions = Required<Omit<BackfillOptions, 'pds' | 'dids'>> & Pick<BackfillOptions, 'pds' | 'dids'>

/** 429 waits are honoured up to this (a host asking for hours is treated as failing). */
export const MAX_RATE_LIMIT_WAIT_MS = 15 * 60_000

export function resolveOptions(opts: BackfillOptions): ResolvedOptions {
  const positive = (name: string, v: number | undefined, def: number, min = 1): number => {
    const n = v ?? def
    if (!Number.isFinite(n) || n < min) throw new Error(`backfill: ${name} must be a number >= ${min}, got ${v}`)
    return n
  }
  return {
    relay: opts.relay ?? 'https://bsky.network',
    pds: opts.pds,
    dids: opts.dids,
    plc: opts.plc ?? 'https://plc.directory',
    concurrency: positive('concurrency', opts.concurrency, 8),
    perHost: positive('perHost', opts.perHost, 2),
    retryFailed: opts.retryFailed ?? false,
    verifySignatures: opts.verifySignatures ?? false,
    maxRepoBytes: positive('maxRepoBytes', opts.maxRepoBytes, 512 * 1024 * 1024),
    requestTimeoutMs: positive('requestTimeoutMs', opts.requestTimeoutMs, 30_000),
    maxAttempts: positive('maxAttempts', opts.maxAttempts, 5),
    retryBaseMs: positive('retryBaseMs', opts.retryBaseMs, 1000, 0),
    retryMaxMs: positive('retryMaxMs', opts.retryMaxMs, 60_000, 0),
    sliceSize: positive('sliceSize', opts.sliceSize, 5000),
    parseWorkers: positive('parseWorkers', opts.parseWorkers, Math.min(4, availableParallelism() - 1), 0),
    progressIntervalMs: positive('progressIntervalMs', opts.progressIntervalMs, 5000, 0),
    hostUrl: opts.hostUrl ?? ((host) => `https://${host}`),
    userAgent: opts.userAgent ?? 'atproto-backlinks-backfill',
  }
}
