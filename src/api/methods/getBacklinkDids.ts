import type { Server } from '@atproto/xrpc-server'
import { com } from '../../lexicons/index.js'
import type { ApiContext } from '../context.js'
import { requireSource, requireSubject, withCursor } from '../params.js'
import { addQuery } from '../query.js'

export default function (server: Server, ctx: ApiContext) {
  addQuery(server, com.example.links.getBacklinkDids, (params) => {
    const key = ctx.reader.key(requireSubject('subject', params.subject), requireSource('source', params.source))
    const page = withCursor(() => ctx.reader.linkingDids(key, { limit: params.limit, cursor: params.cursor }))
    return { total: page.total, dids: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) }
  })
}
