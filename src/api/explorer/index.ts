import express from 'express'
import type { ApiContext } from '../context.js'
import { ICON, LIVE_JS, ROBOTS, STYLE } from './assets.js'
import type { Html } from './html.js'
import { homePage, statsFragment } from './pages.js'

/** No inline scripts or styles, no framing, forms only to this origin. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

export function sendHtml(res: express.Response, status: number, page: Html): void {
  res.status(status).set({ 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP }).send(page.text)
}

/** Clients that ask for HTML before JSON (browsers); fetch() and curl send * / * and get JSON. */
export function prefersHtml(req: express.Request): boolean {
  return req.accepts(['application/json', 'text/html']) === 'text/html'
}

/** The explorer's own routes: the home page, its assets, the icon and robots.txt. */
export function explorerRouter(ctx: ApiContext): express.Router {
  const router = express.Router()
  router.get('/', (req, res) => {
    res.vary('Accept')
    if (prefersHtml(req)) return sendHtml(res, 200, homePage(ctx))
    // Like Constellation's root: a pointer for programs, with the index size.
    const s = ctx.reader.stats()
    res.json({
      help: 'open this URL in a web browser (or request with Accept: text/html) for information about this API.',
      days_indexed: null,
      stats: { dids: s.dids, targetables: s.targets, linking_records: s.records },
    })
  })
  router.get('/explorer/stats', (_req, res) => sendHtml(res, 200, statsFragment(ctx)))
  router.get('/explorer/style.css', (_req, res) => {
    res.type('text/css').set('Cache-Control', 'public, max-age=3600').send(STYLE)
  })
  router.get('/explorer/live.js', (_req, res) => {
    res.type('text/javascript').set('Cache-Control', 'public, max-age=3600').send(LIVE_JS)
  })
  router.get(['/favicon.ico', '/explorer/icon.svg'], (_req, res) => {
    res.type('image/svg+xml').set('Cache-Control', 'public, max-age=86400').send(ICON)
  })
  router.get('/robots.txt', (_req, res) => {
    res.type('text/plain').send(ROBOTS)
  })
  return router
}
