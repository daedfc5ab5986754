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
 * A row per link cost ~25 bytes per link in each table, most of it the row's own overhead and its
 * key (BENCHMARKS.md, "Packed link blocks").
 */
export const BLOCK_BYTES = 256

/** One of the two orders a pair's links are kept in. */
export interface LinkOrder {
  table: 'links_by_time' | 'links_by_did'
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
  protected s: Record<'first' | 'last' | 'atOrBefore' | 'after' | 'before' | 'all' | 'put' | 'del' | 'drop', Database.Statement>

  constructor(
    db: Database.Database,
    readonly order: LinkOrder,
  ) {
    const [k1, k2] = order.columns.split(', ')
    const from = `SELECT entries FROM ${order.table} WHERE target_id = ? AND source_id = ?`
    const asc = `ORDER BY ${k1}, ${k2}`
    const desc = `ORDER BY ${k1} DESC, ${k2} DESC`
    this.s = {
      first: db.prepare(`${from} ${asc} LIMIT 1`).pluck(),
      last: db.prepare(`${from} ${desc} LIMIT 1`).pluck(),
      atOrBefore: db.prepare(`${from} AND (${order.columns}) <= (?, ?) ${desc} LIMIT 1`).pluck(),
      after: db.prepare(`${from} AND (${order.columns}) > (?, ?) ${asc} LIMIT 1`).pluck(),
      before: db.prepare(`${from} AND (${order.columns}) < (?, ?) ${desc} LIMIT 1`).pluck(),
      all: db.prepare(`${from} ${asc}`).pluck(),
      put: db.prepare(`INSERT OR REPLACE INTO ${order.table} (target_id, source_id, ${order.columns}, entries) VALUES (?, ?, ?, ?, ?)`),
      del: db.prepare(`DELETE FROM ${order.table} WHERE target_id = ? AND source_id = ? AND (${order.columns}) = (?, ?)`),
      drop: db.prepare(`DELETE FROM ${order.table} WHERE target_id = ? AND source_id = ?`),
    }
  }

  /** Every link of a pair, in the order. */
  all(targetId: number, sourceId: number): PairLink[] {
    return (this.s.all.all(targetId, sourceId) as Buffer[]).flatMap((b) => unpackBlock(this.order, b))
  }

  /**
   * A pair's links in the order (forward) or against it, starting at `from` (included or not),
   * or at the start (end) without it. Reads a block at a time.
   */
  *scan(targetId: number, sourceId: number, forward: boolean, from?: PairLink, inclusive = false): Generator<PairLink> {
    const { order, s } = this
    let blob = (from ? s.atOrBefore.get(targetId, sourceId, ...order.key(from)) : undefined) as Buffer | undefined
    if (!blob && (forward || !from)) blob = (forward ? s.first : s.last).get(targetId, sourceId) as Buffer | undefined
    while (blob) {
      const links = unpackBlock(order, blob)
      const key = links[0]
      if (!forward) links.reverse()
      for (const l of links) {
        const c = from ? order.compare(l, from) * (forward ? 1 : -1) : 1
        if (c > 0 || (c === 0 && inclusive)) yield l
      }
      blob = (forward ? s.after : s.before).get(targetId, sourceId, ...order.key(key)) as Buffer | undefined
    }
  }

  /** Whether the pair has this link. */
  has(targetId: number, sourceId: number, link: PairLink): boolean {
    const first = this.scan(targetId, sourceId, true, link, true).next()
    return !first.done && this.order.compare(first.value, link) === 0
  }

  /** Writes a pair's links (in the order; it has none in this table yet) as full blocks. */
  putAll(targetId: number, sourceId: number, links: readonly PairLink[]): void {
    for (const b of packBlocks(this.order, links)) this.putBlock(targetId, sourceId, b)
  }

  drop(targetId: number, sourceId: number): void {
    this.s.drop.run(targetId, sourceId)
  }

  /**
   * Applies one pair's link changes (in the order), reading and writing each touched block once.
   * Returns the changes that changed something: an add of a link already there, or a remove of
   * one that is not, is skipped.
   */
  apply(targetId: number, sourceId: number, ops: readonly LinkOp[]): LinkOp[] {
    const applied: LinkOp[] = []
    let block: OpenBlock | undefined
    for (const op of ops) {
      const link = { rkey: op.rkey, didId: op.didId }
      if (!block || !this.holds(block, link)) {
        const blob = this.blockFor(targetId, sourceId, link)
        const stored = blob && this.order.read(blob, [0], undefined)
        if (!block || !sameStored(this.order, block.stored, stored)) {
          if (block) this.write(targetId, sourceId, block)
          block = { stored, links: blob ? unpackBlock(this.order, blob) : [], appendedOnly: true }
        }
      }
      const { found, at } = sortedIndex(block.links, link, this.order.compare)
      if (op.delta > 0 && !found) {
        block.appendedOnly &&= at === block.links.length
        block.links.splice(at, 0, link)
      } else if (op.delta < 0 && found) block.links.splice(at, 1)
      else continue
      applied.push(op)
    }
    if (block) this.write(targetId, sourceId, block)
    return applied
  }

  /** The block a link is in or belongs in: the last starting at or before it, else the first. */
  private blockFor(targetId: number, sourceId: number, link: PairLink): Buffer | undefined {
    return (this.s.atOrBefore.get(targetId, sourceId, ...this.order.key(link)) ?? this.s.first.get(targetId, sourceId)) as
      | Buffer
      | undefined
  }

  /** Whether the open block surely holds a link: it lies between the block's first and last. */
  private holds(block: OpenBlock, link: PairLink): boolean {
    const { links } = block
    return links.length > 0 && this.order.compare(link, links[0]) >= 0 && this.order.compare(link, links[links.length - 1]) <= 0
  }

  /** Writes a changed block back: split if it outgrew BLOCK_BYTES, under a new key if its first link changed. */
  private write(targetId: number, sourceId: number, b: OpenBlock): void {
    const blocks = b.links.length ? splitBlocks(this.order, b.links, b.appendedOnly) : []
    const keys = blocks.map((blob) => this.order.read(blob, [0], undefined))
    if (b.stored && !keys.some((k) => this.order.compare(k, b.stored!) === 0)) {
      this.s.del.run(targetId, sourceId, ...this.order.key(b.stored))
    }
    blocks.forEach((blob) => this.putBlock(targetId, sourceId, blob))
  }

  private putBlock(targetId: number, sourceId: number, blob: Buffer): void {
    this.s.put.run(targetId, sourceId, ...this.order.key(this.order.read(blob, [0], undefined)), blob)
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
    const { s } = this
    let blob = (s.atOrBefore.get(targetId, sourceId, didId, from) ?? (forward ? s.first.get(targetId, sourceId) : undefined)) as
      | Buffer
      | undefined
    const dir = forward ? 1 : -1
    while (blob) {
      const run = readAccountRun(blob, didId)
      if (!forward) run.rkeys.reverse()
      for (const rkey of run.rkeys) {
        const c = dir * compareRkey(rkey, from)
        if (c > 0 || (c === 0 && inclusive)) yield rkey
      }
      // The run ends in this block, or goes on in the next (previous) one.
      if (forward ? run.after : run.before) return
      const key = DID_ORDER.read(blob, [0], undefined)
      blob = (forward ? s.after : s.before).get(targetId, sourceId, ...DID_ORDER.key(key)) as Buffer | undefined
    }
  }
}

/** A block being changed: its key as stored (none: a new block), its links, and whether links were only added at its end. */
interface OpenBlock {
  stored?: PairLink
  links: PairLink[]
  appendedOnly: boolean
}

function sameStored(order: LinkOrder, a: PairLink | undefined, b: PairLink | undefined): boolean {
  return a === undefined || b === undefined ? a === b : order.compare(a, b) === 0
}
