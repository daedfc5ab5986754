import type { Server } from '@atproto/xrpc-server'
import { com } from '../../lexicons/index.js'
import { formatSource } from '../../links/source.js'
import type { ApiContext } from '../context.js'
import { requireSource, requireSubject } from '../params.js'
import { addQuery } from '../query.js'

export default function (server: Server, ctx: ApiContext) {
  addQuery(server, com.example.links.getCounts, (params) => {
    const sources = params.sources?.map((s) => requireSource('sources', s))
    const subjects = params.subjects.map((subject) => {
      requireSubject('subjects', subject)
      if (!sources) {
        const counts = ctx.reader.countsBySource(ctx.reader.targetId(subject))
        return { subject, sources: counts.map(({ source, records, dids }) => ({ source, records, dids })) }
      }
      // Sources asked for by name are always answered, with zeros when nothing links from them.
      return {
        subject,
        sources: sources.map((source) => ({
          source: formatSource(source.collection, source.path),
          ...ctx.reader.counts(ctx.reader.key(subject, source)),
        })),
      }
    })
    return { subjects }
  })
}
