// The forward index in blocks (record-blocks.ts): the encoding, the writer's block changes
// against a model of an account's records, and migration 005 from a row per record.
import Database from 'better-sqlite3'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Indexer } from '../src/indexer/indexer.js'
import { parseSource } from '../src/links/source.js'
import { openStore } from '../src/store/open.js'
import { Reader } from '../src/store/reader.js'
import { BLOCK_BYTES, isTail, packBlocks, unpackBlock, type RecordEntry } from '../src/store/record-blocks.js'
import { encodeRkey } from '../src/store/tid.js'
import { Writer } from '../src/store/writer.js'
import { create, del, did, lines, postUri, tid, update } from './helpers/events.js'
import { recordRows, timeLinks, toLinkRows } from './helpers/index-tables.js'

const LIKE = parseSource('app.bsky.feed.like:subject.uri')!

test('blocks round-trip any mix of keys and stay within BLOCK_BYTES', () => {
  const keys = ['self', 'a:b~c', '3kzzzzzzzzzz2', tid(1), tid(1_700_000_000_000_000), tid(1_700_000_000_000_001), 'jzzzzzzzzzzzz']
  const entries: RecordEntry[] = keys
    .map(encodeRkey)
    .sort((a, b) => (typeof a === 'string' ? (typeof b === 'string' ? (a < b ? -1 : 1) : -1) : typeof b === 'string' ? 1 : Buffer.compare(a, b)))
    .map((rkey, i) => ({ rkey, links: Buffer.alloc(i * 20, i) }))
  for (const tail of [false, true]) {
    for (let n = 1; n <= entries.length; n++) {
      const blocks = packBlocks(entries.slice(0, n), tail)
      const back = blocks.flatMap((b) => unpackBlock(b.first, b.entries))
      assert.deepEqual(back, entries.slice(0, n))
      blocks.forEach((b, i) => {
        const last = i === blocks.length - 1
        assert.equal(isTail(b.first), tail && last)
        const inside = unpackBlock(b.first, b.entries)
        // The tail also holds its first rkey (at most 10 bytes coded).
        const limit = BLOCK_BYTES + (isTail(b.first) ? 10 : 0)
        assert.ok(b.entries.length <= limit || inside.length === 1, `${b.entries.length} bytes in ${inside.length} entries`)
      })
    }
    assert.ok(packBlocks(entries, tail).length > 1)
  }
})

test("the writer keeps an account's records in blocks through creates, updates and deletes in any order", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-blocks-'))
  try {
    const store = await openStore(join(dir, 'index.sqlite'))
    const indexer = new Indexer(new Writer(store))
    const reader = new Reader(store)
    const author = did('author')
    const liker = did('liker')
    const posts = Array.from({ length: 400 }, (_, i) => postUri(author, 1_700_000_000_000_000 + i))
    // Keys out of order (each like's rkey is its own time), in batches of varying size.
    const order = posts.map((_, i) => (i * 157) % posts.length)
    const rkeys = order.map((i) => tid(1_750_000_000_000_000 + i * 1_000_003))
    const model = new Map<string, number>()
    for (let start = 0, size = 1; start < order.length; start += size, size = (size % 37) + 1) {
      const batch = order.slice(start, start + size).map((i, j) => {
        model.set(rkeys[start + j]!, i)
        return create(liker, 'app.bsky.feed.like', rkeys[start + j]!, { subject: { uri: posts[i], cid: 'bafyreia' }, createdAt: '2026-01-01T00:00:00Z' })
      })
      indexer.applyLines(lines(batch))
    }
    // Every third record deleted, every fifth pointed at another post.
    const changes: object[] = []
    ;[...model.keys()].forEach((rkey, k) => {
      if (k % 3 === 0) {
        changes.push(del(liker, 'app.bsky.feed.like', rkey))
        model.delete(rkey)
      } else if (k % 5 === 0) {
        const to = (model.get(rkey)! + 1) % posts.length
        changes.push(update(liker, 'app.bsky.feed.like', rkey, { subject: { uri: posts[to], cid: 'bafyreia' }, createdAt: '2026-01-01T00:00:00Z' }))
        model.set(rkey, to)
      }
    })
    for (let i = 0; i < changes.length; i += 25) indexer.applyLines(lines(changes.slice(i, i + 25)))

    const checkBlocks = () => {
      const rows = recordRows(store)
      assert.deepEqual(rows.map((r) => r[2]), [...model.keys()].map(encodeRkey).sort((a, b) => Buffer.compare(a as Buffer, b as Buffer)))
      const blocks = store.sqlite.prepare('SELECT first, length(entries) AS bytes FROM records ORDER BY first').raw().all() as Array<[Buffer | 0, number]>
      assert.ok(blocks.length > 1 && blocks.length < model.size / 4, `${blocks.length} blocks for ${model.size} records`)
      // One tail (it sorts first); every block within the size (the tail also holds its first key).
      assert.deepEqual(blocks.map(([first]) => isTail(first)), blocks.map((_, i) => i === 0))
      for (const [first, bytes] of blocks) assert.ok(bytes <= BLOCK_BYTES + (isTail(first) ? 10 : 0))
      // The tail's key is stored as the integer 0 (no bytes), not as a REAL.
      assert.deepEqual(store.sqlite.prepare('SELECT DISTINCT typeof(first) FROM records WHERE first = 0').pluck().all(), ['integer'])
    }
    checkBlocks()
    // The newest records deleted: the emptied tail is replaced by the block before it.
    const newest = [...model.keys()].sort().slice(-40)
    indexer.applyLines(lines(newest.map((rkey) => del(liker, 'app.bsky.feed.like', rkey))))
    for (const rkey of newest) model.delete(rkey)
    checkBlocks()
    // A record older than every block, and one newer: both found again by a delete.
    const [oldest, latest] = [tid(1_740_000_000_000_000), tid(1_800_000_000_000_000)]
    indexer.applyLines(lines([oldest, latest].map((rkey) => create(liker, 'app.bsky.feed.like', rkey, { subject: { uri: posts[0], cid: 'bafyreia' }, createdAt: '2026-01-01T00:00:00Z' }))))
    indexer.applyLines(lines([oldest, latest].map((rkey) => del(liker, 'app.bsky.feed.like', rkey))))
    checkBlocks()
    // Each post is liked exactly by the records that point at it now.
    for (let i = 0; i < posts.length; i += 7) {
      const want = [...model.values()].filter((p) => p === i).length
      assert.equal(reader.counts(reader.key(posts[i]!, LIKE)).records, want, `post ${i}`)
    }
    await store.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('migration 005 packs a row-per-record forward index into the same records', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-blocks-'))
  try {
    const path = join(dir, 'index.sqlite')
    let store = await openStore(path)
    const author = did('author')
    const events = Array.from({ length: 120 }, (_, i) =>
      create(did(`a${i % 4}`), i % 2 ? 'app.bsky.feed.like' : 'app.bsky.feed.repost', tid(1_760_000_000_000_000 + i * 977), {
        subject: { uri: postUri(author, 1_700_000_000_000_000 + (i % 9)), cid: 'bafyreia' },
        createdAt: '2026-01-01T00:00:00Z',
      }),
    )
    new Indexer(new Writer(store)).applyLines(lines(events))
    const before = recordRows(store)
    await store.close()

    // The previous version: one row per record (and per link).
    const raw = new Database(path)
    toLinkRows(raw)
    raw.exec(`DROP TABLE records; CREATE TABLE records (
      did_id INTEGER NOT NULL, collection_id INTEGER NOT NULL, rkey ANY NOT NULL, links BLOB NOT NULL,
      PRIMARY KEY (did_id, collection_id, rkey)) STRICT, WITHOUT ROWID;
      DELETE FROM kysely_migration WHERE name >= '2026-11-27-005'`)
    const insert = raw.prepare('INSERT INTO records VALUES (?, ?, ?, ?)')
    for (const r of before) insert.run(...r)
    raw.close()

    store = await openStore(path)
    assert.deepEqual(recordRows(store), before)
    assert.ok((store.sqlite.prepare('SELECT count(*) FROM records').pluck().get() as number) < before.length / 4)
    // Deletes find their records in the converted blocks.
    new Indexer(new Writer(store)).applyLines(lines(events.slice(0, 60).map((e) => del(e.did, e.commit.collection, e.commit.rkey))))
    assert.equal(recordRows(store).length, 60)
    assert.equal(timeLinks(store.sqlite).length, 60)
    await store.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
