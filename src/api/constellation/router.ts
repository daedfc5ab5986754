import { XRPCError } from '@atproto/xrpc-server'
import express from 'express'
import type { ApiContext } from '../context.js'
import { parseError } from '../errors.js'
import { prefersHtml, sendHtml } from '../explorer/index.js'
import { errorPage, resultPage } from '../explorer/pages.js'
import { ENDPOINTS, type Endpoint } from './endpoints.js'

/** A browser form sends every field; an empty one means "not given". */
function withoutEmpty(query: URLSearchParams): URLSearchParams {
  return new URLSearchParams([...query].filter(([, v]) => v !== ''))
}

function answer(ctx: ApiContext, ep: Endpoint, req: express.Request, res: express.Response): void {
  const html = prefersHtml(req)
  const raw = new URL(req.originalUrl, 'http://localhost').searchParams
  const query = html ? withoutEmpty(raw) : raw
  try {
    const body = ep.answer(ctx, query)
    if (html) sendHtml(res, 200, resultPage(ep, query, body))
    else res.json(body)
  } catch (err) {
    const xrpc = err instanceof XRPCError ? parseError(err) : undefined
    // Anything but a request error is our fault: log it, answer a bare 500.
    if (!xrpc) console.error(err)
    const out = xrpc ?? XRPCError.fromError(err)
    if (html) sendHtml(res, out.statusCode, errorPage(ep, query, out))
    else res.status(out.statusCode).json(out.payload)
  }
}

/**
 * Constellation's routes: the REST routes (JSON, or HTML for browsers) and the HTML view of the
 * XRPC routes. JSON of the XRPC routes is left to the XRPC server, mounted after this router.
 */
export function constellationRouter(ctx: ApiContext): express.Router {
  const router = express.Router()
  for (const ep of ENDPOINTS) {
    router.get(ep.path, (req, res, next) => {
      res.vary('Accept')
      if (ep.xrpc && !prefersHtml(req)) return next()
      answer(ctx, ep, req, res)
    })
  }
  return router
}
