// Compares index schemas by measurement: the same generated events are stored three ways and the
// bytes per link (file size after checkpoint) and write time are reported. Run:
//   node dist/bench/schema-compare.js [--events N]
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Indexer } from '../src/indexer/indexer.js'
import { extractLinks } from '../src/links/extract.js'
import { openStore } from '../src/store/open.js'
import { Writer } from '../src/store/writer.js'
import { generateEvents } from './generate.js'

interface Create {
  did: string
  collection: string
  rkey: string
  links: Array<{ path: string; target: string }>
}

const BATCH = 5000

function creates(lines: string[]): Create[] {
  const out: Create[] = []
  for (const line of lines) {
    const e = JSON.parse(line)
    if (e.kind !== 'commit' || e.commit.operation !== 'create') continue
    const links = extractLinks(e.commit.record)
    if (links.length) out.push({ did: e.did, collection: e.commit.collection, rkey: e.commit.rkey, links })
  }
  return out
}

function fileBytes(db: Database.Database, path: string): number {
  db.pragma('wal_checkpoint(TRUNCATE)')
  return statSync(path).size
}

/** Variant A: every string stored as text in every row (the original prototype's shape). */
function textSchema(path: string, rows: Create[]): number {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`CREATE TABLE links (target TEXT, collection TEXT, path TEXT, rkey TEXT, did TEXT,
             PRIMARY KEY (target, collection, path, rkey, did)) WITHOUT ROWID;
           CREATE INDEX links_did ON links (target, collection, path, did, rkey);
           CREATE TABLE records (did TEXT, collection TEXT, rkey TEXT, links TEXT, PRIMARY KEY (did, collection, rkey)) WITHOUT ROWID;
           CREATE TABLE counts (target TEXT, collection TEXT, path TEXT, records INTEGER, dids INTEGER,
             PRIMARY KEY (target, collection, path)) WITHOUT ROWID;`)
  const ins = db.prepare('INSERT OR IGNORE INTO links VALUES (?, ?, ?, ?, ?)')
  const rec = db.prepare('INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)')
  const cnt = db.prepare(`INSERT INTO counts VALUES (?, ?, ?, 1, 1) ON CONFLICT DO UPDATE SET records = records + 1`)
  const write = db.transaction((batch: Create[]) => {
    for (const r of batch) {
      rec.run(r.did, r.collection, r.rkey, JSON.stringify(r.links))
      for (const l of r.links) if (ins.run(l.target, r.collection, l.path, r.rkey, r.did).changes) cnt.run(l.target, r.collection, l.path)
    }
  })
  for (let i = 0; i < rows.length; i += BATCH) write(rows.slice(i, i + BATCH))
  const bytes = fileBytes(db, path)
  db.close()
  return bytes
}

/** Variant B: interned DIDs, collections and paths, but targets and rkeys as text. */
function internedTextTargets(path: string, rows: Create[]): number {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`CREATE TABLE dids (id INTEGER PRIMARY KEY, did TEXT UNIQUE);
           CREATE TABLE sources (id INTEGER PRIMARY KEY, source TEXT UNIQUE);
           CREATE TABLE targets (id INTEGER PRIMARY KEY, target TEXT UNIQUE);
           CREATE TABLE links (target_id INTEGER, source_id INTEGER, rkey TEXT, did_id INTEGER,
             PRIMARY KEY (target_id, source_id, rkey, did_id)) WITHOUT ROWID;
           CREATE TABLE links_by_did (target_id INTEGER, source_id INTEGER, did_id INTEGER, rkey TEXT,
             PRIMARY KEY (target_id, source_id, did_id, rkey)) WITHOUT ROWID;
           CREATE TABLE records (did_id INTEGER, collection TEXT, rkey TEXT, links BLOB, PRIMARY KEY (did_id, collection, rkey)) WITHOUT ROWID;
           CREATE TABLE counts (target_id INTEGER, source_id INTEGER, records INTEGER, dids INTEGER,
             PRIMARY KEY (target_id, source_id)) WITHOUT ROWID;`)
  const id = (table: string, col: string) => {
    const get = db.prepare(`SELECT id FROM ${table} WHERE ${col} = ?`).pluck()
    const add = db.prepare(`INSERT INTO ${table} (${col}) VALUES (?) RETURNING id`).pluck()
    return (v: string) => (get.get(v) as number | undefined) ?? (add.get(v) as number)
  }
  const didId = id('dids', 'did')
  const sourceId = id('sources', 'source')
  const targetId = id('targets', 'target')
  const ins = db.prepare('INSERT OR IGNORE INTO links VALUES (?, ?, ?, ?)')
  const insDid = db.prepare('INSERT OR IGNORE INTO links_by_did VALUES (?, ?, ?, ?)')
  const rec = db.prepare('INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)')
  const cnt = db.prepare(`INSERT INTO counts VALUES (?, ?, 1, 1) ON CONFLICT DO UPDATE SET records = records + 1`)
  const write = db.transaction((batch: Create[]) => {
    for (const r of batch) {
      const d = didId(r.did)
      const pairs: number[] = []
      for (const l of r.links) {
        const t = targetId(l.target)
        const s = sourceId(`${r.collection}:${l.path}`)
        pairs.push(s, t)
        if (ins.run(t, s, r.rkey, d).changes) {
          insDid.run(t, s, d, r.rkey)
          cnt.run(t, s)
        }
      }
      rec.run(d, r.collection, r.rkey, Buffer.from(new Uint32Array(pairs).buffer))
    }
  })
  for (let i = 0; i < rows.length; i += BATCH) write(rows.slice(i, i + BATCH))
  const bytes = fileBytes(db, path)
  db.close()
  return bytes
}

/** Variant C: the service's own store (src/store): tuple-encoded targets, TID rkeys as 8 bytes. */
async function serviceStore(path: string, lines: string[]): Promise<number> {
  const store = await openStore(path)
  const indexer = new Indexer(new Writer(store))
  for (let i = 0; i < lines.length; i += BATCH) indexer.applyLines(lines.slice(i, i + BATCH))
  const bytes = fileBytes(store.sqlite, path)
  await store.close()
  return bytes
}

async function main() {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '300000' } } })
  const count = Number(values.events)
  // Creates only, so all three variants store exactly the same links.
  const lines = [...generateEvents({ seed: 7, count })].filter((l) => l.includes('"operation":"create"'))
  const rows = creates(lines)
  const links = rows.reduce((n, r) => n + new Set(r.links.map((l) => `${l.path} ${l.target}`)).size, 0)
  const dir = mkdtempSync(join(tmpdir(), 'schema-compare-'))
  const results: Array<[string, number, number]> = []
  for (const [name, run] of [
    ['A: text in every row', (p: string) => textSchema(p, rows)],
    ['B: interned ids, text targets and rkeys', (p: string) => internedTextTargets(p, rows)],
    ['C: service store (tuple targets, TID blobs)', (p: string) => serviceStore(p, lines)],
  ] as const) {
    const started = performance.now()
    const bytes = await run(join(dir, `${name[0]}.sqlite`))
    results.push([name, bytes, performance.now() - started])
  }
  rmSync(dir, { recursive: true, force: true })
  console.log(`${lines.length} create events, ${links} links`)
  console.log('variant'.padEnd(46) + 'bytes/link'.padStart(12) + 'links/s'.padStart(12))
  for (const [name, bytes, ms] of results) {
    console.log(name.padEnd(46) + (bytes / links).toFixed(1).padStart(12) + Math.round(links / (ms / 1000)).toString().padStart(12))
  }
}

await main()
