import type Database from 'better-sqlite3'
import { byDidOrder, type LinkOp, type Rkey } from './batch-buffer.js'
import { accountOrderTable, type LinkTable } from './did-order.js'
import { findLink, INLINE_MAX, packLinks, unpackLinks } from './inline-links.js'

/**
 * The writer's side of the links of each (target, source) pair: where they are kept by the
 * pair's size (inline-links.ts, did-order.ts), and its counts (records, distinct accounts),
 * maintained on every change so reads never count rows.
 */
export class PairWriter {
  private s

  constructor(db: Database.Database) {
    this.s = {
      insTime: db.prepare('INSERT OR IGNORE INTO links_by_time (target_id, source_id, rkey, did_id) VALUES (?, ?, ?, ?)'),
      insDid: db.prepare('INSERT OR IGNORE INTO links_by_did (target_id, source_id, did_id, rkey) VALUES (?, ?, ?, ?)'),
      delTime: db.prepare('DELETE FROM links_by_time WHERE target_id = ? AND source_id = ? AND rkey = ? AND did_id = ?'),
      delDid: db.prepare('DELETE FROM links_by_did WHERE target_id = ? AND source_id = ? AND did_id = ? AND rkey = ?'),
      copyToDidOrder: db.prepare(
        `INSERT INTO links_by_did (target_id, source_id, did_id, rkey)
         SELECT target_id, source_id, did_id, rkey FROM links_by_time WHERE target_id = ? AND source_id = ?`,
      ),
      dropDidOrder: db.prepare('DELETE FROM links_by_did WHERE target_id = ? AND source_id = ?'),
      /** An account's links to a pair, counted up to a limit, in either table. */
      accountLinks: {
        links_by_did: countUpTo(db, 'links_by_did'),
        links_by_time: countUpTo(db, 'links_by_time'),
      } satisfies Record<LinkTable, Database.Statement>,
      getCount: db.prepare('SELECT records, dids, links FROM link_counts WHERE target_id = ? AND source_id = ?').raw(),
      putCount: db.prepare(
        'INSERT OR REPLACE INTO link_counts (target_id, source_id, records, dids, links) VALUES (?, ?, ?, ?, ?)',
      ),
      pairLinks: db.prepare('SELECT rkey, did_id FROM links_by_time WHERE target_id = ? AND source_id = ?').raw(),
      dropTime: db.prepare('DELETE FROM links_by_time WHERE target_id = ? AND source_id = ?'),
      dropCount: db.prepare('DELETE FROM link_counts WHERE target_id = ? AND source_id = ?'),
    }
  }

  /**
   * Applies net link changes (in links_by_time order, none zero) one (target, source) pair at a
   * time. Returns the change in the number of links.
   */
  apply(ops: readonly LinkOp[]): number {
    let delta = 0
    for (let i = 0; i < ops.length; ) {
      const { targetId, sourceId } = ops[i]
      let end = i + 1
      while (end < ops.length && ops[end].targetId === targetId && ops[end].sourceId === sourceId) end++
      delta += this.applyPair(targetId, sourceId, ops.slice(i, end))
      i = end
    }
    return delta
  }

  /**
   * One pair's changes: its links (in its counts row up to INLINE_MAX, inline-links.ts, else
   * links_by_time rows), its account order (did-order.ts), then its counts. Whether an account
   * links the pair after its changes (counted where the pair's links now are), less what it
   * added, plus what it removed, gives whether it linked before: the distinct-account change.
   */
  private applyPair(targetId: number, sourceId: number, ops: LinkOp[]): number {
    const row = this.s.getCount.get(targetId, sourceId) as [records: number, dids: number, links: Buffer | null] | undefined
    const [recordsBefore, didsBefore] = row ?? [0, 0]
    // A new pair starts inline; a NULL `links` means links_by_time rows.
    let inline = !row ? [] : row[2] ? unpackLinks(row[2]) : undefined
    const applied: LinkOp[] = []
    for (const op of ops) {
      if (inline) {
        const { found, at } = findLink(inline, op)
        if (op.delta > 0 && !found) inline.splice(at, 0, { rkey: op.rkey, didId: op.didId })
        else if (op.delta < 0 && found) inline.splice(at, 1)
        else continue
      } else {
        const stmt = op.delta > 0 ? this.s.insTime : this.s.delTime
        if (stmt.run(targetId, sourceId, op.rkey, op.didId).changes === 0) continue
      }
      applied.push(op)
    }
    if (applied.length === 0) return 0
    const delta = applied.reduce((n, op) => n + op.delta, 0)
    const records = recordsBefore + delta
    if (inline && records > INLINE_MAX) {
      for (const l of inline) this.s.insTime.run(targetId, sourceId, l.rkey, l.didId)
      inline = undefined
    } else if (!inline && records > 0 && records <= INLINE_MAX) {
      inline = (this.s.pairLinks.all(targetId, sourceId) as Array<[Rkey, number]>).map(([rkey, didId]) => ({ rkey, didId }))
      this.s.dropTime.run(targetId, sourceId)
    }
    const table = accountOrderTable(records)
    const hadTable = accountOrderTable(recordsBefore)
    if (table === 'links_by_did' && hadTable !== 'links_by_did') this.s.copyToDidOrder.run(targetId, sourceId)
    else if (table !== 'links_by_did' && hadTable === 'links_by_did') this.s.dropDidOrder.run(targetId, sourceId)
    applied.sort(byDidOrder)
    let dids = didsBefore
    for (let i = 0; i < applied.length; ) {
      const didId = applied[i].didId
      let added = 0
      let removed = 0
      for (; i < applied.length && applied[i].didId === didId; i++) {
        const op = applied[i]
        if (op.delta > 0) added++
        else removed++
        if (table === 'links_by_did' && hadTable === 'links_by_did') {
          if (op.delta > 0) this.s.insDid.run(targetId, sourceId, didId, op.rkey)
          else this.s.delDid.run(targetId, sourceId, didId, op.rkey)
        }
      }
      // Counted up to added + 1: more than that means it linked before too, whatever it removed.
      const now = inline
        ? inline.reduce((n, l) => n + Number(l.didId === didId), 0)
        : (this.s.accountLinks[table].get(targetId, sourceId, didId, added + 1) as number)
      dids += Number(now > 0) - Number(now - added + removed > 0)
    }
    if (records > 0) this.s.putCount.run(targetId, sourceId, records, dids, inline ? packLinks(inline) : null)
    else this.s.dropCount.run(targetId, sourceId)
    return delta
  }
}

function countUpTo(db: Database.Database, table: LinkTable): Database.Statement {
  return db
    .prepare(`SELECT count(*) FROM (SELECT 1 FROM ${table} WHERE target_id = ? AND source_id = ? AND did_id = ? LIMIT ?)`)
    .pluck()
}
