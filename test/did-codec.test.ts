import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { Indexer } from '../src/indexer/indexer.js'
import { parseSource } from '../src/links/source.js'
import { decodeDid, encodeDid } from '../src/store/did-codec.js'
import { openStore } from '../src/store/open.js'
import { Reader } from '../src/store/reader.js'
import { Writer } from '../src/store/writer.js'
import { like, lines, postUri } from './helpers/events.js'
import { toLinkRows } from './helpers/index-tables.js'

const LIKE = parseSource('app.bsky.feed.like:subject.uri')!
const plc = ['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', 'did:plc:777777777777777777777777', 'did:plc:uerzplxk5ap26mbuepxyz2rz', 'did:plc:z72i7hdynmk6r22z27h6tvur']
const other = ['did:web:example.com', 'did:plc:liker1aaaaaaaaaaaaaaaaaa', 'did:plc:UERZPLXK5AP26MBUEPXYZ2RZ', 'did:plc:uerzplxk5ap26mbuepxyz2r', 'did:plc:uerzplxk5ap26mbuepxyz2rzz']

test('did:plc DIDs are stored as 15 bytes, every other DID as its text, and all read back exactly', () => {
  const seen = new Set<string>()
  for (const did of plc) {
    const stored = encodeDid(did)
    assert.ok(Buffer.isBuffer(stored) && stored.length === 15, did)
    assert.equal(decodeDid(stored), did)
    seen.add(stored.toString('hex'))
  }
  assert.equal(seen.size, plc.length)
  for (const did of other) assert.equal(encodeDid(did), did)
})

test('an index with text DIDs is compacted by the migration and answers with the same DIDs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-dids-'))
  try {
    const path = join(dir, 'index.sqlite')
    const post = postUri(plc[0], 1_700_000_000_000_000)
    const likers = [...plc.slice(1), 'did:web:example.com', 'did:plc:liker1aaaaaaaaaaaaaaaaaa']
    let store = await openStore(path)
    new Indexer(new Writer(store)).applyLines(lines(likers.map((l) => like(l, post))))
    await store.close()

    // Turn it back into a database of the previous version: DIDs as text, migration not applied.
    const raw = new Database(path)
    toLinkRows(raw)
    raw.function('did_text', (v: unknown) => (Buffer.isBuffer(v) ? decodeDid(v) : v))
    raw.exec("UPDATE dids SET did = did_text(did); DELETE FROM kysely_migration WHERE name >= '2026-11-27-003'")
    assert.equal(raw.prepare("SELECT count(*) FROM dids WHERE typeof(did) = 'blob'").pluck().get(), 0)
    const accounts = raw.prepare('SELECT count(*) FROM dids').pluck().get()
    raw.close()

    store = await openStore(path)
    const stored = store.sqlite.prepare('SELECT typeof(did) AS type, length(did) AS bytes FROM dids ORDER BY id').all()
    assert.deepEqual(
      stored,
      [plc[0], ...likers].map((d) => (encodeDid(d) === d ? { type: 'text', bytes: d.length } : { type: 'blob', bytes: 15 })),
    )
    // The writer finds the compacted rows (no second row for an account), the reader names them.
    new Indexer(new Writer(store)).applyLines(lines([like(plc[1], postUri(plc[0], 1_700_000_000_000_001))]))
    assert.equal(store.sqlite.prepare('SELECT count(*) FROM dids').pluck().get(), accounts)
    const reader = new Reader(store)
    const page = reader.backlinks(reader.key(post, LIKE), { limit: 10 })
    assert.deepEqual(page.items.map((r) => r.did).sort(), [...likers].sort())
    assert.deepEqual(reader.backlinks(reader.key(post, LIKE), { limit: 10, dids: [plc[2], 'did:web:example.com'] }).total, 2)
    await store.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
