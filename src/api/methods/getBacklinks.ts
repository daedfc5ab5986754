import type { Server } from '@atproto/xrpc-server'
import { com } from '../../lexicons/index.js'
import type { ApiContext } from '../context.js'
import { requireSource, requireSubject, withCursor } from '../params.js'

export default function (server: Server, ctx: ApiContext) {
  server.add(com.example.links.getBacklinks, async ({ params }) => {
    const key = ctx.reader.key(requireSubject('subject', params.subject), requireSource('source', params.source))
    const page = withCursor(() =>
      ctx.reader.backlinks(key, { limit: params.limit, cursor: params.cursor, reverse: params.reverse, dids: params.did }),
    )
    return {
      encoding: 'application/json' as const,
      body: { total: page.total, records: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) },
    }
  })
}
