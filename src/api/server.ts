import { createServer } from '@atproto/xrpc-server'
import cors from 'cors'
import express from 'express'
import type { ApiContext } from './context.js'
import { parseError } from './errors.js'
import getBacklinkDids from './methods/getBacklinkDids.js'
import getBacklinks from './methods/getBacklinks.js'
import getCounts from './methods/getCounts.js'
import getStatus from './methods/getStatus.js'

/** The HTTP app: XRPC methods, health, open CORS. */
export function createApp(ctx: ApiContext): express.Express {
  const server = createServer([], { errorParser: parseError })
  for (const register of [getBacklinks, getBacklinkDids, getCounts, getStatus]) register(server, ctx)

  const app = express()
  app.disable('x-powered-by')
  app.use(cors())
  app.get('/xrpc/_health', (_req, res) => {
    res.json({ version: ctx.version })
  })
  app.use(server.router)
  return app
}
