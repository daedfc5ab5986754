import type Database from 'better-sqlite3'
import { compareRkey, type RecordOp, type Rkey } from './batch-buffer.js'
import { pushRkey, readRkey } from './rkey-coding.js'
import { sortedIndex } from './sorted-index.js'
import { pushVarint, readVarint } from './varint.js'

/**
 * The forward index packs an account's records of one collection into blocks: one `records` row
 * per run of records in rkey order, keyed by its first rkey, holding every record's packed links.
 * A row per record cost ~23 bytes per link, most of it the row's own overhead and its 9-byte key
 * (BENCHMARKS.md, "Packed forward index"). A block is closed at BLOCK_BYTES, so a change rewrites
 * at most that much and a row stays far below SQLite's overflow size (~1,000 bytes on 4 KiB pages).
 */
export const BLOCK_BYTES = 256

/**
 * The key of the block holding an account's newest records of a collection (its "tail"), whatever
 * its first rkey, which is written at the start of its entries instead. A create, nearly always
 * the account's newest record, finds its block by a point lookup on it (a range seek costs twice
 * that). The integer 0 takes no bytes in the row and sorts before every rkey (TEXT or BLOB).
 */
export const TAIL = 0 as const

/** A block's key: its first rkey, or TAIL. */
export type BlockKey = Rkey | typeof TAIL

export function isTail(key: BlockKey): key is typeof TAIL {
  return key === TAIL
}

/** A block key as a statement parameter: better-sqlite3 binds a JS number as REAL (8 bytes), a bigint as INTEGER. */
export function keyParam(key: BlockKey): Rkey | bigint {
  return isTail(key) ? 0n : key
}

export function sameKey(a: BlockKey, b: BlockKey): boolean {
  return isTail(a) || isTail(b) ? a === b : compareRkey(a, b) === 0
}

export interface RecordEntry {
  rkey: Rkey
  links: Buffer
}

export interface Block {
  first: BlockKey
  entries: Buffer
}

/**
 * Entries after a block's first: the rkey (coded against the previous one, rkey-coding.ts), then
 * the links' length and bytes.
 */
function pushEntry(out: number[], e: RecordEntry, previous: RecordEntry | undefined): void {
  if (previous) pushRkey(out, e.rkey, previous.rkey)
  pushVarint(out, e.links.length)
  for (const b of e.links) out.push(b)
}

/**
 * Packs entries (in rkey order, distinct keys) into blocks of at most BLOCK_BYTES (one entry may
 * exceed it); with `tail`, the last block is the TAIL block. Packing is greedy from the first
 * entry, so appending entries never moves the boundaries before the last block.
 */
export function packBlocks(entries: readonly RecordEntry[], tail: boolean): Block[] {
  const blocks: Block[] = []
  let out: number[] = []
  let first: RecordEntry | undefined
  let previous: RecordEntry | undefined
  for (const e of entries) {
    const mark = out.length
    pushEntry(out, e, previous)
    if (first && out.length > BLOCK_BYTES) {
      blocks.push({ first: first.rkey, entries: Buffer.from(out.slice(0, mark)) })
      out = []
      pushEntry(out, e, undefined)
      first = undefined
    }
    first ??= e
    previous = e
  }
  if (!first) return blocks
  if (!tail) blocks.push({ first: first.rkey, entries: Buffer.from(out) })
  else {
    const head: number[] = []
    pushRkey(head, first.rkey, undefined)
    blocks.push({ first: TAIL, entries: Buffer.from([...head, ...out]) })
  }
  return blocks
}

export function unpackBlock(key: BlockKey, blob: Buffer): RecordEntry[] {
  const pos: [number] = [0]
  const first = isTail(key) ? readRkey(blob, pos, undefined) : key
  const entries: RecordEntry[] = []
  let previous: RecordEntry | undefined
  while (pos[0] < blob.length) {
    const rkey = previous ? readRkey(blob, pos, previous.rkey) : first
    const length = readVarint(blob, pos)
    const e = { rkey, links: blob.subarray(pos[0], pos[0] + length) }
    pos[0] += length
    entries.push(e)
    previous = e
  }
  return entries
}

/** Where `rkey` is among entries in rkey order: its index, or the index it would be inserted at. */
export function findEntry(entries: readonly RecordEntry[], rkey: Rkey): { found: boolean; at: number } {
  return sortedIndex(entries, rkey, (e, k) => compareRkey(e.rkey, k))
}

export type BlockStatements = Record<'tail' | 'atOrBefore' | 'firstBlock' | 'lastBefore', Database.Statement>

/** Statements that find the block holding (or due to hold) a record, on either connection. */
export function blockStatements(db: Database.Database): BlockStatements {
  const where = 'FROM records WHERE did_id = ? AND collection_id = ?'
  return {
    tail: db.prepare(`SELECT entries ${where} AND first = ${TAIL}`).pluck(),
    /** The last block other than the tail starting at or before an rkey. */
    atOrBefore: db.prepare(`SELECT first, entries ${where} AND first > ${TAIL} AND first <= ? ORDER BY first DESC LIMIT 1`).raw(),
    /** The first block other than the tail. */
    firstBlock: db.prepare(`SELECT first, entries ${where} AND first > ${TAIL} ORDER BY first LIMIT 1`).raw(),
    /** The last block other than the tail (its predecessor). */
    lastBefore: db.prepare(`SELECT first, entries ${where} AND first > ${TAIL} ORDER BY first DESC LIMIT 1`).raw(),
  }
}

/** A block as stored: its key and its records. */
export interface StoredBlock {
  key: BlockKey
  entries: RecordEntry[]
}

/**
 * The block a record is in: the tail if the rkey is at or after the tail's first record, else the
 * last other block starting at or before it. With `orFirst` (where a new record belongs), an rkey
 * before every block gets the first block (the tail when it is the only one).
 */
export function findBlock(s: BlockStatements, didId: number, collectionId: number, rkey: Rkey, orFirst: boolean): StoredBlock | undefined {
  const blob = s.tail.get(didId, collectionId) as Buffer | undefined
  const tail: StoredBlock | undefined = blob && { key: TAIL, entries: unpackBlock(TAIL, blob) }
  if (tail && compareRkey(rkey, tail.entries[0].rkey) >= 0) return tail
  const row = (s.atOrBefore.get(didId, collectionId, rkey) ?? (orFirst ? s.firstBlock.get(didId, collectionId) : undefined)) as
    | [Rkey, Buffer]
    | undefined
  if (row) return { key: row[0], entries: unpackBlock(row[0], row[1]) }
  return orFirst ? tail : undefined
}

/** One record's packed links, read through its block. */
export function recordLinks(s: BlockStatements, didId: number, collectionId: number, rkey: Rkey): Buffer | undefined {
  const block = findBlock(s, didId, collectionId, rkey, false)
  if (!block) return undefined
  const { found, at } = findEntry(block.entries, rkey)
  return found ? block.entries[at].links : undefined
}

/** A block being changed: its key as stored (none: a new block), its records, its first rkey as stored. */
interface OpenBlock {
  didId: number
  collectionId: number
  stored?: BlockKey
  entries: RecordEntry[]
  first?: Rkey
}

/** The writer's side of the forward index: reads a record's links, applies record changes. */
export class RecordBlockWriter {
  private readonly find: BlockStatements
  private readonly put: Database.Statement
  private readonly del: Database.Statement

  constructor(db: Database.Database) {
    this.find = blockStatements(db)
    this.put = db.prepare('INSERT OR REPLACE INTO records (did_id, collection_id, first, entries) VALUES (?, ?, ?, ?)')
    this.del = db.prepare('DELETE FROM records WHERE did_id = ? AND collection_id = ? AND first = ?')
  }

  links(didId: number, collectionId: number, rkey: Rkey): Buffer | undefined {
    return recordLinks(this.find, didId, collectionId, rkey)
  }

  /**
   * Applies record changes (in key order; links null: delete), reading and writing each touched
   * block once: the block each change belongs in is looked up, and while it is the block already
   * open, the change is made there in memory.
   */
  apply(ops: readonly RecordOp[]): void {
    let block: OpenBlock | undefined
    for (const op of ops) {
      if (!block || !holds(block, op)) {
        const stored = findBlock(this.find, op.didId, op.collectionId, op.rkey, true)
        if (!block || !isOpen(block, op, stored?.key)) {
          if (block) this.write(block)
          const entries = stored?.entries ?? []
          block = { didId: op.didId, collectionId: op.collectionId, stored: stored?.key, entries, first: entries[0]?.rkey }
        }
      }
      const { found, at } = findEntry(block.entries, op.rkey)
      if (op.links) block.entries.splice(at, found ? 1 : 0, { rkey: op.rkey, links: op.links })
      else if (found) block.entries.splice(at, 1)
    }
    if (block) this.write(block)
  }

  /**
   * Writes a changed block back, split if it outgrew BLOCK_BYTES, under new keys if its first
   * record changed. A new group's block is its tail; an emptied tail is replaced by the block
   * before it, so a group with blocks always has a tail.
   */
  private write(b: OpenBlock): void {
    const tail = b.stored === undefined || isTail(b.stored)
    const blocks = packBlocks(b.entries, tail)
    const stored = b.stored
    if (stored !== undefined && !blocks.some((k) => sameKey(k.first, stored))) this.del.run(b.didId, b.collectionId, keyParam(stored))
    for (const k of blocks) this.put.run(b.didId, b.collectionId, keyParam(k.first), k.entries)
    if (tail && blocks.length === 0 && stored !== undefined) {
      const before = this.find.lastBefore.get(b.didId, b.collectionId) as [Rkey, Buffer] | undefined
      if (before) {
        this.del.run(b.didId, b.collectionId, before[0])
        const [last] = packBlocks(unpackBlock(before[0], before[1]), true)
        this.put.run(b.didId, b.collectionId, keyParam(last.first), last.entries)
      }
    }
  }
}

/**
 * Whether the open block surely holds a record, without a lookup: a new block (its account's
 * collection had none), or the tail and an rkey at or after the tail's first (changes come in
 * key order: a backfill's or a span's many records of one account).
 */
function holds(block: OpenBlock, op: RecordOp): boolean {
  if (block.didId !== op.didId || block.collectionId !== op.collectionId) return false
  if (block.stored === undefined) return true
  return isTail(block.stored) && block.first !== undefined && compareRkey(op.rkey, block.first) >= 0
}

/** Whether the block a record belongs in (stored under `stored`, undefined: none yet) is the open one. */
function isOpen(block: OpenBlock, op: RecordOp, stored: BlockKey | undefined): boolean {
  if (block.didId !== op.didId || block.collectionId !== op.collectionId) return false
  if (stored === undefined || block.stored === undefined) return stored === block.stored
  return sameKey(stored, block.stored)
}
