import type { Rkey } from '../../src/store/batch-buffer.js'
import type { StoreHandle } from '../../src/store/open.js'
import { unpackBlock } from '../../src/store/record-blocks.js'

/**
 * Every record of the forward index as a row [did id, collection id, rkey, links], whatever the
 * blocks they are stored in (block boundaries depend on the order records arrived in).
 */
export function recordRows(store: StoreHandle): unknown[][] {
  const blocks = store.sqlite.prepare('SELECT * FROM records ORDER BY 1, 2, 3').raw().all() as Array<[number, number, Rkey, Buffer]>
  return blocks.flatMap(([didId, collectionId, first, entries]) =>
    unpackBlock(first, entries).map((e) => [didId, collectionId, e.rkey, Buffer.from(e.links)]),
  )
}

/** Exact rows of every table that holds links, and the totals, for "same index" comparisons. */
export function linkTables(store: StoreHandle) {
  const q = (sql: string) => store.sqlite.prepare(sql).raw().all()
  return {
    time: q('SELECT * FROM links_by_time ORDER BY 1, 2, 3, 4'),
    did: q('SELECT * FROM links_by_did ORDER BY 1, 2, 3, 4'),
    counts: q('SELECT * FROM link_counts ORDER BY 1, 2'),
    records: recordRows(store),
    meta: q("SELECT * FROM meta WHERE key IN ('records', 'links') ORDER BY 1"),
  }
}
