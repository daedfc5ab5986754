import type Database from 'better-sqlite3'
import type { Rkey } from './batch-buffer.js'
import { INLINE_MAX, packLinks } from './inline-links.js'

/** Pairs converted per step (each a read, an update and a delete). */
const PAGE = 5_000

/**
 * Migration 006: link_counts gains `links`, and every pair of at most INLINE_MAX links moves its
 * links_by_time rows into it (inline-links.ts), in one transaction. Running it again (the
 * migration ran but was not recorded) converts nothing twice: it only takes pairs still in rows.
 */
export function migrateInlineLinks(sqlite: Database.Database): void {
  sqlite.transaction(() => {
    const hasColumn = sqlite.prepare("SELECT 1 FROM pragma_table_info('link_counts') WHERE name = 'links'").pluck().get()
    if (!hasColumn) sqlite.exec('ALTER TABLE link_counts ADD COLUMN links BLOB')
    const pairs = sqlite
      .prepare(
        `SELECT target_id, source_id FROM link_counts WHERE links IS NULL AND records <= ${INLINE_MAX}
         AND (target_id, source_id) > (?, ?) ORDER BY 1, 2 LIMIT ?`,
      )
      .raw()
    const links = sqlite.prepare('SELECT rkey, did_id FROM links_by_time WHERE target_id = ? AND source_id = ?').raw()
    const setLinks = sqlite.prepare('UPDATE link_counts SET links = ? WHERE target_id = ? AND source_id = ?')
    const dropRows = sqlite.prepare('DELETE FROM links_by_time WHERE target_id = ? AND source_id = ?')
    let after: [number, number] = [-1, -1]
    for (;;) {
      const page = pairs.all(after[0], after[1], PAGE) as Array<[number, number]>
      for (const [targetId, sourceId] of page) {
        const rows = links.all(targetId, sourceId) as Array<[Rkey, number]>
        setLinks.run(packLinks(rows.map(([rkey, didId]) => ({ rkey, didId }))), targetId, sourceId)
        dropRows.run(targetId, sourceId)
      }
      if (page.length < PAGE) break
      after = page[page.length - 1]
    }
  })()
}
