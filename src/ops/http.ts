import type { RequestHandler } from 'express'
import type { Server, ServerResponse } from 'node:http'

/**
 * Cache-Control on GET/HEAD answers: successes may be cached `maxAge` seconds by browsers and
 * CDNs (counts move every second, but a feed generator polling the same posts gains a lot);
 * errors never are. A handler that sets its own Cache-Control keeps it, unless it fails.
 */
export function cacheControl(maxAgeSeconds: number): RequestHandler {
  const ok = maxAgeSeconds > 0 ? `public, max-age=${maxAgeSeconds}` : 'no-store'
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') {
      beforeHeaders(res, () => {
        if (res.statusCode >= 400) res.setHeader('Cache-Control', 'no-store')
        else if (!res.hasHeader('Cache-Control')) res.setHeader('Cache-Control', ok)
      })
    }
    next()
  }
}

/** Runs `fn` just before the status line and headers go out, whichever code path sends them. */
function beforeHeaders(res: ServerResponse, fn: () => void): void {
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse
  res.writeHead = ((...args: unknown[]) => {
    if (typeof args[0] === 'number') res.statusCode = args[0]
    fn()
    return writeHead(...args)
  }) as ServerResponse['writeHead']
}

/**
 * Handlers are bounded synchronous reads, so what needs a deadline is the client side: a
 * request must arrive whole within `seconds` (no slowloris), and a socket with no progress for
 * that long (a client not reading its response) is closed.
 */
export function applyTimeouts(server: Server, seconds: number): void {
  server.requestTimeout = seconds * 1000
  server.headersTimeout = seconds * 1000
  server.setTimeout(seconds * 1000)
}
