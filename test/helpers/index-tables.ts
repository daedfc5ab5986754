import type { StoreHandle } from '../../src/store/open.js'

/** Exact rows of every table that holds links, and the totals, for "same index" comparisons. */
export function linkTables(store: StoreHandle) {
  const q = (sql: string) => store.sqlite.prepare(sql).raw().all()
  return {
    time: q('SELECT * FROM links_by_time ORDER BY 1, 2, 3, 4'),
    did: q('SELECT * FROM links_by_did ORDER BY 1, 2, 3, 4'),
    counts: q('SELECT * FROM link_counts ORDER BY 1, 2'),
    records: q('SELECT * FROM records ORDER BY 1, 2, 3'),
    meta: q("SELECT * FROM meta WHERE key IN ('records', 'links') ORDER BY 1"),
  }
}
