// Measures the size of the packed layout proposed for the size target (BENCHMARKS.md, "What would
// meet the size and ingest targets") on a real index: the three per-link structures of a database
// are written again, each as rows of up to --block entries per key prefix, delta-encoded, into a
// new SQLite file, and both layouts are measured with dbstat. Nothing else of the store changes.
// The store has since adopted the account order for large subjects (did-order.ts) and blocks for
// the forward index (record-blocks.ts), and keeps small subjects' links in their counts rows
// (inline-links.ts); what is left to project is packing the links_by_time rows of the others.
//   node dist/bench/packed-size.js --db PATH [--block 64]
// (a database from `npm run bench -- --keep`, or a service's own, read only).
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { unpackBlock } from '../src/store/record-blocks.js'
import { pushVarint } from '../src/store/varint.js'

type Rkey = Buffer | string

/** One block being filled: its key prefix, first row and encoded entries. */
interface Block {
  first: unknown[]
  entries: number[]
  count: number
  previous?: Rkey
}

const tidValue = (rkey: Buffer): bigint => rkey.readBigUInt64BE(0)

function pushBigVarint(out: number[], n: bigint): void {
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80)
    n >>= 7n
  }
  out.push(Number(n))
}

/**
 * An entry: `tagged` (a DID id or distance, or a length) as a varint with one more bit saying how
 * the rkey follows: TIDs (most keys) as the varint of their distance from the previous TID of the
 * block (the first entry's from the block's key: 0), other keys as length + bytes.
 */
function pushRkey(out: number[], rkey: Rkey, previous: Rkey | undefined, tagged: number): void {
  if (typeof rkey === 'string') {
    pushVarint(out, tagged * 2 + 1)
    const bytes = Buffer.from(rkey, 'utf8')
    pushVarint(out, bytes.length)
    out.push(...bytes)
    return
  }
  pushVarint(out, tagged * 2)
  const base = previous !== undefined && typeof previous !== 'string' ? tidValue(previous) : 0n
  const value = tidValue(rkey)
  // Keys are walked in order within one account or target, so the distance is positive; when the
  // order restarts (a new account in the did order), the full value is written.
  pushBigVarint(out, value >= base ? value - base : value)
}

/**
 * Streams rows in key order into blocks of at most `size` entries per (2-column) prefix, and
 * inserts them; with `multiBlockOnly`, only the blocks of prefixes that need more than one.
 * Returns the number of blocks inserted.
 */
function packTable(
  rows: Iterable<unknown[]>,
  size: number,
  encode: (row: unknown[], block: Block) => void,
  insert: (block: Block) => void,
  multiBlockOnly = false,
): number {
  let group: Block[] = []
  let blocks = 0
  const endGroup = () => {
    if (!multiBlockOnly || group.length > 1) {
      for (const b of group) insert(b)
      blocks += group.length
    }
    group = []
  }
  for (const row of rows) {
    let block: Block | undefined = group[group.length - 1]
    if (block && (row[0] !== block.first[0] || row[1] !== block.first[1])) {
      endGroup()
      block = undefined
    }
    if (!block || block.count === size) {
      block = { first: row, entries: [], count: 0 }
      group.push(block)
    }
    encode(row, block)
    block.count++
  }
  endGroup()
  return blocks
}

/** DID order: (did distance, rkey) per link; the rkey is a distance within the same account. */
function didOrderEncoder(): (row: unknown[], b: Block) => void {
  let lastDid = 0
  return ([, , did, rkey], b) => {
    const distance = b.count === 0 ? 0 : (did as number) - lastDid
    const previous = b.count === 0 ? (rkey as Rkey) : distance === 0 ? b.previous : undefined
    pushRkey(b.entries, rkey as Rkey, previous, distance)
    lastDid = did as number
    b.previous = rkey as Rkey
  }
}

export interface PackedSize {
  links: number
  /** Bytes of the whole database as stored, and with the three structures packed. */
  today: number
  packed: number
  /** Packed, and the DID order kept only for subjects of more than one block (see links_by_did_large). */
  packedLargeDidOrder: number
  structures: Array<{ table: string; today: number; packed: number; blocks: number }>
}

const SCHEMA = `
  CREATE TABLE links_by_time (target_id INTEGER, source_id INTEGER, first ANY, first_did INTEGER, entries BLOB,
    PRIMARY KEY (target_id, source_id, first, first_did)) STRICT, WITHOUT ROWID;
  CREATE TABLE links_by_did (target_id INTEGER, source_id INTEGER, first_did INTEGER, first ANY, entries BLOB,
    PRIMARY KEY (target_id, source_id, first_did, first)) STRICT, WITHOUT ROWID;
  -- The DID order of subjects whose links fill more than one block: the DID filter of a smaller
  -- subject can decode its one block of the time order instead.
  CREATE TABLE links_by_did_large (target_id INTEGER, source_id INTEGER, first_did INTEGER, first ANY, entries BLOB,
    PRIMARY KEY (target_id, source_id, first_did, first)) STRICT, WITHOUT ROWID;
  CREATE TABLE records (did_id INTEGER, collection_id INTEGER, first ANY, entries BLOB,
    PRIMARY KEY (did_id, collection_id, first)) STRICT, WITHOUT ROWID;`

const DID_ORDER = 'SELECT target_id, source_id, did_id, rkey FROM links_by_did'

/** The forward index a record at a time (the store keeps it in blocks of its own, record-blocks.ts). */
function* recordRows(db: Database.Database): Iterable<unknown[]> {
  const blocks = db.prepare('SELECT did_id, collection_id, first, entries FROM records').raw().iterate() as Iterable<[number, number, Rkey, Buffer]>
  for (const [didId, collectionId, first, entries] of blocks) {
    for (const e of unpackBlock(first, entries)) yield [didId, collectionId, e.rkey, e.links]
  }
}

const blocksBytes = (structures: PackedSize['structures'], table: string) => structures.find((s) => s.table === table)!.packed

const pageBytes = (db: Database.Database) =>
  new Map(db.prepare('SELECT name, pgsize FROM dbstat WHERE aggregate = TRUE').raw().all() as Array<[string, number]>)

/** Packs the three per-link structures of the index at `dbPath` (read only) and measures both layouts. */
export function packedSize(dbPath: string, size: number): PackedSize {
  const source = new Database(dbPath, { readonly: true, fileMustExist: true })
  const dir = mkdtempSync(join(tmpdir(), 'packed-size-'))
  const out = new Database(join(dir, 'packed.sqlite'))
  try {
    out.pragma('journal_mode = OFF')
    out.pragma('synchronous = OFF')
    out.exec(SCHEMA)
    const rows = (sql: string) => source.prepare(sql).raw().iterate() as Iterable<unknown[]>
    // Each block is keyed by its first row (whose key columns make it unique).
    const insert = (table: string, keyColumns: number) => {
      const stmt = out.prepare(`INSERT INTO ${table} VALUES (${'?, '.repeat(keyColumns)}?)`)
      return (b: Block) => stmt.run(...b.first.slice(0, keyColumns), Buffer.from(b.entries))
    }
    const blocks = out.transaction(() => ({
      // Time order: (did id, rkey distance) per link.
      links_by_time: packTable(
        rows('SELECT target_id, source_id, rkey, did_id FROM links_by_time'),
        size,
        ([, , rkey, did], b) => {
          pushRkey(b.entries, rkey as Rkey, b.count === 0 ? (rkey as Rkey) : b.previous, did as number)
          b.previous = rkey as Rkey
        },
        insert('links_by_time', 4),
      ),
      links_by_did: packTable(rows(DID_ORDER), size, didOrderEncoder(), insert('links_by_did', 4)),
      links_by_did_large: packTable(rows(DID_ORDER), size, didOrderEncoder(), insert('links_by_did_large', 4), true),
      // Forward index: (length, rkey distance, packed links) per record.
      records: packTable(
        recordRows(source),
        size,
        ([, , rkey, packed], b) => {
          pushRkey(b.entries, rkey as Rkey, b.count === 0 ? (rkey as Rkey) : b.previous, (packed as Buffer).length)
          b.entries.push(...(packed as Buffer))
          b.previous = rkey as Rkey
        },
        insert('records', 3),
      ),
    }))()
    const before = pageBytes(source)
    const after = pageBytes(out)
    const structures = Object.entries(blocks).map(([table, n]) => ({
      table,
      today: before.get(table) ?? 0,
      packed: after.get(table)!,
      blocks: n,
    }))
    const today = [...before.values()].reduce((a, b) => a + b, 0)
    const packed = structures.reduce((sum, s) => sum - s.today + (s.table === 'links_by_did_large' ? 0 : s.packed), today)
    return {
      links: source.prepare("SELECT value FROM meta WHERE key = 'links'").pluck().get() as number,
      today,
      packed,
      packedLargeDidOrder: packed - blocksBytes(structures, 'links_by_did') + blocksBytes(structures, 'links_by_did_large'),
      structures,
    }
  } finally {
    out.close()
    source.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

function main(): void {
  const { values } = parseArgs({ options: { db: { type: 'string' }, block: { type: 'string', default: '64' } } })
  if (!values.db) throw new Error('usage: node dist/bench/packed-size.js --db PATH [--block 64]')
  const size = Number(values.block)
  const r = packedSize(values.db, size)
  const perLink = (bytes: number) => (bytes / r.links).toFixed(1)
  console.log(`${r.links.toLocaleString('en-US')} links, blocks of up to ${size}; bytes per link`)
  const row = (name: string, today: string, packed: string, blocks = '') =>
    console.log(name.padEnd(54) + today.padStart(14) + packed.padStart(10) + blocks.padStart(14))
  row('structure', 'stored today', 'packed', 'blocks')
  for (const s of r.structures) {
    const name = s.table === 'links_by_did_large' ? 'links_by_did, subjects of more than one block only' : s.table
    row(name, s.today ? perLink(s.today) : '', perLink(s.packed), s.blocks.toLocaleString('en-US'))
  }
  row('whole database', perLink(r.today), perLink(r.packed))
  row('whole database, DID order for large subjects only', perLink(r.today), perLink(r.packedLargeDidOrder))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main()
