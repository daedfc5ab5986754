// Measures the size of the packed layout proposed for the size target (BENCHMARKS.md, "What would
// meet the size and ingest targets") on a real index: the three per-link structures of a database
// are written again, each as rows of up to --block entries per key prefix, delta-encoded, into a
// new SQLite file, and both layouts are measured with dbstat. Nothing else of the store changes.
//   node dist/bench/packed-size.js --db PATH [--block 64]
// (a database from `npm run bench -- --keep`, or a service's own, read only).
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
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
 * inserts them. Returns the number of blocks.
 */
function packTable(
  rows: Iterable<unknown[]>,
  size: number,
  encode: (row: unknown[], block: Block) => void,
  insert: (block: Block) => void,
): number {
  let block: Block | undefined
  let blocks = 0
  for (const row of rows) {
    if (!block || block.count === size || row[0] !== block.first[0] || row[1] !== block.first[1]) {
      if (block) insert(block)
      block = { first: row, entries: [], count: 0 }
      blocks++
    }
    encode(row, block)
    block.count++
  }
  if (block) insert(block)
  return blocks
}

export interface PackedSize {
  links: number
  /** Bytes of the whole database as stored, and with the three structures packed. */
  today: number
  packed: number
  structures: Array<{ table: string; today: number; packed: number; blocks: number }>
}

const SCHEMA = `
  CREATE TABLE links_by_time (target_id INTEGER, source_id INTEGER, first ANY, first_did INTEGER, entries BLOB,
    PRIMARY KEY (target_id, source_id, first, first_did)) STRICT, WITHOUT ROWID;
  CREATE TABLE links_by_did (target_id INTEGER, source_id INTEGER, first_did INTEGER, first ANY, entries BLOB,
    PRIMARY KEY (target_id, source_id, first_did, first)) STRICT, WITHOUT ROWID;
  CREATE TABLE records (did_id INTEGER, collection_id INTEGER, first ANY, entries BLOB,
    PRIMARY KEY (did_id, collection_id, first)) STRICT, WITHOUT ROWID;`

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
    let lastDid = 0
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
      // DID order: (did distance, rkey) per link; the rkey is a distance within the same account.
      links_by_did: packTable(
        rows('SELECT target_id, source_id, did_id, rkey FROM links_by_did'),
        size,
        ([, , did, rkey], b) => {
          const distance = b.count === 0 ? 0 : (did as number) - lastDid
          const previous = b.count === 0 ? (rkey as Rkey) : distance === 0 ? b.previous : undefined
          pushRkey(b.entries, rkey as Rkey, previous, distance)
          lastDid = did as number
          b.previous = rkey as Rkey
        },
        insert('links_by_did', 4),
      ),
      // Forward index: (length, rkey distance, packed links) per record.
      records: packTable(
        rows('SELECT did_id, collection_id, rkey, links FROM records'),
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
    const structures = Object.entries(blocks).map(([table, n]) => ({ table, today: before.get(table)!, packed: after.get(table)!, blocks: n }))
    const today = [...before.values()].reduce((a, b) => a + b, 0)
    return {
      links: source.prepare('SELECT count(*) FROM links_by_time').pluck().get() as number,
      today,
      packed: structures.reduce((sum, s) => sum - s.today + s.packed, today),
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
  console.log('structure'.padEnd(16) + 'stored today'.padStart(14) + 'packed'.padStart(10) + 'blocks'.padStart(14))
  for (const s of r.structures) {
    console.log(s.table.padEnd(16) + perLink(s.today).padStart(14) + perLink(s.packed).padStart(10) + s.blocks.toLocaleString('en-US').padStart(14))
  }
  console.log('whole database'.padEnd(16) + perLink(r.today).padStart(14) + perLink(r.packed).padStart(10))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main()
