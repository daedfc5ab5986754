import type Database from 'better-sqlite3'
import { compareRkey, type LinkOp, type Rkey } from './batch-buffer.js'
import { compareLinks, type PairLink } from './inline-links.js'
import { pushRkey, readRkey, skipRkey } from './rkey-coding.js'
import { sortedIndex } from './sorted-index.js'
import { pushVarint, readVarint } from './varint.js'

/**
 * A pair of more than INLINE_MAX links keeps them in blocks: rows of up to BLOCK_BYTES of its
 * links, delta-coded, each keyed by its first link. links_by_time holds them in time order (rkey,
 * account), and a pair of more than DID_ORDER_ABOVE links also in account order (links_by_did).
 * In time order the pair's last block is keyed as its tail (TAIL_KEY), where new links go. A row
 * per link cost ~25 bytes per link in each table, most of it the row's own overhead and its key
 * (BENCHMARKS.md, "Packed link blocks").
 */
export const BLOCK_BYTES = 256

/** One of the two orders a pair's links are kept in. */
export interface LinkOrder {
  table: 'links_by_time' | 'links_by_did'
  /** Whether a pair's last block is its tail (TAIL_KEY): new links of a pair mostly go there. */
  tail: boolean
  /** The key columns, in key order. */
  columns: string
  compare(a: PairLink, b: PairLink): number
  /** A link's values for the key columns. */
  key(l: PairLink): [unknown, unknown]
  /** Appends a link coded against the block's previous one (undefined: the block's first). */
  push(out: number[], l: PairLink, previous: PairLink | undefined): void
  read(blob: Buffer, pos: [number], previous: PairLink | undefined): PairLink
}

/** Time order: the rkey coded against the previous link's, then the account id. */
export const TIME_ORDER: LinkOrder = {
  table: 'links_by_time',
  tail: true,
  columns: 'rkey, did_id',
  compare: compareLinks,
  key: (l) => [l.rkey, l.didId],
  push(out, l, previous) {
    pushRkey(out, l.rkey, previous?.rkey)
    pushVarint(out, l.didId)
  },
  read(blob, pos, previous) {
    const rkey = readRkey(blob, pos, previous?.rkey)
    return { rkey, didId: readVarint(blob, pos) }
  },
}

/** Account order: the account id's distance from the previous link's, then the rkey (coded against the same account's previous). */
export const DID_ORDER: LinkOrder = {
  table: 'links_by_did',
  tail: false,
  columns: 'did_id, rkey',
  compare: (a, b) => a.didId - b.didId || compareRkey(a.rkey, b.rkey),
  key: (l) => [l.didId, l.rkey],
  push(out, l, previous) {
    const step = l.didId - (previous?.didId ?? 0)
    pushVarint(out, step)
    pushRkey(out, l.rkey, step === 0 ? previous?.rkey : undefined)
  },
  read(blob, pos, previous) {
    const step = readVarint(blob, pos)
    const didId = (previous?.didId ?? 0) + step
    return { didId, rkey: readRkey(blob, pos, step === 0 ? previous?.rkey : undefined) }
  },
}

/** One account's links in a block of account order: its rkeys (ascending), and whether the block has links before and after them. */
export interface AccountRun {
  rkeys: Rkey[]
  before: boolean
  after: boolean
}

/** Reads an account's links out of a block of account order; the other accounts' rkeys are skipped, not decoded. */
export function readAccountRun(blob: Buffer, didId: number): AccountRun {
  const pos: [number] = [0]
  const rkeys: Rkey[] = []
  let current = 0
  let before = false
  while (pos[0] < blob.length) {
    current += readVarint(blob, pos)
    if (current > didId) return { rkeys, before, after: true }
    if (current < didId) {
      before = true
      skipRkey(blob, pos)
    } else rkeys.push(readRkey(blob, pos, rkeys[rkeys.length - 1]))
  }
  return { rkeys, before, after: false }
}

/** Before every stored rkey (TEXT sorts before BLOB), and after every one (TIDs are 8-byte BLOBs). */
export const FIRST_RKEY: Rkey = ''
export const LAST_RKEY: Rkey = Buffer.alloc(9, 0xff)

export function unpackBlock(order: LinkOrder, blob: Buffer): PairLink[] {
  const pos: [number] = [0]
  const links: PairLink[] = []
  let previous: PairLink | undefined
  while (pos[0] < blob.length) links.push((previous = order.read(blob, pos, previous)))
  return links
}

/**
 * The key of a pair's last time-order block, whatever its first link (which it holds first, as
 * every block does). A new link, nearly always the pair's newest, finds its block by a point
 * lookup on it: a lookup of the block at or before a link costs 8-16 us here, of a whole key
 * 1.3-2 (BENCHMARKS.md, "Packed link blocks"). The integers sort before every rkey (TEXT or
 * BLOB) and are bound as BigInts (better-sqlite3 binds a JS number as REAL).
 */
export const TAIL_KEY = [0n, 0n] as const

const firstLink = (order: LinkOrder, blob: Buffer): PairLink => order.read(blob, [0], undefined)

/** A block's key columns: the tail's, or its first link's. */
export function blockKey(order: LinkOrder, blob: Buffer, tail: boolean): readonly unknown[] {
  return tail ? TAIL_KEY : order.key(firstLink(order, blob))
}

/**
 * Packs links (in the order, distinct) into blocks of at most `limit` bytes (one link may exceed
 * it). Greedy from the first link: appending links never moves the boundaries before the last block.
 */
export function packBlocks(order: LinkOrder, links: readonly PairLink[], limit = BLOCK_BYTES): Buffer[] {
  const blocks: Buffer[] = []
  let out: number[] = []
  let previous: PairLink | undefined
  for (const l of links) {
    const mark = out.length
    order.push(out, l, previous)
    if (previous && out.length > limit) {
      blocks.push(Buffer.from(out.slice(0, mark)))
      out = []
      order.push(out, l, undefined)
    }
    previous = l
  }
  if (out.length) blocks.push(Buffer.from(out))
  return blocks
}

/**
 * Blocks of an outgrown block. Links added at its end (a pair's new links in time order) leave
 * full blocks behind; links added inside it are split evenly, so that the halves have room for
 * more (as a B-tree splits its pages).
 */
function splitBlocks(order: LinkOrder, links: readonly PairLink[], appendedOnly: boolean): Buffer[] {
  if (appendedOnly) return packBlocks(order, links)
  const bytes = packBlocks(order, links, Infinity)[0]?.length ?? 0
  if (bytes <= BLOCK_BYTES) return packBlocks(order, links)
  const count = Math.ceil(bytes / BLOCK_BYTES)
  return packBlocks(order, links, Math.ceil(bytes / count) + 8)
}

/** A pair's blocks in one order, on one connection: walks in either direction, and changes. */
export class LinkBlocks {
  private s: Record<'first' | 'last' | 'atOrBefore' | 'after' | 'before' | 'tail' | 'put' | 'del' | 'drop', Database.Statement>

  constructor(
    db: Database.Database,
    readonly order: LinkOrder,
  ) {
    const [k1, k2] = order.columns.split(', ')
    const pair = `SELECT entries FROM ${order.table} WHERE target_id = ? AND source_id = ?`
    // Every block but the tail: real keys sort after the integers of TAIL_KEY.
    const keyed = `${pair} AND (${order.columns}) > (0, 0)`
    const asc = `ORDER BY ${k1}, ${k2}`
    const desc = `ORDER BY ${k1} DESC, ${k2} DESC`
    this.s = {
      first: db.prepare(`${keyed} ${asc} LIMIT 1`).pluck(),
      last: db.prepare(`${keyed} ${desc} LIMIT 1`).pluck(),
      atOrBefore: db.prepare(`${keyed} AND (${order.columns}) <= (?, ?) ${desc} LIMIT 1`).pluck(),
      after: db.prepare(`${keyed} AND (${order.columns}) > (?, ?) ${asc} LIMIT 1`).pluck(),
      before: db.prepare(`${keyed} AND (${order.columns}) < (?, ?) ${desc} LIMIT 1`).pluck(),
      tail: db.prepare(`${pair} AND (${order.columns}) = (0, 0)`).pluck(),
      put: db.prepare(`INSERT OR REPLACE INTO ${order.table} (target_id, source_id, ${order.columns}, entries) VALUES (?, ?, ?, ?, ?)`),
      del: db.prepare(`DELETE FROM ${order.table} WHERE target_id = ? AND source_id = ? AND (${order.columns}) = (?, ?)`),
      drop: db.prepare(`DELETE FROM ${order.table} WHERE target_id = ? AND source_id = ?`),
    }
  }

  /** Every link of a pair, in the order. */
  all(targetId: number, sourceId: number): PairLink[] {
    return [...this.blocks(targetId, sourceId, true)].flatMap((b) => unpackBlock(this.order, b))
  }

  /**
   * A pair's links in the order (forward) or against it, starting at `from` (included or not),
   * or at the start (end) without it. Reads a block at a time.
   */
  *scan(targetId: number, sourceId: number, forward: boolean, from?: PairLink, inclusive = false): Generator<PairLink> {
    const dir = forward ? 1 : -1
    for (const blob of this.blocks(targetId, sourceId, forward, from)) {
      const links = unpackBlock(this.order, blob)
      if (!forward) links.reverse()
      for (const l of links) {
        const c = from ? dir * this.order.compare(l, from) : 1
        if (c > 0 || (c === 0 && inclusive)) yield l
      }
    }
  }

  /** The pair's blocks in the order (or against it) from the one holding `from`, each read when it is reached. */
  protected *blocks(targetId: number, sourceId: number, forward: boolean, from?: PairLink): Generator<Buffer> {
    const { order, s } = this
    const get = (stmt: Database.Statement, ...key: unknown[]) => stmt.get(targetId, sourceId, ...key) as Buffer | undefined
    const tail = order.tail ? get(s.tail) : undefined
    const inTail = tail !== undefined && (!from || order.compare(from, firstLink(order, tail)) >= 0)
    let blob: Buffer | undefined
    if (forward) {
      if (inTail && from) return yield tail
      blob = (from && get(s.atOrBefore, ...order.key(from))) || get(s.first)
    } else {
      if (inTail) yield tail
      blob = from && !inTail ? get(s.atOrBefore, ...order.key(from)) : get(s.last)
    }
    for (; blob; blob = get(forward ? s.after : s.before, ...order.key(firstLink(order, blob)))) yield blob
    if (forward && tail) yield tail
  }

  /** Whether the pair has this link. */
  has(targetId: number, sourceId: number, link: PairLink): boolean {
    const first = this.scan(targetId, sourceId, true, link, true).next()
    return !first.done && this.order.compare(first.value, link) === 0
  }

  /** Writes a pair's links (in the order; it has none in this table yet) as full blocks. */
  putAll(targetId: number, sourceId: number, links: readonly PairLink[]): void {
    this.putBlocks(targetId, sourceId, packBlocks(this.order, links), this.order.tail)
  }

  drop(targetId: number, sourceId: number): void {
    this.s.drop.run(targetId, sourceId)
  }

  /**
   * Applies one pair's link changes (in the order), reading and writing each touched block once.
   * Returns the changes that changed something: an add of a link already there, or a remove of
   * one that is not, is skipped. In account order, `runs` is given each changed account's number
   * of links after the changes where the block tells it (see countRuns).
   */
  apply(targetId: number, sourceId: number, ops: readonly LinkOp[], runs?: Map<number, number>): LinkOp[] {
    const applied: LinkOp[] = []
    let block: OpenBlock | undefined
    const close = (b: OpenBlock) => {
      if (runs) countRuns(b, runs)
      this.write(targetId, sourceId, b)
    }
    for (const op of ops) {
      const link = { rkey: op.rkey, didId: op.didId }
      if (!block || !this.holds(block, link)) {
        const found = this.blockFor(targetId, sourceId, link)
        if (!block || !this.sameStored(block.stored, found?.stored)) {
          if (block) close(block)
          const links = found ? unpackBlock(this.order, found.blob) : []
          block = { stored: found?.stored, links, appendedOnly: true, accounts: new Set() }
        }
      }
      const { found, at } = sortedIndex(block.links, link, this.order.compare)
      if (op.delta > 0 && !found) {
        block.appendedOnly &&= at === block.links.length
        block.links.splice(at, 0, link)
      } else if (op.delta < 0 && found) block.links.splice(at, 1)
      else continue
      block.accounts.add(op.didId)
      applied.push(op)
    }
    if (block) close(block)
    return applied
  }

  /**
   * The block a link is in or belongs in: the tail if the link is at or after its first, else the
   * last other block starting at or before it, else the first (the tail when it is the only one).
   */
  private blockFor(targetId: number, sourceId: number, link: PairLink): { blob: Buffer; stored: StoredKey } | undefined {
    const { order, s } = this
    const tail = order.tail ? (s.tail.get(targetId, sourceId) as Buffer | undefined) : undefined
    if (tail && order.compare(link, firstLink(order, tail)) >= 0) return { blob: tail, stored: 'tail' }
    const blob = (s.atOrBefore.get(targetId, sourceId, ...order.key(link)) ?? s.first.get(targetId, sourceId)) as Buffer | undefined
    if (blob) return { blob, stored: firstLink(order, blob) }
    return tail && { blob: tail, stored: 'tail' }
  }

  /** Whether the open block surely holds a link: it lies between the block's first and last. */
  private holds(block: OpenBlock, link: PairLink): boolean {
    const { links } = block
    return links.length > 0 && this.order.compare(link, links[0]) >= 0 && this.order.compare(link, links[links.length - 1]) <= 0
  }

  private sameStored(a: StoredKey | undefined, b: StoredKey | undefined): boolean {
    if (a === undefined || b === undefined || a === 'tail' || b === 'tail') return a === b
    return this.order.compare(a, b) === 0
  }

  /**
   * Writes a changed block back: split if it outgrew BLOCK_BYTES, under a new key if its first
   * link changed. A pair's first block in a tail order is its tail; an emptied tail is replaced
   * by the block before it, so a pair with blocks always has a tail.
   */
  private write(targetId: number, sourceId: number, b: OpenBlock): void {
    const { order, s } = this
    const tail = b.stored === 'tail' || (b.stored === undefined && order.tail)
    const blobs = b.links.length ? splitBlocks(order, b.links, b.appendedOnly) : []
    const stored = b.stored
    if (stored !== undefined && stored !== 'tail') {
      const kept = blobs.some((blob, i) => !(tail && i === blobs.length - 1) && order.compare(firstLink(order, blob), stored) === 0)
      if (!kept) s.del.run(targetId, sourceId, ...order.key(stored))
    }
    this.putBlocks(targetId, sourceId, blobs, tail)
    if (tail && blobs.length === 0 && stored === 'tail') {
      s.del.run(targetId, sourceId, ...TAIL_KEY)
      const before = s.last.get(targetId, sourceId) as Buffer | undefined
      if (before) {
        s.del.run(targetId, sourceId, ...order.key(firstLink(order, before)))
        this.putBlocks(targetId, sourceId, [before], true)
      }
    }
  }

  /** Stores blocks of a pair in order; with `tail`, the last is stored as the tail. */
  private putBlocks(targetId: number, sourceId: number, blobs: readonly Buffer[], tail: boolean): void {
    blobs.forEach((blob, i) => this.s.put.run(targetId, sourceId, ...blockKey(this.order, blob, tail && i === blobs.length - 1), blob))
  }
}

/** A pair's blocks in account order, with the walks of one account's links. */
export class AccountOrderBlocks extends LinkBlocks {
  constructor(db: Database.Database) {
    super(db, DID_ORDER)
  }

  /**
   * An account's rkeys, oldest first (forward) or newest first, from an rkey (included or not):
   * one seek to the block at or before it, the other accounts' links skipped undecoded.
   */
  *account(targetId: number, sourceId: number, didId: number, forward: boolean, from: Rkey, inclusive: boolean): Generator<Rkey> {
    const dir = forward ? 1 : -1
    for (const blob of this.blocks(targetId, sourceId, forward, { didId, rkey: from })) {
      const run = readAccountRun(blob, didId)
      if (!forward) run.rkeys.reverse()
      for (const rkey of run.rkeys) {
        const c = dir * compareRkey(rkey, from)
        if (c > 0 || (c === 0 && inclusive)) yield rkey
      }
      // The run ends in this block, or goes on in the next (previous) one.
      if (forward ? run.after : run.before) return
    }
  }
}

/** How a block is stored: its first link, or as its pair's tail. */
type StoredKey = PairLink | 'tail'

/**
 * A block being changed: its key as stored (none: a new block), its links, whether links were
 * only added at its end, and the accounts whose links changed in it.
 */
interface OpenBlock {
  stored?: StoredKey
  links: PairLink[]
  appendedOnly: boolean
  accounts: Set<number>
}

/**
 * Account order: the number of links of each account changed in a block, where its run lies
 * inside the block (neither at its first nor at its last link, which could go on in the next
 * block); UNKNOWN_RUN for the others, and for those changed in two blocks: their callers count.
 */
function countRuns(block: OpenBlock, runs: Map<number, number>): void {
  const { links } = block
  for (const didId of block.accounts) {
    const start = sortedIndex(links, { didId, rkey: FIRST_RKEY }, DID_ORDER.compare).at
    let end = start
    while (end < links.length && links[end].didId === didId) end++
    runs.set(didId, start === 0 || end === links.length || runs.has(didId) ? UNKNOWN_RUN : end - start)
  }
}

/** In `runs`: an account whose links the blocks did not tell. */
export const UNKNOWN_RUN = -1
