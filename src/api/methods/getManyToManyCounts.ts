import type { Server } from '@atproto/xrpc-server'
import { com } from '../../lexicons/index.js'
import { manyToMany } from '../../store/many-to-many.js'
import type { ApiContext } from '../context.js'
import { addQuery } from '../query.js'
import { manyToManyQuery, readManyToMany } from './getManyToMany.js'

export default function (server: Server, ctx: ApiContext) {
  addQuery(server, com.example.links.getManyToManyCounts, (params) => {
    const query = manyToManyQuery(ctx, { ...params, dids: params.did, otherSubjects: params.otherSubject })
    const page = readManyToMany(() => manyToMany(ctx.reader).counts(query, { limit: params.limit, cursor: params.cursor }))
    return { counts: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) }
  })
}
