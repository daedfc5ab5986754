// Small pairs keep their links in their counts row (inline-links.ts): the encoding, and migration
// 006 from links_by_time rows.
import Database from 'better-sqlite3'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Indexer } from '../src/indexer/indexer.js'
import { parseSource } from '../src/links/source.js'
import { compareLinks, INLINE_MAX, packLinks, unpackLinks, type PairLink } from '../src/store/inline-links.js'
import { openStore } from '../src/store/open.js'
import { Reader } from '../src/store/reader.js'
import { encodeRkey } from '../src/store/tid.js'
import { Writer } from '../src/store/writer.js'
import { did, follow, lines, tid } from './helpers/events.js'
import { blockLinks, timeLinks, toLinkRows } from './helpers/index-tables.js'
import { TIME_ORDER } from '../src/store/link-blocks.js'

const FOLLOW = parseSource('app.bsky.graph.follow:subject')!

test('inline links round-trip text keys, equal keys of two accounts, and extreme TIDs', () => {
  const links: PairLink[] = [
    { rkey: 'self', didId: 9 },
    { rkey: encodeRkey(tid(1)), didId: 1_000_000_000 },
    { rkey: encodeRkey(tid(1_700_000_000_000_000)), didId: 3 },
    { rkey: encodeRkey(tid(1_700_000_000_000_000)), didId: 4 },
    { rkey: encodeRkey('jzzzzzzzzzzzz'), didId: 1 },
  ].sort(compareLinks)
  assert.deepEqual(unpackLinks(packLinks(links)), links)
  assert.deepEqual(unpackLinks(packLinks([])), [])
})

test('migration 006 moves the links of small pairs into their counts rows; reads agree before and after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-inline-'))
  try {
    const path = join(dir, 'index.sqlite')
    let store = await openStore(path)
    const big = did('big')
    const small = did('small')
    const accounts = Array.from({ length: INLINE_MAX + 4 }, (_, i) => did(`f${i}`))
    new Indexer(new Writer(store)).applyLines(
      lines([...accounts.map((a) => follow(a, big)), follow(accounts[0]!, small), follow(accounts[1]!, small)]),
    )
    const read = (reader: Reader) =>
      [big, small].map((subject) => {
        const key = reader.key(subject, FOLLOW)
        return { counts: reader.counts(key), page: reader.backlinks(key, { limit: 100 }).items, dids: reader.linkingDids(key, { limit: 100 }).items }
      })
    const before = read(new Reader(store))
    const links = timeLinks(store.sqlite)
    assert.equal(links.length, accounts.length + 2)
    await store.close()

    // The previous version: every link a links_by_time row, no links column.
    const raw = new Database(path)
    toLinkRows(raw)
    const insert = raw.prepare('INSERT OR IGNORE INTO links_by_time VALUES (?, ?, ?, ?)')
    for (const l of links) insert.run(...l)
    raw.exec(`ALTER TABLE link_counts DROP COLUMN links;
      DELETE FROM kysely_migration WHERE name >= '2026-11-27-006'`)
    raw.close()

    store = await openStore(path)
    assert.equal(blockLinks(store.sqlite, TIME_ORDER).length, accounts.length, 'only the pair of more than INLINE_MAX links is in links_by_time')
    assert.deepEqual(timeLinks(store.sqlite), links)
    assert.deepEqual(read(new Reader(store)), before)
    await store.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
