import type Database from 'better-sqlite3'
import type { Rkey } from './batch-buffer.js'
import { keyPages } from './key-pages.js'
import { keyParam, packBlocks, type RecordEntry } from './record-blocks.js'

/** Rows read per step: bounds the memory of the conversion, whatever the size of an account. */
const PAGE = 10_000

/**
 * Migration 005: rewrites the forward index from a row per record into blocks (record-blocks.ts),
 * in one transaction. Records are read in key order a page at a time; an account's collection is
 * packed as its records arrive, and every block but the last is final (packing is greedy from the
 * first record), so a collection of a million records never sits in memory. A database already
 * converted (the migration ran but was not recorded) is left as it is.
 */
export function migrateRecordBlocks(sqlite: Database.Database): void {
  const converted = sqlite.prepare("SELECT 1 FROM pragma_table_info('records') WHERE name = 'first'").pluck().get()
  if (converted) return
  sqlite.transaction(() => {
    sqlite.exec(`CREATE TABLE record_blocks (
      did_id INTEGER NOT NULL, collection_id INTEGER NOT NULL, first ANY NOT NULL, entries BLOB NOT NULL,
      PRIMARY KEY (did_id, collection_id, first)) STRICT, WITHOUT ROWID`)
    const insert = sqlite.prepare('INSERT INTO record_blocks (did_id, collection_id, first, entries) VALUES (?, ?, ?, ?)')
    let group: { didId: number; collectionId: number; entries: RecordEntry[] } | undefined
    /** Writes the group's blocks, all of them or all but the last (kept to be continued). */
    const write = (all: boolean) => {
      if (!group) return
      const blocks = packBlocks(group.entries, all)
      const keep = all ? 0 : 1
      for (const b of blocks.slice(0, blocks.length - keep)) insert.run(group.didId, group.collectionId, keyParam(b.first), b.entries)
      group.entries = keep ? group.entries.slice(group.entries.findIndex((e) => e.rkey === blocks[blocks.length - 1].first)) : []
    }
    for (const rows of keyPages(sqlite, 'records', ['did_id', 'collection_id', 'rkey', 'links'], 3, PAGE)) {
      for (const [didId, collectionId, rkey, links] of rows as Array<[number, number, Rkey, Buffer]>) {
        if (!group || group.didId !== didId || group.collectionId !== collectionId) {
          write(true)
          group = { didId, collectionId, entries: [] }
        }
        group.entries.push({ rkey, links })
      }
      write(false)
    }
    write(true)
    sqlite.exec('DROP TABLE records; ALTER TABLE record_blocks RENAME TO records')
  })()
}
