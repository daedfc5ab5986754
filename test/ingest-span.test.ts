import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { Indexer } from '../src/indexer/indexer.js'
import { parseSource } from '../src/links/source.js'
import { openStore, type StoreHandle } from '../src/store/open.js'
import { Reader } from '../src/store/reader.js'
import { Writer, type WriterOptions } from '../src/store/writer.js'
import { account, did, like, lines, postUri } from './helpers/events.js'
import { linkTables } from './helpers/index-tables.js'

// The ingest span: while the writer is behind, batches stay in one open transaction and their
// changes are written, in key order, when it commits (Writer.applyInSpan).

const LIKE = parseSource('app.bsky.feed.like:subject.uri')!
const dir = mkdtempSync(join(tmpdir(), 'backlinks-span-'))
after(() => rmSync(dir, { recursive: true, force: true }))

let n = 0
async function openEnv(opts?: WriterOptions) {
  const path = join(dir, `index-${n++}.sqlite`)
  const writeStore = await openStore(path)
  const readStore = await openStore(path, { readOnly: true })
  const writer = new Writer(writeStore, opts)
  const indexer = new Indexer(writer)
  const reader = new Reader(readStore)
  return {
    writer,
    indexer,
    reader,
    /** Everything a reader can see: counts, links newest first, the stored cursor. */
    visible(subject: string) {
      const key = reader.key(subject, LIKE)
      return { counts: reader.counts(key), dids: reader.backlinks(key, { limit: 100 }).items.map((r) => r.did), cursor: reader.stats().cursor }
    },
    tables: () => tables(writeStore),
    async close() {
      await readStore.close()
      await writeStore.close()
    },
  }
}

/** The link tables, plus the cursor and every account's rev and status. */
function tables(store: StoreHandle) {
  const q = (sql: string) => store.sqlite.prepare(sql).raw().all()
  return {
    ...linkTables(store),
    cursor: q("SELECT value FROM meta WHERE key = 'cursor'"),
    dids: q('SELECT did, rev, status FROM dids ORDER BY did'),
  }
}

const author = did('span-author')
const post = postUri(author, 1_700_000_000_000_000)
const [bob, carol, dave] = ['span-bob', 'span-carol', 'span-dave'].map(did)

describe('ingest span', () => {
  test('batches kept open are invisible to readers until the span commits, then all there, account jobs included', async () => {
    const batches = [[like(bob, post)], [like(carol, post), account(bob, false, 'deleted')], [like(dave, post)]]
    const env = await openEnv()
    env.indexer.applyLines(lines(batches[0]!), { keepOpen: true })
    env.indexer.applyLines(lines(batches[1]!), { keepOpen: true })
    assert.ok(env.writer.inSpan)
    assert.deepEqual(env.visible(post), { counts: { records: 0, dids: 0 }, dids: [], cursor: undefined })
    env.indexer.applyLines(lines(batches[2]!)) // caught up: commits
    assert.ok(!env.writer.inSpan)
    assert.deepEqual(env.visible(post), {
      counts: { records: 2, dids: 2 },
      dids: [dave, carol], // bob's account was deleted: its like is purged by the job after the commit
      cursor: batches[2]![0]!.time_us,
    })

    // The same events committed batch by batch leave the same tables.
    const reference = await openEnv()
    for (const b of batches) reference.indexer.applyLines(lines(b))
    assert.deepEqual(env.tables(), reference.tables())
    await env.close()
    await reference.close()
  })

  test('a span commits when it is due, even if more batches follow', async () => {
    const env = await openEnv({ spanMaxMs: 0 })
    env.indexer.applyLines(lines([like(bob, post)]), { keepOpen: true })
    assert.ok(!env.writer.inSpan)
    assert.equal(env.visible(post).counts.records, 1)
    await env.close()
  })

  test('a failing batch rolls back the whole span; applying it again gives the state of an uninterrupted run', async () => {
    const first = [like(bob, post)]
    const kept = [like(carol, post)]
    const failing = [like(dave, post)]
    const env = await openEnv()
    env.indexer.applyLines(lines(first))
    env.indexer.applyLines(lines(kept), { keepOpen: true })
    const put = env.writer.putRecord
    env.writer.putRecord = () => {
      throw new Error('SQLITE_FULL: database or disk is full')
    }
    assert.throws(() => env.indexer.applyLines(lines(failing), { keepOpen: true }), /SQLITE_FULL/)
    env.writer.putRecord = put
    assert.ok(!env.writer.inSpan)
    assert.deepEqual(env.visible(post), { counts: { records: 1, dids: 1 }, dids: [bob], cursor: first[0]!.time_us })

    // Ingest resumes from the stored cursor: everything after it again.
    env.indexer.applyLines(lines(kept), { keepOpen: true })
    env.indexer.applyLines(lines(failing))
    const reference = await openEnv()
    for (const b of [first, kept, failing]) reference.indexer.applyLines(lines(b))
    assert.deepEqual(env.tables(), reference.tables())
    await env.close()
    await reference.close()
  })

  test("a writer transaction inside an open span (a backfilled repo) keeps the span's changes, also when it fails", async () => {
    const env = await openEnv()
    env.indexer.applyLines(lines([like(bob, post)]), { keepOpen: true })
    assert.throws(
      () =>
        env.indexer.transaction(() => {
          env.indexer.writeRepoRecords(carol, '3l2aaaaaaaaaa', [{ collection: 'app.bsky.feed.like', rkey: '3l2bbbbbbbbbb', record: { subject: { uri: post } } }])
          throw new Error('repo failed')
        }),
      /repo failed/,
    )
    env.indexer.transaction(() =>
      env.indexer.writeRepoRecords(dave, '3l2aaaaaaaaaa', [{ collection: 'app.bsky.feed.like', rkey: '3l2cccccccccc', record: { subject: { uri: post } } }]),
    )
    assert.ok(env.writer.inSpan, 'still one open span')
    assert.equal(env.visible(post).counts.records, 0)
    env.indexer.applyLines([]) // caught up: commits
    assert.deepEqual(env.visible(post).counts, { records: 2, dids: 2 })
    assert.deepEqual(new Set(env.visible(post).dids), new Set([bob, dave]))
    await env.close()
  })
})
