import type { Server } from '@atproto/xrpc-server'
import { com } from '../../lexicons/index.js'
import { manyToMany } from '../../store/many-to-many.js'
import type { ApiContext } from '../context.js'
import { manyToManyQuery, readManyToMany } from './getManyToMany.js'

export default function (server: Server, ctx: ApiContext) {
  server.add(com.example.links.getManyToManyCounts, async ({ params }) => {
    const query = manyToManyQuery(ctx, { ...params, dids: params.did, otherSubjects: params.otherSubject })
    const page = readManyToMany(() => manyToMany(ctx.reader).counts(query, { limit: params.limit, cursor: params.cursor }))
    return {
      encoding: 'application/json' as const,
      body: { counts: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) },
    }
  })
}
