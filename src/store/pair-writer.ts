import type Database from 'better-sqlite3'
import { byDidOrder, type LinkOp } from './batch-buffer.js'
import { DID_ORDER_ABOVE } from './did-order.js'
import { findLink, INLINE_MAX, packLinks, unpackLinks } from './inline-links.js'
import { AccountOrderBlocks, DID_ORDER, FIRST_RKEY, LinkBlocks, TIME_ORDER, UNKNOWN_RUN } from './link-blocks.js'

/**
 * The writer's side of the links of each (target, source) pair: where they are kept by the
 * pair's size (inline-links.ts, did-order.ts), and its counts (records, distinct accounts),
 * maintained on every change so reads never count rows.
 */
export class PairWriter {
  private readonly time: LinkBlocks
  private readonly did: AccountOrderBlocks
  private s

  constructor(db: Database.Database) {
    this.time = new LinkBlocks(db, TIME_ORDER)
    this.did = new AccountOrderBlocks(db)
    this.s = {
      getCount: db.prepare('SELECT records, dids, links FROM link_counts WHERE target_id = ? AND source_id = ?').raw(),
      putCount: db.prepare(
        'INSERT OR REPLACE INTO link_counts (target_id, source_id, records, dids, links) VALUES (?, ?, ?, ?, ?)',
      ),
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
   * blocks in links_by_time, link-blocks.ts), its account order (did-order.ts), then its counts.
   * Whether an account links the pair after its changes (counted where the pair's links now are),
   * less what it added, plus what it removed, gives whether it linked before: the
   * distinct-account change.
   */
  private applyPair(targetId: number, sourceId: number, ops: LinkOp[]): number {
    const row = this.s.getCount.get(targetId, sourceId) as [records: number, dids: number, links: Buffer | null] | undefined
    const [recordsBefore, didsBefore] = row ?? [0, 0]
    // A new pair starts inline; a NULL `links` means blocks.
    let inline = !row ? [] : row[2] ? unpackLinks(row[2]) : undefined
    let applied: LinkOp[]
    if (inline) {
      const links = inline
      applied = ops.filter((op) => {
        const { found, at } = findLink(links, op)
        if (op.delta > 0 && !found) links.splice(at, 0, { rkey: op.rkey, didId: op.didId })
        else if (op.delta < 0 && found) links.splice(at, 1)
        else return false
        return true
      })
    } else applied = this.time.apply(targetId, sourceId, ops)
    if (applied.length === 0) return 0
    const delta = applied.reduce((n, op) => n + op.delta, 0)
    const records = recordsBefore + delta
    if (inline && records > INLINE_MAX) {
      this.time.putAll(targetId, sourceId, inline)
      inline = undefined
    } else if (!inline && records > 0 && records <= INLINE_MAX) {
      inline = this.time.all(targetId, sourceId)
      this.time.drop(targetId, sourceId)
    }
    const byDid = records > DID_ORDER_ABOVE
    const hadByDid = recordsBefore > DID_ORDER_ABOVE
    applied.sort(byDidOrder)
    // Accounts' links after the changes, where the account-order blocks changed tell them.
    const runs = new Map<number, number>()
    if (byDid && !hadByDid) this.did.putAll(targetId, sourceId, this.time.all(targetId, sourceId).sort(DID_ORDER.compare))
    else if (!byDid && hadByDid) this.did.drop(targetId, sourceId)
    else if (byDid) this.did.apply(targetId, sourceId, applied, runs)
    // An account's links now: from the pair's few links, or its account order.
    const few = inline ?? (byDid ? undefined : this.time.all(targetId, sourceId))
    let dids = didsBefore
    for (let i = 0; i < applied.length; ) {
      const didId = applied[i].didId
      let added = 0
      let removed = 0
      for (; i < applied.length && applied[i].didId === didId; i++) {
        if (applied[i].delta > 0) added++
        else removed++
      }
      // Counted up to added + 1: more than that means it linked before too, whatever it removed.
      const run = runs.get(didId) ?? UNKNOWN_RUN
      const now = few
        ? few.reduce((n, l) => n + Number(l.didId === didId), 0)
        : run !== UNKNOWN_RUN
          ? run
          : this.accountLinks(targetId, sourceId, didId, added + 1)
      dids += Number(now > 0) - Number(now - added + removed > 0)
    }
    if (records > 0) this.s.putCount.run(targetId, sourceId, records, dids, inline ? packLinks(inline) : null)
    else this.s.dropCount.run(targetId, sourceId)
    return delta
  }

  /** An account's links to a pair in account order, counted up to a limit. */
  private accountLinks(targetId: number, sourceId: number, didId: number, limit: number): number {
    let n = 0
    for (const _ of this.did.account(targetId, sourceId, didId, true, FIRST_RKEY, true)) if (++n >= limit) break
    return n
  }
}
