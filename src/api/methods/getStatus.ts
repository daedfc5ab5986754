import type { DatetimeString } from '@atproto/syntax'
import type { Server } from '@atproto/xrpc-server'
import { com } from '../../lexicons/index.js'
import type { ApiContext } from '../context.js'
import { addQuery } from '../query.js'

export default function (server: Server, ctx: ApiContext) {
  addQuery(server, com.example.links.getStatus, () => {
    const stats = ctx.reader.stats()
    const report = ctx.report()
    return {
      version: ctx.version,
      ...(stats.cursor !== undefined
        ? { cursor: stats.cursor, cursorTime: new Date(stats.cursor / 1000).toISOString() as DatetimeString }
        : {}),
      records: stats.records,
      links: stats.links,
      targets: stats.targets,
      dids: stats.dids,
      dbBytes: stats.dbBytes,
      startedAt: ctx.startedAt.toISOString() as DatetimeString,
      ingest: { pendingAccountJobs: stats.pendingAccountJobs, gaps: stats.gaps, ...report.ingest },
      ...(report.backfill ? { backfill: report.backfill } : {}),
    }
  })
}
