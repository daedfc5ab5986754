import type Database from 'better-sqlite3'
import { compareRkey, type Rkey } from './batch-buffer.js'
import { pushVarint, readVarint } from './varint.js'

/**
 * The forward index packs an account's records of one collection into blocks: one `records` row
 * per run of records in rkey order, keyed by its first rkey, holding every record's packed links.
 * A row per record cost ~23 bytes per link, most of it the row's own overhead and its 9-byte key
 * (BENCHMARKS.md, "Packed forward index"). A block is closed at BLOCK_BYTES, so a change rewrites
 * at most that much and a row stays far below SQLite's overflow size (~1,000 bytes on 4 KiB pages).
 */
export const BLOCK_BYTES = 256

export interface RecordEntry {
  rkey: Rkey
  links: Buffer
}

export interface Block {
  first: Rkey
  entries: Buffer
}

const TWO_21 = 2 ** 21

/**
 * A TID's 64 bits as two float-safe numbers: the top 53 (the timestamp, to 2 us) and the low 11
 * (the rest of the timestamp and the clock id). TIDs are 63-bit by the spec, but the canonical
 * form's first character allows the 64th bit, and such keys are stored like any other TID.
 */
function tidParts(rkey: Buffer): [high: number, low: number] {
  const lo = rkey.readUInt32BE(4)
  return [rkey.readUInt32BE(0) * TWO_21 + Math.floor(lo / 2048), lo % 2048]
}

function tidFromParts(high: number, low: number): Buffer {
  const buf = Buffer.allocUnsafe(8)
  buf.writeUInt32BE(Math.floor(high / TWO_21), 0)
  buf.writeUInt32BE((high % TWO_21) * 2048 + low, 4)
  return buf
}

/**
 * Entries after a block's first: the rkey, then the links' length and bytes. A TID (the usual
 * key) is its low 11 bits with a 0 bit, then the distance of its top 53 from the previous TID's
 * (keys ascend, so it is never negative); any other key is its length with a 1 bit, then its bytes.
 */
function pushEntry(out: number[], e: RecordEntry, previous: RecordEntry | undefined): void {
  if (previous) {
    if (typeof e.rkey === 'string') {
      const bytes = Buffer.from(e.rkey, 'utf8')
      pushVarint(out, bytes.length * 2 + 1)
      for (const b of bytes) out.push(b)
    } else {
      const [high, low] = tidParts(e.rkey)
      const base = typeof previous.rkey === 'string' ? 0 : tidParts(previous.rkey)[0]
      pushVarint(out, low * 2)
      pushVarint(out, high - base)
    }
  }
  pushVarint(out, e.links.length)
  for (const b of e.links) out.push(b)
}

/** Packs entries (in rkey order, distinct keys) into blocks of at most BLOCK_BYTES (one entry may exceed it). */
export function packBlocks(entries: readonly RecordEntry[]): Block[] {
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
  if (first) blocks.push({ first: first.rkey, entries: Buffer.from(out) })
  return blocks
}

export function unpackBlock(first: Rkey, blob: Buffer): RecordEntry[] {
  const pos: [number] = [0]
  const entries: RecordEntry[] = []
  let previous: RecordEntry | undefined
  while (pos[0] < blob.length) {
    let rkey = first
    if (previous) {
      const tag = readVarint(blob, pos)
      if (tag % 2 === 1) {
        const end = pos[0] + (tag - 1) / 2
        rkey = blob.toString('utf8', pos[0], end)
        pos[0] = end
      } else {
        const base = typeof previous.rkey === 'string' ? 0 : tidParts(previous.rkey)[0]
        rkey = tidFromParts(base + readVarint(blob, pos), tag / 2)
      }
    }
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
  let lo = 0
  let hi = entries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const c = compareRkey(entries[mid].rkey, rkey)
    if (c === 0) return { found: true, at: mid }
    if (c < 0) lo = mid + 1
    else hi = mid
  }
  return { found: false, at: lo }
}

export type BlockStatements = Record<'atOrBefore' | 'firstBlock' | 'nextFirst', Database.Statement>

/** Statements that find the block holding (or due to hold) a record, on either connection. */
export function blockStatements(db: Database.Database): BlockStatements {
  const where = 'FROM records WHERE did_id = ? AND collection_id = ?'
  return {
    /** The last block starting at or before an rkey. */
    atOrBefore: db.prepare(`SELECT first, entries ${where} AND first <= ? ORDER BY first DESC LIMIT 1`).raw(),
    /** The first block of an account's collection (for an rkey before every block). */
    firstBlock: db.prepare(`SELECT first, entries ${where} ORDER BY first LIMIT 1`).raw(),
    /** Where the block after one starts. */
    nextFirst: db.prepare(`SELECT first ${where} AND first > ? ORDER BY first LIMIT 1`).pluck(),
  }
}

/** One record's packed links, read through its block. */
export function recordLinks(s: BlockStatements, didId: number, collectionId: number, rkey: Rkey): Buffer | undefined {
  const row = s.atOrBefore.get(didId, collectionId, rkey) as [Rkey, Buffer] | undefined
  if (!row) return undefined
  const entries = unpackBlock(row[0], row[1])
  const { found, at } = findEntry(entries, rkey)
  return found ? entries[at].links : undefined
}
