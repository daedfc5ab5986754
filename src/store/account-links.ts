import type Database from 'better-sqlite3'
import { compareRkey, type Rkey } from './batch-buffer.js'
import { DID_ORDER_ABOVE } from './did-order.js'
import type { PairLink } from './inline-links.js'
import { AccountOrderBlocks, FIRST_RKEY, LAST_RKEY, LinkBlocks, TIME_ORDER } from './link-blocks.js'
import { decodeRkey } from './tid.js'

/** Where a walk starts: a stored rkey, and whether a link at it is included. */
export interface WalkFrom {
  rkey: Rkey
  inclusive: boolean
}

/**
 * One account's links to a (target, source), wherever the pair keeps them: its counts row for a
 * small pair (inline-links.ts), its links_by_time blocks for a middle-sized one (read whole: at
 * most DID_ORDER_ABOVE links), its account order (links_by_did) for a large one (did-order.ts).
 */
export interface AccountLinks {
  count(didId: number): number
  /** Whether the account has a link with an rkey after `rkey` (stored form). */
  hasNewer(didId: number, rkey: Rkey): boolean
  /** Its rkeys (as clients see them), newest first or (reverse) oldest first, from a bound, at most n. */
  walk(didId: number, n: number, reverse: boolean, from?: WalkFrom): string[]
}

/** Builds the AccountLinks of pairs on one connection (statements prepared once). */
export class AccountLinksFactory {
  private readonly time: LinkBlocks
  private readonly did: AccountOrderBlocks

  constructor(db: Database.Database) {
    this.time = new LinkBlocks(db, TIME_ORDER)
    this.did = new AccountOrderBlocks(db)
  }

  /** For a pair with `records` links, and its inline links if it keeps them in its counts row. */
  of(targetId: number, sourceId: number, records: number, inline: PairLink[] | undefined): AccountLinks {
    if (inline) return inlineAccountLinks(inline)
    if (records <= DID_ORDER_ABOVE) return inlineAccountLinks(this.time.all(targetId, sourceId))
    return didOrderAccountLinks(this.did, targetId, sourceId)
  }
}

/** Accounts' runs up to this many links are kept by count() for the walks that follow it. */
const RUN_KEPT = 1_000

/**
 * A large pair's account order. count() reads an account's whole run and keeps it (when short),
 * so that the walk a filtered page does next costs no second seek.
 */
function didOrderAccountLinks(blocks: AccountOrderBlocks, targetId: number, sourceId: number): AccountLinks {
  const kept = new Map<number, AccountLinks>()
  const run = (didId: number, forward: boolean, rkey: Rkey, inclusive: boolean) =>
    blocks.account(targetId, sourceId, didId, forward, rkey, inclusive)
  return {
    count(didId) {
      const links: PairLink[] = []
      let n = 0
      for (const rkey of run(didId, true, FIRST_RKEY, true)) if (++n <= RUN_KEPT) links.push({ rkey, didId })
      if (n <= RUN_KEPT) kept.set(didId, inlineAccountLinks(links))
      return n
    },
    hasNewer: (didId, rkey) => kept.get(didId)?.hasNewer(didId, rkey) ?? !run(didId, true, rkey, false).next().done,
    walk(didId, n, reverse, from) {
      const known = kept.get(didId)
      if (known) return known.walk(didId, n, reverse, from)
      const out: string[] = []
      if (n <= 0) return out
      const start = from?.rkey ?? (reverse ? FIRST_RKEY : LAST_RKEY)
      for (const rkey of run(didId, reverse, start, from?.inclusive ?? true)) {
        out.push(decodeRkey(rkey))
        if (out.length >= n) break
      }
      return out
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
