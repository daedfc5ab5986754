import type Database from 'better-sqlite3'
import { compareRkey, type Rkey } from '../../src/store/batch-buffer.js'
import { unpackLinks } from '../../src/store/inline-links.js'
import type { StoreHandle } from '../../src/store/open.js'
import { unpackBlock } from '../../src/store/record-blocks.js'

/**
 * Every record of the forward index as a row [did id, collection id, rkey, links], whatever the
 * blocks they are stored in (block boundaries depend on the order records arrived in).
 */
export function recordRows(store: StoreHandle): unknown[][] {
  const blocks = store.sqlite.prepare('SELECT * FROM records').raw().all() as Array<[number, number, Rkey | 0, Buffer]>
  const rows = blocks.flatMap(([didId, collectionId, first, entries]) =>
    unpackBlock(first, entries).map((e) => [didId, collectionId, e.rkey, Buffer.from(e.links)] as const),
  )
  // The tail block (key 0, record-blocks.ts) sorts first but holds the newest records.
  return rows.sort((a, b) => a[0] - b[0] || a[1] - b[1] || compareRkey(a[2], b[2])) as unknown as unknown[][]
}

/**
 * Every link as a row [target id, source id, rkey, did id], in links_by_time order, whether it is
 * a links_by_time row or kept in its pair's counts row (inline-links.ts).
 */
export function timeLinks(db: Database.Database): unknown[][] {
  const rows = db.prepare('SELECT target_id, source_id, rkey, did_id FROM links_by_time').raw().all() as unknown[][]
  const pairs = db.prepare('SELECT target_id, source_id, links FROM link_counts WHERE links IS NOT NULL').raw().all() as Array<[number, number, Buffer]>
  for (const [targetId, sourceId, links] of pairs) for (const l of unpackLinks(links)) rows.push([targetId, sourceId, l.rkey, l.didId])
  const [t, s, r, d] = [0, 1, 2, 3]
  return rows.sort(
    (a, b) =>
      (a[t] as number) - (b[t] as number) ||
      (a[s] as number) - (b[s] as number) ||
      compareRkey(a[r] as Rkey, b[r] as Rkey) ||
      (a[d] as number) - (b[d] as number),
  )
}

/** Exact rows of every table that holds links, and the totals, for "same index" comparisons. */
export function linkTables(store: StoreHandle) {
  const q = (sql: string) => store.sqlite.prepare(sql).raw().all()
  return {
    time: timeLinks(store.sqlite),
    did: q('SELECT * FROM links_by_did ORDER BY 1, 2, 3, 4'),
    counts: q('SELECT * FROM link_counts ORDER BY 1, 2'),
    records: recordRows(store),
    meta: q("SELECT * FROM meta WHERE key IN ('records', 'links') ORDER BY 1"),
  }
}
