import type Database from 'better-sqlite3'
import type { Rkey } from './batch-buffer.js'
import type { PairLink } from './inline-links.js'
import { keyPages } from './key-pages.js'
import { blockKey, DID_ORDER, packBlocks, TIME_ORDER, unpackBlock, type LinkOrder } from './link-blocks.js'

/** Rows read per step: bounds the memory of the conversion, whatever the size of a pair. */
const PAGE = 10_000

/**
 * Migration 007: rewrites links_by_time and links_by_did from a row per link into blocks
 * (link-blocks.ts), each in one transaction. Rows are read in key order a page at a time; a
 * pair's links are packed as they arrive, and every block but the last is final (packing is
 * greedy from the first link), so a pair of a million links never sits in memory; in time order
 * a pair's last block is its tail. A table already converted (the migration ran but was not
 * recorded) is left as it is.
 */
export function migrateLinkBlocks(sqlite: Database.Database): void {
  for (const order of [TIME_ORDER, DID_ORDER]) convert(sqlite, order)
}

function convert(sqlite: Database.Database, order: LinkOrder): void {
  const { table, columns } = order
  const converted = sqlite.prepare(`SELECT 1 FROM pragma_table_info('${table}') WHERE name = 'entries'`).pluck().get()
  if (converted) return
  const [k1, k2] = columns.split(', ')
  const type = (column: string) => (column === 'rkey' ? 'ANY' : 'INTEGER')
  sqlite.transaction(() => {
    sqlite.exec(`CREATE TABLE ${table}_blocks (
      target_id INTEGER NOT NULL, source_id INTEGER NOT NULL, ${k1} ${type(k1)} NOT NULL, ${k2} ${type(k2)} NOT NULL,
      entries BLOB NOT NULL, PRIMARY KEY (target_id, source_id, ${columns})) STRICT, WITHOUT ROWID`)
    const insert = sqlite.prepare(`INSERT INTO ${table}_blocks (target_id, source_id, ${columns}, entries) VALUES (?, ?, ?, ?, ?)`)
    let pair: { targetId: number; sourceId: number; links: PairLink[] } | undefined
    /** Writes the pair's blocks, all of them or all but the last (kept to be continued). */
    const write = (all: boolean) => {
      if (!pair) return
      const blocks = packBlocks(order, pair.links)
      const kept = all ? undefined : blocks.pop()
      blocks.forEach((b, i) => insert.run(pair!.targetId, pair!.sourceId, ...blockKey(order, b, order.tail && i === blocks.length - 1 && all), b))
      pair.links = kept ? unpackBlock(order, kept) : []
    }
    const link = (a: unknown, b: unknown): PairLink =>
      order === TIME_ORDER ? { rkey: a as Rkey, didId: b as number } : { didId: a as number, rkey: b as Rkey }
    for (const rows of keyPages(sqlite, table, ['target_id', 'source_id', k1, k2], 4, PAGE)) {
      for (const [targetId, sourceId, a, b] of rows as Array<[number, number, unknown, unknown]>) {
        if (!pair || pair.targetId !== targetId || pair.sourceId !== sourceId) {
          write(true)
          pair = { targetId, sourceId, links: [] }
        }
        pair.links.push(link(a, b))
      }
      write(false)
    }
    write(true)
    sqlite.exec(`DROP TABLE ${table}; ALTER TABLE ${table}_blocks RENAME TO ${table}`)
  })()
}
