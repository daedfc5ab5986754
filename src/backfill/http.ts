import { BackfillError, messageOf, StoppedError } from './errors.js'
import { sleep } from './limits.js'
import { MAX_RATE_LIMIT_WAIT_MS, type ResolvedOptions } from './options.js'

export type FetchFn = typeof fetch

/** XRPC errors meaning the repo is not there to fetch: recorded as skipped, never retried. */
const GONE_ERRORS = new Set(['RepoNotFound', 'RepoDeactivated', 'RepoTakendown', 'RepoSuspended'])
/** Error bodies are read up to this size (enough for an XRPC {error, message}). */
const ERROR_BODY_BYTES = 16 * 1024

export function xrpcUrl(base: string, nsid: string, params: Record<string, string | undefined>): URL {
  const url = new URL(`/xrpc/${nsid}`, base)
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v)
  return url
}

/**
 * GET requests with the backfill's manners: a User-Agent, an idle timeout, a body size limit,
 * per-host pauses after a 429, and retries with exponential backoff and jitter.
 */
export class HttpClient {
  /** origin -> epoch ms before which no request goes to it (set by 429 / Retry-After). */
  private pausedUntil = new Map<string, number>()

  constructor(
    private fetchFn: FetchFn,
    private opts: Pick<ResolvedOptions, 'requestTimeoutMs' | 'maxAttempts' | 'retryBaseMs' | 'retryMaxMs' | 'userAgent'>,
    private signal: AbortSignal,
    private onRetry: (err: BackfillError) => void = () => {},
  ) {}

  /** One attempt: the body (at most maxBytes), or a BackfillError/StoppedError saying what went wrong. */
  async get(url: URL, maxBytes: number): Promise<Uint8Array> {
    await this.waitForHost(url.origin)
    const idle = new AbortController()
    // Reset on every chunk: a slow but steady download of a big repo is fine, a stalled one is not.
    const timer = setTimeout(() => idle.abort(), this.opts.requestTimeoutMs)
    const signal = AbortSignal.any([idle.signal, this.signal])
    const failed = (err: unknown): Error => {
      if (this.signal.aborted) return new StoppedError()
      if (idle.signal.aborted) return new BackfillError(`timed out after ${this.opts.requestTimeoutMs} ms`, 'retry')
      return err instanceof BackfillError ? err : new BackfillError(`network error: ${messageOf(err)}`, 'retry')
    }
    try {
      const res = await this.fetchFn(url, { signal, headers: { 'user-agent': this.opts.userAgent } })
      if (!res.ok) throw await this.statusError(res, url.origin)
      return await readBody(res, maxBytes, () => timer.refresh())
    } catch (err) {
      throw failed(err)
    } finally {
      clearTimeout(timer)
    }
  }

  async getJson<T>(url: URL, maxBytes = 64 * 1024 * 1024): Promise<T> {
    const body = await this.withRetries(() => this.get(url, maxBytes))
    try {
      return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as T
    } catch {
      throw new BackfillError(`invalid JSON from ${url.origin}${url.pathname}`, 'fail')
    }
  }

  /**
   * Runs `attempt` until it succeeds, fails for good, or maxAttempts is reached. Only
   * BackfillErrors saying 'retry' are retried; anything else (a database error, a bug) is thrown.
   */
  async withRetries<T>(attempt: (n: number) => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt(n)
      } catch (err) {
        if (this.signal.aborted) throw new StoppedError()
        if (!(err instanceof BackfillError) || err.outcome !== 'retry' || n >= this.opts.maxAttempts) throw err
        this.onRetry(err)
        await sleep(this.backoff(n, err.retryAfterMs), this.signal)
      }
    }
  }

  /** Exponential backoff with jitter (50-100% of the step), never shorter than a server's Retry-After. */
  backoff(attempt: number, retryAfterMs = 0): number {
    const step = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** (attempt - 1))
    return Math.max(retryAfterMs, step * (0.5 + Math.random() / 2))
  }

  private async waitForHost(origin: string): Promise<void> {
    for (;;) {
      const wait = (this.pausedUntil.get(origin) ?? 0) - Date.now()
      if (wait <= 0) return
      await sleep(wait, this.signal)
    }
  }

  private async statusError(res: Response, origin: string): Promise<BackfillError> {
    let error: string | undefined
    let message: string | undefined
    try {
      const body = JSON.parse(Buffer.from(await readBody(res, ERROR_BODY_BYTES, () => {})).toString('utf8'))
      if (typeof body?.error === 'string') error = body.error
      if (typeof body?.message === 'string') message = body.message.slice(0, 200)
    } catch {
      // not an XRPC error body
    }
    const what = `HTTP ${res.status}${error ? ` ${error}` : ''}${message ? `: ${message}` : ''}`
    if (res.status === 429 || res.status === 503) {
      const wait = retryAfterMs(res.headers)
      // A 429 is about the host, not this request: hold every request to it until the reset.
      if (wait !== undefined) this.pausedUntil.set(origin, Date.now() + wait)
      return new BackfillError(what, 'retry', wait)
    }
    if (res.status >= 500 || res.status === 408) return new BackfillError(what, 'retry')
    if (error && GONE_ERRORS.has(error)) return new BackfillError(error, 'skip')
    if (res.status === 404 || res.status === 410) return new BackfillError(what, 'skip')
    return new BackfillError(what, 'fail')
  }
}

/** Retry-After (seconds or HTTP date), else RateLimit-Reset (epoch seconds, or seconds from now), capped. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  let ms: number | undefined
  const after = headers.get('retry-after')?.trim()
  if (after) ms = /^\d+$/.test(after) ? Number(after) * 1000 : Date.parse(after) - now
  const reset = headers.get('ratelimit-reset')?.trim()
  if ((ms === undefined || Number.isNaN(ms)) && reset && /^\d+$/.test(reset)) {
    const n = Number(reset)
    ms = n > 1e9 ? n * 1000 - now : n * 1000
  }
  if (ms === undefined || Number.isNaN(ms)) return undefined
  return Math.min(MAX_RATE_LIMIT_WAIT_MS, Math.max(0, ms))
}

/** Reads a body into one buffer, refusing more than maxBytes (the download is cancelled at once). */
async function readBody(res: Response, maxBytes: number, onChunk: () => void): Promise<Uint8Array> {
  const tooLarge = (n: number) => new BackfillError(`too large: over ${maxBytes} bytes (${n} seen)`, 'fail')
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {})
    throw tooLarge(declared)
  }
  if (!res.body) return new Uint8Array(0)
  // With a Content-Length the body goes straight into one buffer: no second copy of a big CAR.
  let out = Number.isSafeInteger(declared) ? new Uint8Array(declared) : null
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = res.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    onChunk()
    if (total + value.byteLength > maxBytes) {
      await reader.cancel().catch(() => {})
      throw tooLarge(total + value.byteLength)
    }
    if (out && total + value.byteLength <= out.byteLength) out.set(value, total)
    else {
      if (out) chunks.push(out.subarray(0, total)) // more than declared: fall back to chunks
      out = null
      chunks.push(value)
    }
    total += value.byteLength
  }
  if (out) return total === out.byteLength ? out : out.subarray(0, total)
  return Buffer.concat(chunks, total)
}
