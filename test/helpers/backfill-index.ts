// The whole index as plain data, independent of row ids, so two databases built different ways
// (backfill vs. live events) can be compared with deepEqual.
import { parseSource } from '../../src/links/source.js'
import type { StoreHandle } from '../../src/store/open.js'
import { Reader } from '../../src/store/reader.js'

export interface IndexSnapshot {
  records: number
  links: number
  /** `target source` -> counts, every linking record and every linking DID (sorted). */
  targets: Record<string, { records: number; dids: number; backlinks: string[]; linkingDids: string[] }>
}

export function snapshotIndex(store: StoreHandle): IndexSnapshot {
  const reader = new Reader(store)
  const stats = reader.stats()
  const out: IndexSnapshot['targets'] = {}
  for (let id = 1; id <= stats.targets; id++) {
    const target = reader.targetName(id)
    for (const count of reader.countsBySource(id)) {
      const key = reader.key(target, parseSource(count.source)!)
      const backlinks: string[] = []
      for (let cursor: string | undefined, first = true; first || cursor; first = false) {
        const page = reader.backlinks(key, { limit: 100, cursor })
        backlinks.push(...page.items.map((r) => `at://${r.did}/${r.collection}/${r.rkey}`))
        cursor = page.cursor
      }
      const linkingDids: string[] = []
      for (let cursor: string | undefined, first = true; first || cursor; first = false) {
        const page = reader.linkingDids(key, { limit: 100, cursor })
        linkingDids.push(...page.items)
        cursor = page.cursor
      }
      out[`${target} ${count.source}`] = {
        records: count.records,
        dids: count.dids,
        backlinks: backlinks.sort(),
        linkingDids: linkingDids.sort(),
      }
    }
  }
  return { records: stats.records, links: stats.links, targets: out }
}
