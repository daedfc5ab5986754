import type Database from 'better-sqlite3'
import { compareRkey, type Rkey } from './batch-buffer.js'
import { accountOrderTable, type LinkTable } from './did-order.js'
import type { PairLink } from './inline-links.js'
import { decodeRkey, RKEY_AS_TEXT, rkeyFromText } from './tid.js'

/** Where a walk starts: a stored rkey, and whether a link at it is included. */
export interface WalkFrom {
  rkey: Rkey
  inclusive: boolean
}

/**
 * One account's links to a (target, source), wherever the pair keeps them: its counts row for a
 * small pair (inline-links.ts), links_by_time for a middle-sized one, its account order
 * (links_by_did) for a large one (did-order.ts).
 */
export interface AccountLinks {
  count(didId: number): number
  /** Whether the account has a link with an rkey after `rkey` (stored form). */
  hasNewer(didId: number, rkey: Rkey): boolean
  /** Its rkeys (as clients see them), newest first or (reverse) oldest first, from a bound, at most n. */
  walk(didId: number, n: number, reverse: boolean, from?: WalkFrom): string[]
}

type Statements = Record<
  'count' | 'hasNewer' | 'newest' | 'oldest' | 'newestBefore' | 'newestFrom' | 'oldestAfter' | 'oldestFrom',
  Database.Statement
>

function statements(db: Database.Database, table: LinkTable): Statements {
  const account = `FROM ${table} WHERE target_id = ? AND source_id = ? AND did_id = ?`
  const walk = (cond: string, order: string) =>
    db.prepare(`SELECT ${RKEY_AS_TEXT} AS k ${account}${cond} ORDER BY rkey ${order} LIMIT ?`).pluck()
  return {
    count: db.prepare(`SELECT count(*) ${account}`).pluck(),
    hasNewer: db.prepare(`SELECT 1 ${account} AND rkey > ? LIMIT 1`).pluck(),
    newest: walk('', 'DESC'),
    oldest: walk('', 'ASC'),
    newestBefore: walk(' AND rkey < ?', 'DESC'),
    newestFrom: walk(' AND rkey <= ?', 'DESC'),
    oldestAfter: walk(' AND rkey > ?', 'ASC'),
    oldestFrom: walk(' AND rkey >= ?', 'ASC'),
  }
}

/** Builds the AccountLinks of pairs on one connection (statements prepared once). */
export class AccountLinksFactory {
  private readonly tables: Record<LinkTable, Statements>

  constructor(db: Database.Database) {
    this.tables = { links_by_did: statements(db, 'links_by_did'), links_by_time: statements(db, 'links_by_time') }
  }

  /** For a pair with `records` links, and its inline links if it keeps them in its counts row. */
  of(targetId: number, sourceId: number, records: number, inline: PairLink[] | undefined): AccountLinks {
    return inline ? inlineAccountLinks(inline) : tableAccountLinks(this.tables[accountOrderTable(records)], targetId, sourceId)
  }
}

function tableAccountLinks(s: Statements, targetId: number, sourceId: number): AccountLinks {
  return {
    count: (didId) => s.count.get(targetId, sourceId, didId) as number,
    hasNewer: (didId, rkey) => s.hasNewer.get(targetId, sourceId, didId, rkey) !== undefined,
    walk(didId, n, reverse, from) {
      if (!from) return ((reverse ? s.oldest : s.newest).all(targetId, sourceId, didId, n) as string[]).map(rkeyFromText)
      const stmt = reverse ? (from.inclusive ? s.oldestFrom : s.oldestAfter) : from.inclusive ? s.newestFrom : s.newestBefore
      return (stmt.all(targetId, sourceId, didId, from.rkey, n) as string[]).map(rkeyFromText)
    },
  }
}

function inlineAccountLinks(links: readonly PairLink[]): AccountLinks {
  const of = (didId: number) => links.filter((l) => l.didId === didId)
  return {
    count: (didId) => of(didId).length,
    hasNewer: (didId, rkey) => of(didId).some((l) => compareRkey(l.rkey, rkey) > 0),
    walk(didId, n, reverse, from) {
      const dir = reverse ? 1 : -1
      const past = (l: PairLink) => {
        if (!from) return true
        const c = dir * compareRkey(l.rkey, from.rkey)
        return c > 0 || (c === 0 && from.inclusive)
      }
      const mine = of(didId).filter(past)
      if (!reverse) mine.reverse()
      return mine.slice(0, n).map((l) => decodeRkey(l.rkey))
    },
  }
}
