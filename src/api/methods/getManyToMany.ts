import type { Server } from '@atproto/xrpc-server'
import { InvalidRequestError } from '@atproto/xrpc-server'
import { com } from '../../lexicons/index.js'
import { ScanLimitError, manyToMany, type ManyToManyQuery } from '../../store/many-to-many.js'
import type { ApiContext } from '../context.js'
import { invalidParam } from '../errors.js'
import { requireSource, requireSubject, withCursor } from '../params.js'
import { addQuery } from '../query.js'

export interface ManyToManyParams {
  subject: string
  source: string
  pathToOther: string
  dids?: readonly string[]
  otherSubjects?: readonly string[]
}

/** Validates many-to-many parameters (ours and Constellation's) into a store query. */
export function manyToManyQuery(ctx: ApiContext, p: ManyToManyParams): ManyToManyQuery {
  const source = requireSource('source', p.source)
  const path = p.pathToOther.startsWith('.') ? p.pathToOther : `.${p.pathToOther}`
  if (path.length < 2 || /[\u0000-\u001f\s]/.test(path)) throw invalidParam('pathToOther', 'expected a path such as subject')
  return {
    key: ctx.reader.key(requireSubject('subject', p.subject), source),
    pathToOther: path,
    dids: p.dids,
    otherSubjects: p.otherSubjects,
  }
}

/** Runs a many-to-many read, mapping bad cursors and over-large scans to XRPC errors. */
export function readManyToMany<T>(read: () => T): T {
  return withCursor(() => {
    try {
      return read()
    } catch (err) {
      if (err instanceof ScanLimitError) throw new InvalidRequestError(`Too many linking records: ${err.message}`, 'ScanLimitExceeded')
      throw err
    }
  })
}

export default function (server: Server, ctx: ApiContext) {
  addQuery(server, com.example.links.getManyToMany, (params) => {
    const query = manyToManyQuery(ctx, { ...params, dids: params.did, otherSubjects: params.otherSubject })
    const page = readManyToMany(() => manyToMany(ctx.reader).items(query, { limit: params.limit, cursor: params.cursor }))
    return {
      items: page.items.map((i) => ({ linkRecord: i.record, otherSubject: i.otherSubject })),
      ...(page.cursor ? { cursor: page.cursor } : {}),
    }
  })
}
