import type { RequestHandler } from 'express'

const WINDOW_MS = 60_000

/**
 * Per-IP limit of `perMinute` requests in fixed one-minute windows shared by all clients, so
 * memory is one counter per IP seen this minute and is dropped whole when the minute ends.
 * Sends the IETF draft RateLimit-* headers; over the limit, 429 in the XRPC error shape.
 * Behind a reverse proxy set --trust-proxy, or every client shares the proxy's IP.
 */
export function rateLimit(perMinute: number, now: () => number = Date.now): RequestHandler {
  let window = -1
  let counts = new Map<string, number>()
  return (req, res, next) => {
    const t = now()
    const current = Math.floor(t / WINDOW_MS)
    if (current !== window) {
      window = current
      counts = new Map()
    }
    const ip = req.ip ?? 'unknown'
    const used = (counts.get(ip) ?? 0) + 1
    counts.set(ip, used)
    const reset = Math.ceil(((current + 1) * WINDOW_MS - t) / 1000)
    res.set({
      'RateLimit-Limit': String(perMinute),
      'RateLimit-Remaining': String(Math.max(0, perMinute - used)),
      'RateLimit-Reset': String(reset),
    })
    if (used <= perMinute) return next()
    res
      .status(429)
      .set('Retry-After', String(reset))
      .json({ error: 'RateLimitExceeded', message: `Rate limit of ${perMinute} requests per minute exceeded; retry in ${reset} s` })
  }
}
