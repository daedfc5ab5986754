// Constellation's answers, in Constellation's JSON shapes, from the same Reader (and the same
// many-to-many store) as our own com.example.links.* methods. Cursors are null when exhausted.
import type { LinkKey } from '../../store/reader.js'
import { manyToMany, type ManyToManyQuery } from '../../store/many-to-many.js'
import type { ApiContext } from '../context.js'
import { readManyToMany } from '../methods/getManyToMany.js'
import { requireSubject, withCursor } from '../params.js'

export interface PageOpts {
  limit: number
  cursor?: string
}

/** Constellation trims repeated filter values and ignores empty ones. */
export function cleanList(values: readonly string[] | undefined): string[] {
  return (values ?? []).map((v) => v.trim()).filter((v) => v !== '')
}

export function backlinks(ctx: ApiContext, key: LinkKey, opts: PageOpts & { dids: string[]; reverse: boolean }) {
  const page = withCursor(() => ctx.reader.backlinks(key, opts))
  return { total: page.total, records: page.items, cursor: page.cursor ?? null }
}

export function backlinkDids(ctx: ApiContext, key: LinkKey, opts: PageOpts) {
  const page = withCursor(() => ctx.reader.linkingDids(key, opts))
  return { total: page.total, linking_dids: page.items, cursor: page.cursor ?? null }
}

export function linkCount(ctx: ApiContext, key: LinkKey) {
  return { total: ctx.reader.counts(key).records }
}

export function distinctDidCount(ctx: ApiContext, key: LinkKey) {
  return { total: ctx.reader.counts(key).dids }
}

/** Every source linking to a target: `{collection: {path: counts}}`, paths with their leading dot. */
export function allLinks<T>(ctx: ApiContext, target: string, pick: (c: { records: number; dids: number }) => T) {
  const links: Record<string, Record<string, T>> = {}
  for (const c of ctx.reader.countsBySource(ctx.reader.targetId(requireSubject('target', target)))) {
    ;(links[c.collection] ??= {})[c.path] = pick(c)
  }
  return { links }
}

export function manyToManyCounts(ctx: ApiContext, query: ManyToManyQuery, opts: PageOpts) {
  const page = readManyToMany(() => manyToMany(ctx.reader).counts(query, opts))
  return {
    counts_by_other_subject: page.items.map((c) => ({ subject: c.subject, total: c.records, distinct: c.dids })),
    cursor: page.cursor ?? null,
  }
}

export function manyToManyItems(ctx: ApiContext, query: ManyToManyQuery, opts: PageOpts) {
  const page = readManyToMany(() => manyToMany(ctx.reader).items(query, opts))
  return {
    items: page.items.map((i) => ({ linkRecord: i.record, otherSubject: i.otherSubject })),
    cursor: page.cursor ?? null,
  }
}
