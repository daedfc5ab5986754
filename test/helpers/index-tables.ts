import type Database from 'better-sqlite3'
import { compareRkey, type Rkey } from '../../src/store/batch-buffer.js'
import { unpackLinks } from '../../src/store/inline-links.js'
import { DID_ORDER, TIME_ORDER, unpackBlock as unpackLinkBlock, type LinkOrder } from '../../src/store/link-blocks.js'
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
 * Every link of a block table (link-blocks.ts) as a row [target id, source id, then the order's
 * key columns], in the table's order, whatever the blocks they are stored in.
 */
export function blockLinks(db: Database.Database, order: LinkOrder): unknown[][] {
  const blocks = db.prepare(`SELECT target_id, source_id, entries FROM ${order.table}`).raw().all() as Array<[number, number, Buffer]>
  const links = blocks.flatMap(([targetId, sourceId, entries]) => unpackLinkBlock(order, entries).map((l) => ({ targetId, sourceId, l })))
  // The tail block (link-blocks.ts) sorts first but holds a pair's newest links.
  links.sort((a, b) => a.targetId - b.targetId || a.sourceId - b.sourceId || order.compare(a.l, b.l))
  return links.map(({ targetId, sourceId, l }) => [targetId, sourceId, ...order.key(l)])
}

/** The number of links of one pair in a block table. */
export function pairLinkCount(db: Database.Database, order: LinkOrder, targetId: number, sourceId: number): number {
  return blockLinks(db, order).filter(([t, s]) => t === targetId && s === sourceId).length
}

/**
 * Turns the link tables back into their shape before migration 007 (a row per link) and forgets
 * that migration, as a database of the previous version would be.
 */
export function toLinkRows(db: Database.Database): void {
  for (const order of [TIME_ORDER, DID_ORDER]) {
    const rows = blockLinks(db, order)
    const [k1, k2] = order.columns.split(', ')
    const type = (column: string) => (column === 'rkey' ? 'ANY' : 'INTEGER')
    db.exec(`DROP TABLE ${order.table}; CREATE TABLE ${order.table} (
      target_id INTEGER NOT NULL, source_id INTEGER NOT NULL, ${k1} ${type(k1)} NOT NULL, ${k2} ${type(k2)} NOT NULL,
      PRIMARY KEY (target_id, source_id, ${order.columns})) STRICT, WITHOUT ROWID`)
    const insert = db.prepare(`INSERT INTO ${order.table} VALUES (?, ?, ?, ?)`)
    for (const row of rows) insert.run(...row)
  }
  db.exec("DELETE FROM kysely_migration WHERE name >= '2026-12-07-007'")
}

/**
 * Every link as a row [target id, source id, rkey, did id], in links_by_time order, whether it is
 * in links_by_time's blocks or kept in its pair's counts row (inline-links.ts).
 */
export function timeLinks(db: Database.Database): unknown[][] {
  const rows = blockLinks(db, TIME_ORDER)
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
    did: blockLinks(store.sqlite, DID_ORDER),
    counts: q('SELECT * FROM link_counts ORDER BY 1, 2'),
    records: recordRows(store),
    meta: q("SELECT * FROM meta WHERE key IN ('records', 'links') ORDER BY 1"),
  }
}
