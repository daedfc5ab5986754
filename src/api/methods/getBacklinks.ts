import type { Server } from '@atproto/xrpc-server'
import { com } from '../../lexicons/index.js'
import type { ApiContext } from '../context.js'
import { requireSource, requireSubject, withCursor } from '../params.js'
import { addQuery } from '../query.js'

export default function (server: Server, ctx: ApiContext) {
  addQuery(server, com.example.links.getBacklinks, (params) => {
    const key = ctx.reader.key(requireSubject('subject', params.subject), requireSource('source', params.source))
    const page = withCursor(() =>
      ctx.reader.backlinks(key, { limit: params.limit, cursor: params.cursor, reverse: params.reverse, dids: params.did }),
    )
    return { total: page.total, records: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) }
  })
}
