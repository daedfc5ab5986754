// A pair's links in blocks (link-blocks.ts): random changes in both orders against a model, every
// walk from every kind of starting point, and migration 007 from a row per link.
import Database from 'better-sqlite3'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Sfc32 } from '../bench/generate.js'
import { Indexer } from '../src/indexer/indexer.js'
import { parseSource } from '../src/links/source.js'
import { compareRkey, type LinkOp } from '../src/store/batch-buffer.js'
import type { PairLink } from '../src/store/inline-links.js'
import {
  AccountOrderBlocks,
  BLOCK_BYTES,
  DID_ORDER,
  FIRST_RKEY,
  LAST_RKEY,
  LinkBlocks,
  TIME_ORDER,
  UNKNOWN_RUN,
  unpackBlock,
  type LinkOrder,
} from '../src/store/link-blocks.js'
import { openStore } from '../src/store/open.js'
import { Reader } from '../src/store/reader.js'
import { encodeRkey } from '../src/store/tid.js'
import { Writer } from '../src/store/writer.js'
import { did, follow, like, lines, postUri, tid } from './helpers/events.js'
import { blockLinks, linkTables, toLinkRows } from './helpers/index-tables.js'

const T = 7
const S = 3

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'backlinks-link-blocks-'))
}

/** Mostly TIDs of increasing time (appends), some older ones (inserts) and a few text rkeys. */
function randomLink(rng: Sfc32, step: number): PairLink {
  const r = rng.float()
  const rkey =
    r < 0.05 ? `self${rng.below(50)}` : encodeRkey(tid(1_700_000_000_000_000 + (r < 0.7 ? step * 1000 : Math.floor(rng.float() * step * 1000))))
  return { rkey, didId: 1 + rng.below(300) }
}

/**
 * Blocks of the pair: none above BLOCK_BYTES unless a single link, keyed by their first link; in
 * time order, one (the pair's newest links) keyed as the tail.
 */
function checkBlocks(db: Database.Database, order: LinkOrder, label: string) {
  const rows = db
    .prepare(`SELECT ${order.columns}, entries FROM ${order.table} WHERE target_id = ? AND source_id = ?`)
    .safeIntegers()
    .raw()
    .all(T, S) as Array<[unknown, unknown, Buffer]>
  let tails = 0
  let newest: PairLink | undefined
  for (const [k1, k2, entries] of rows) {
    const links = unpackBlock(order, entries)
    assert.ok(links.length > 0, `${label}: no empty block`)
    assert.ok(entries.length <= BLOCK_BYTES || links.length === 1, `${label}: block of ${entries.length} bytes`)
    const key = [k1, k2].map((k) => (typeof k === 'bigint' ? Number(k) : k))
    if (key[0] === 0 && key[1] === 0) {
      tails++
      assert.ok(newest === undefined || order.compare(links[0], newest) > 0, `${label}: the tail holds the newest links`)
    } else {
      assert.deepEqual(key, order.key(links[0]), `${label}: block keyed by its first link`)
      if (tails > 0) assert.ok(order.compare(links[links.length - 1], unpackBlock(order, rows[0][2])[0]) < 0)
      newest = links[links.length - 1]
    }
  }
  assert.equal(tails, order.tail && rows.length > 0 ? 1 : 0, `${label}: tail blocks`)
  return rows.length
}

for (const order of [TIME_ORDER, DID_ORDER]) {
  test(`${order.table}: random adds and removes match a model, and every walk agrees with it`, async () => {
    const dir = tempDir()
    const store = await openStore(join(dir, 'index.sqlite'))
    try {
      const blocks = new LinkBlocks(store.sqlite, order)
      const rng = new Sfc32(order === TIME_ORDER ? 11 : 12)
      let model: PairLink[] = []
      const has = (l: PairLink) => model.some((m) => order.compare(m, l) === 0)
      for (let batch = 0; batch < 40; batch++) {
        // A batch: new links, and removes of existing ones and of absent ones (skipped).
        const ops: LinkOp[] = []
        const seen = new Set<string>()
        const add = (l: PairLink, delta: number) => {
          const id = `${l.didId}|${String(l.rkey)}`
          if (seen.has(id)) return
          seen.add(id)
          ops.push({ targetId: T, sourceId: S, ...l, delta })
        }
        for (let i = 0; i < 60; i++) add(randomLink(rng, batch * 60 + i), 1)
        for (let i = 0; i < 20 && model.length; i++) add(model[rng.below(model.length)], -1)
        add(randomLink(rng, 0), -1)
        ops.sort(order.compare)
        const want = ops.filter((op) => (op.delta > 0) !== has(op))
        const runs = new Map<number, number>()
        const applied = blocks.apply(T, S, ops, order === DID_ORDER ? runs : undefined)
        assert.deepEqual(applied, want, `batch ${batch}: the changes that changed something`)
        for (const op of applied) {
          if (op.delta > 0) model.push({ rkey: op.rkey, didId: op.didId })
          else model = model.filter((m) => order.compare(m, op) !== 0)
        }
        // Every account told is one whose links changed, with its number of links now.
        for (const [didId, n] of runs) {
          assert.ok(applied.some((op) => op.didId === didId))
          if (n !== UNKNOWN_RUN) assert.equal(n, model.filter((l) => l.didId === didId).length, `batch ${batch}: run of ${didId}`)
        }
        if (order === DID_ORDER) assert.ok([...runs.values()].some((n) => n !== UNKNOWN_RUN), 'some runs are told')
        model.sort(order.compare)
        assert.deepEqual(blocks.all(T, S), model, `batch ${batch}: all links`)
        checkBlocks(store.sqlite, order, `batch ${batch}`)
      }
      assert.ok(model.length > 1000)
      const count = checkBlocks(store.sqlite, order, 'end')
      assert.ok(count > 20, `${count} blocks`)
      // Walks from links that are there, from ones that are not, both ways, with and without the start.
      const starts = [...model.filter((_, i) => i % 97 === 0), randomLink(rng, 100), { rkey: '', didId: 0 }, { rkey: encodeRkey(tid(1_900_000_000_000_000)), didId: 999 }]
      for (const from of starts) {
        for (const forward of [true, false]) {
          for (const inclusive of [true, false]) {
            const want = model.filter((l) => {
              const c = order.compare(l, from) * (forward ? 1 : -1)
              return c > 0 || (c === 0 && inclusive)
            })
            if (!forward) want.reverse()
            assert.deepEqual([...blocks.scan(T, S, forward, from, inclusive)], want, `scan from ${String(from.rkey)}/${from.didId}`)
          }
        }
        assert.equal(blocks.has(T, S, from), has(from))
      }
      if (order === DID_ORDER) {
        // One account's run, from rkeys inside, before and after it, both ways.
        const accounts = new AccountOrderBlocks(store.sqlite)
        for (const didId of [0, 1, 2, 150, 299, 300, 301]) {
          const mine = model.filter((l) => l.didId === didId).map((l) => l.rkey)
          for (const from of [FIRST_RKEY, LAST_RKEY, ...mine.filter((_, i) => i % 3 === 0)]) {
            for (const forward of [true, false]) {
              for (const inclusive of [true, false]) {
                const want = mine.filter((rkey) => {
                  const c = compareRkey(rkey, from) * (forward ? 1 : -1)
                  return c > 0 || (c === 0 && inclusive)
                })
                if (!forward) want.reverse()
                assert.deepEqual([...accounts.account(T, S, didId, forward, from, inclusive)], want, `account ${didId} from ${String(from)}`)
              }
            }
          }
        }
      }
      const everything = [...blocks.scan(T, S, false)]
      assert.deepEqual(everything, [...model].reverse(), 'a walk from the end')
      // Removing everything leaves no block.
      blocks.apply(T, S, model.map((l) => ({ targetId: T, sourceId: S, ...l, delta: -1 })))
      assert.equal(checkBlocks(store.sqlite, order, 'emptied'), 0)
      assert.deepEqual([...blocks.scan(T, S, true)], [])
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test('new links at the end of a pair fill its blocks; links inside a block split it evenly', async () => {
  const dir = tempDir()
  const store = await openStore(join(dir, 'index.sqlite'))
  try {
    const blocks = new LinkBlocks(store.sqlite, TIME_ORDER)
    const op = (i: number, didId: number): LinkOp => ({ targetId: T, sourceId: S, rkey: encodeRkey(tid(1_700_000_000_000_000 + i * 1000)), didId, delta: 1 })
    for (let i = 0; i < 600; i++) blocks.apply(T, S, [op(2 * i, 1)])
    const sizes = () => (store.sqlite.prepare("SELECT length(entries) FROM links_by_time ORDER BY typeof(rkey) = 'integer', rkey").pluck().all() as number[])
    const appended = sizes()
    // Every block but the last is full to within one link.
    for (const size of appended.slice(0, -1)) assert.ok(size > BLOCK_BYTES - 12, `appended block of ${size} bytes`)
    // Removing the newest links empties the tail again and again: the block before it takes its place.
    let links = blocks.all(T, S)
    for (let batch = 0; batch < 12; batch++) {
      const newest = links.slice(-7)
      blocks.apply(T, S, newest.map((l) => ({ targetId: T, sourceId: S, ...l, delta: -1 })))
      links = links.slice(0, -7)
      assert.deepEqual(blocks.all(T, S), links, `after removing the newest, batch ${batch}`)
      checkBlocks(store.sqlite, TIME_ORDER, `removal batch ${batch}`)
    }
    for (let i = 600; i < 684; i++) blocks.apply(T, S, [op(2 * i, 1)])
    // Links between the existing ones: each split leaves two blocks of about half.
    for (let i = 0; i < 600; i += 3) blocks.apply(T, S, [op(2 * i + 1, 2)])
    const inserted = sizes()
    assert.ok(inserted.length > appended.length)
    assert.ok(inserted.every((size) => size > BLOCK_BYTES / 3), `blocks after inserts: ${inserted.join(' ')}`)
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('migration 007 packs a row per link into blocks that answer the same', async () => {
  const dir = tempDir()
  try {
    const path = join(dir, 'index.sqlite')
    let store = await openStore(path)
    const author = did('author')
    const posts = Array.from({ length: 5 }, (_, i) => postUri(author, 1_700_000_000_000_000 + i))
    const followed = did('followed')
    // Pairs of every size: 2, 20, 70 and 300 likes, and 150 follows.
    const sizes = [2, 20, 70, 300]
    const events = [
      ...sizes.flatMap((n, p) => Array.from({ length: n }, (_, i) => like(did(`l${i % 90}`), posts[p]!))),
      ...Array.from({ length: 150 }, (_, i) => follow(did(`f${i}`), followed)),
    ]
    new Indexer(new Writer(store)).applyLines(lines(events))
    const LIKE = parseSource('app.bsky.feed.like:subject.uri')!
    const FOLLOW = parseSource('app.bsky.graph.follow:subject')!
    const read = (reader: Reader) =>
      [...posts.map((p) => reader.key(p, LIKE)), reader.key(followed, FOLLOW)].map((key) => ({
        counts: reader.counts(key),
        page: reader.backlinks(key, { limit: 500 }).items,
        oldest: reader.backlinks(key, { limit: 7, reverse: true }).items,
        filtered: reader.backlinks(key, { limit: 50, dids: [did('l3'), did('f5'), did('l80')] }),
        dids: reader.linkingDids(key, { limit: 500 }).items,
      }))
    const before = { tables: linkTables(store), answers: read(new Reader(store)) }
    await store.close()

    const raw = new Database(path)
    toLinkRows(raw)
    const rows = raw.prepare('SELECT count(*) FROM links_by_time').pluck().get() as number
    assert.equal(rows, 20 + 70 + 300 + 150, 'the previous version: a row per link of each pair above INLINE_MAX')
    raw.close()

    store = await openStore(path)
    assert.deepEqual({ tables: linkTables(store), answers: read(new Reader(store)) }, before)
    const blockRows = store.sqlite.prepare('SELECT count(*) FROM links_by_time').pluck().get() as number
    assert.ok(blockRows < rows / 10, `${blockRows} blocks for ${rows} links`)
    assert.equal(blockLinks(store.sqlite, DID_ORDER).length, 70 + 300 + 150)
    // Changes after the upgrade land in the converted blocks.
    new Indexer(new Writer(store)).applyLines(lines([like(did('late'), posts[3]!)]))
    assert.equal(new Reader(store).counts(new Reader(store).key(posts[3]!, LIKE)).records, 301)
    await store.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
