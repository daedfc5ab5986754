import { createServer } from '@atproto/xrpc-server'
import cors from 'cors'
import express from 'express'
import { mountOps, type Ops } from '../ops/index.js'
import { registerMethods as constellationMethods } from './constellation/endpoints.js'
import { constellationRouter } from './constellation/router.js'
import type { ApiContext } from './context.js'
import { parseError } from './errors.js'
import { explorerRouter } from './explorer/index.js'
import getBacklinkDids from './methods/getBacklinkDids.js'
import getBacklinks from './methods/getBacklinks.js'
import getCounts from './methods/getCounts.js'
import getManyToMany from './methods/getManyToMany.js'
import getManyToManyCounts from './methods/getManyToManyCounts.js'
import getStatus from './methods/getStatus.js'

/** The HTTP app: XRPC methods, Constellation's routes, the explorer, health, open CORS. */
export function createApp(ctx: ApiContext, ops: Ops): express.Express {
  // Handlers build their output from typed code and the tests check it through the validating
  // client, so output is not validated again per response (it cost more CPU than the query).
  const server = createServer([], { errorParser: parseError, validateResponse: false })
  const methods = [getBacklinks, getBacklinkDids, getCounts, getStatus, getManyToMany, getManyToManyCounts, constellationMethods]
  for (const register of methods) register(server, ctx)

  const app = express()
  app.disable('x-powered-by')
  // Every handler reads the URL's own search params; express's qs parse of each query string was
  // ~2% of the HTTP thread's CPU for nothing (and bracket-style params are not part of the API).
  app.set('query parser', false)
  app.use(cors())
  mountOps(app, ops) // metrics, cache headers, /xrpc/_health, did.json, /metrics, compression, rate limit
  app.use(explorerRouter(ctx)) // '/', robots.txt
  app.use(constellationRouter(ctx)) // Constellation's REST routes; HTML views of its XRPC routes
  server.router.disable('x-powered-by') // the XRPC router is an express app of its own
  app.use(server.router)
  return app
}
