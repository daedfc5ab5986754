import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Indexer } from '../src/indexer/indexer.js'
import { parseSource } from '../src/links/source.js'
import { openStore, type StoreHandle } from '../src/store/open.js'
import { Reader } from '../src/store/reader.js'
import { Writer } from '../src/store/writer.js'
import { account, create, del, did, follow, like, lines, postUri, tid, update } from './helpers/events.js'
import { linkTables } from './helpers/index-tables.js'

const LIKE = parseSource('app.bsky.feed.like:subject.uri')!
const FOLLOW = parseSource('app.bsky.graph.follow:subject')!
const PARENT = parseSource('app.bsky.feed.post:reply.parent.uri')!

interface Env {
  dir: string
  writeStore: StoreHandle
  readStore: StoreHandle
  indexer: Indexer
  reader: Reader
  apply(events: object[]): void
}

async function openEnv(budget?: number): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-store-'))
  const path = join(dir, 'index.sqlite')
  const writeStore = await openStore(path)
  const readStore = await openStore(path, { readOnly: true })
  const indexer = new Indexer(new Writer(writeStore), { accountJobBudget: budget })
  return {
    dir,
    writeStore,
    readStore,
    indexer,
    reader: new Reader(readStore),
    apply: (events) => void indexer.applyLines(lines(events)),
  }
}

async function closeEnv(env: Env) {
  await env.readStore.close()
  await env.writeStore.close()
  rmSync(env.dir, { recursive: true, force: true })
}

function allBacklinks(env: Env, subject: string, source = LIKE, reverse = false, limit = 1000) {
  const key = env.reader.key(subject, source)
  const out: string[] = []
  let cursor: string | undefined
  do {
    const page = env.reader.backlinks(key, { limit, cursor, reverse })
    out.push(...page.items.map((r) => `${r.did}/${r.rkey}`))
    cursor = page.cursor
  } while (cursor)
  return out
}


describe('store: creates, updates, deletes', () => {
  let env: Env
  before(async () => (env = await openEnv()))
  after(() => closeEnv(env))

  const alice = did('alice')
  const bob = did('bob')
  const carol = did('carol')
  const post = postUri(alice, 1_700_000_000_000_000)

  test('likes are listed newest first and counted', () => {
    env.apply([like(bob, post), like(carol, post)])
    const key = env.reader.key(post, LIKE)
    assert.deepEqual(env.reader.counts(key), { records: 2, dids: 2 })
    const page = env.reader.backlinks(key, { limit: 10 })
    assert.equal(page.total, 2)
    assert.deepEqual(
      page.items.map((r) => r.did),
      [carol, bob],
    )
    assert.equal(page.items[0].collection, 'app.bsky.feed.like')
    assert.equal(page.cursor, undefined)
  })

  test('a subject, account and source unknown to the reader are found once something links there', () => {
    const dave = did('dave-new')
    const fresh = postUri(dave, 1_700_000_000_500_000)
    const source = parseSource('com.example.pin:subject')!
    assert.deepEqual(env.reader.key(fresh, source), { targetId: undefined, sourceId: undefined, collection: 'com.example.pin' })
    assert.deepEqual(env.reader.didIds([dave]), [])
    env.apply([create(bob, 'com.example.pin', tid(1_700_000_000_600_000), { subject: fresh })])
    const key = env.reader.key(fresh, source)
    assert.ok(key.targetId !== undefined && key.sourceId !== undefined)
    assert.deepEqual(env.reader.counts(key), { records: 1, dids: 1 })
    assert.equal(env.reader.didIds([dave]).length, 1) // the post's author, interned with the target
  })

  test('a replayed stretch of events changes nothing', () => {
    const events = [like(bob, postUri(bob, 1)), follow(alice, carol), like(carol, postUri(bob, 1))]
    env.apply(events)
    const once = linkTables(env.writeStore)
    env.apply(events)
    env.apply([events[1], events[0]])
    assert.deepEqual(linkTables(env.writeStore), once)
  })

  test('an update replaces the record links, a delete removes them', () => {
    const parentA = postUri(bob, 10)
    const parentB = postUri(carol, 11)
    const rkey = tid(1_780_000_100_000_000)
    env.apply([create(alice, 'app.bsky.feed.post', rkey, { text: 'hi', reply: { root: { uri: parentA }, parent: { uri: parentA } } })])
    assert.equal(env.reader.counts(env.reader.key(parentA, PARENT)).records, 1)
    env.apply([update(alice, 'app.bsky.feed.post', rkey, { text: 'hi', reply: { root: { uri: parentA }, parent: { uri: parentB } } })])
    assert.equal(env.reader.counts(env.reader.key(parentA, PARENT)).records, 0)
    assert.equal(env.reader.counts(env.reader.key(parentB, PARENT)).records, 1)
    env.apply([del(alice, 'app.bsky.feed.post', rkey)])
    assert.equal(env.reader.counts(env.reader.key(parentB, PARENT)).records, 0)
    assert.deepEqual(env.reader.backlinks(env.reader.key(parentB, PARENT), { limit: 5 }).items, [])
  })

  test("a 'self' record created again after a delete the index missed replaces the old links", () => {
    const pinnedA = postUri(alice, 20)
    const pinnedB = postUri(alice, 21)
    const PINNED = parseSource('app.bsky.actor.profile:pinnedPost.uri')!
    env.apply([create(alice, 'app.bsky.actor.profile', 'self', { pinnedPost: { uri: pinnedA, cid: 'bafyreia' } })])
    // The delete fell in a gap; the create that follows has a newer rev and the same key.
    env.apply([create(alice, 'app.bsky.actor.profile', 'self', { pinnedPost: { uri: pinnedB, cid: 'bafyreia' } })])
    assert.equal(env.reader.counts(env.reader.key(pinnedA, PINNED)).records, 0)
    assert.equal(env.reader.counts(env.reader.key(pinnedB, PINNED)).records, 1)
  })

  test('an event with an older rev than the account has is skipped', () => {
    const target = postUri(carol, 99)
    const newer = like(bob, target)
    env.apply([newer])
    const stale = like(bob, postUri(carol, 98), { rev: tid(1_600_000_000_000_000) })
    const result = env.indexer.applyLines(lines([stale]))
    assert.equal(result.applied, 0)
    assert.equal(env.reader.counts(env.reader.key(postUri(carol, 98), LIKE)).records, 0)
  })

  test('the cursor is the newest time_us applied', () => {
    const e = like(carol, post)
    env.apply([e])
    assert.equal(env.reader.stats().cursor, e.time_us)
  })

  test('malformed events are counted by reason and skipped', () => {
    const good = like(did('dave'), post)
    const result = env.indexer.applyLines([
      '{not json',
      JSON.stringify({ did: 'nope', time_us: 5, kind: 'commit', commit: {} }),
      JSON.stringify({ ...good, commit: { ...good.commit, record: 'a string' } }),
      JSON.stringify({ ...good, commit: { ...good.commit, rkey: 'bad/rkey' } }),
      JSON.stringify(good),
    ])
    assert.equal(result.applied, 1)
    assert.equal(result.skipped, 4)
    for (const reason of ['bad-json', 'bad-did', 'bad-record', 'bad-rkey'] as const) {
      assert.ok((env.indexer.skipped.get(reason) ?? 0) >= 1, reason)
    }
  })

  test('the same target twice at one path counts once', () => {
    const target = postUri(bob, 500)
    const rkey = tid(1_780_000_200_000_000)
    env.apply([
      create(carol, 'com.example.vote', rkey, { items: [{ subject: target }, { subject: target }] }),
    ])
    const counts = env.reader.countsBySource(env.reader.targetId(target))
    assert.deepEqual(
      counts.map((c) => [c.source, c.records]),
      [['com.example.vote:items[].subject', 1]],
    )
  })
})

describe('store: accounts', () => {
  test('deactivation hides links from lists and counts; reactivation restores them exactly', async () => {
    const env = await openEnv(7) // tiny slices: the hide/show work spans many slices
    const target = did('popular')
    const fans = Array.from({ length: 30 }, (_, i) => did(`fan${i}`))
    env.apply(fans.map((f) => follow(f, target)))
    const quiet = fans[3]
    env.apply(Array.from({ length: 20 }, (_, i) => like(quiet, postUri(target, i + 1))))
    const before = linkTables(env.writeStore)
    const key = env.reader.key(target, FOLLOW)
    assert.deepEqual(env.reader.counts(key), { records: 30, dids: 30 })

    env.apply([account(quiet, false, 'takendown')])
    while (env.indexer.writer.pendingAccountJobs() > 0) env.indexer.runAccountJobs()
    assert.deepEqual(env.reader.counts(key), { records: 29, dids: 29 })
    assert.ok(!allBacklinks(env, target, FOLLOW).some((r) => r.startsWith(quiet)))
    assert.equal(env.reader.counts(env.reader.key(postUri(target, 1), LIKE)).records, 0)

    // While hidden, new records are remembered but stay hidden.
    env.apply([like(quiet, postUri(target, 100))])
    assert.equal(env.reader.counts(env.reader.key(postUri(target, 100), LIKE)).records, 0)

    env.apply([account(quiet, true)])
    while (env.indexer.writer.pendingAccountJobs() > 0) env.indexer.runAccountJobs()
    assert.deepEqual(env.reader.counts(key), { records: 30, dids: 30 })
    assert.equal(env.reader.counts(env.reader.key(postUri(target, 100), LIKE)).records, 1)
    env.apply([del(quiet, 'app.bsky.feed.like', env.reader.backlinks(env.reader.key(postUri(target, 100), LIKE), { limit: 1 }).items[0].rkey)])
    assert.deepEqual(linkTables(env.writeStore), before)
    await closeEnv(env)
  })

  test('desynchronized and throttled change nothing; deleted removes links for good', async () => {
    const env = await openEnv()
    const target = did('target')
    const a = did('gone')
    env.apply([follow(a, target), follow(did('stays'), target)])
    const key = env.reader.key(target, FOLLOW)
    env.apply([account(a, false, 'desynchronized'), account(a, false, 'throttled'), account(a, false, 'someNewStatus')])
    assert.equal(env.reader.counts(key).records, 2)
    env.apply([account(a, false, 'deleted')])
    while (env.indexer.writer.pendingAccountJobs() > 0) env.indexer.runAccountJobs()
    assert.deepEqual(env.reader.counts(key), { records: 1, dids: 1 })
    assert.equal(env.reader.stats().records, 1)
    await closeEnv(env)
  })

  test('a large account is processed in bounded slices', async () => {
    const env = await openEnv(500)
    const big = did('big')
    env.apply(Array.from({ length: 2600 }, (_, i) => follow(big, did(`f${i}`))))
    env.apply([account(big, false, 'suspended')])
    const slices: number[] = []
    while (env.indexer.writer.pendingAccountJobs() > 0) slices.push(env.indexer.runAccountJobs())
    assert.ok(slices.every((n) => n <= 500))
    assert.ok(slices.length >= 5, `took ${slices.length} slices`)
    assert.equal(env.reader.stats().links, 0)
    await closeEnv(env)
  })
})

describe('store: pagination and filters', () => {
  let env: Env
  const target = postUri(did('star'), 1)
  const likers = Array.from({ length: 57 }, (_, i) => did(`liker${i}`))
  before(async () => {
    env = await openEnv()
    env.apply(likers.map((l) => like(l, target)))
  })
  after(() => closeEnv(env))

  test('pages cover every item once, in both orders', () => {
    const newest = allBacklinks(env, target, LIKE, false, 10)
    const oldest = allBacklinks(env, target, LIKE, true, 10)
    assert.equal(newest.length, 57)
    assert.equal(new Set(newest).size, 57)
    assert.deepEqual(oldest, [...newest].reverse())
    assert.deepEqual(newest.map((r) => r.split('/')[0]), [...likers].reverse())
  })

  test('pages stay stable while links are added and deleted', () => {
    const key = env.reader.key(target, LIKE)
    const first = env.reader.backlinks(key, { limit: 20 })
    const seen = first.items.map((r) => `${r.did}/${r.rkey}`)
    // New likes arrive (newer than the walk) and one not yet seen is deleted.
    const victim = env.reader.backlinks(key, { limit: 1, cursor: env.reader.backlinks(key, { limit: 30 }).cursor }).items[0]
    env.apply([like(did('late1'), target), like(did('late2'), target), del(victim.did, 'app.bsky.feed.like', victim.rkey)])
    let cursor = first.cursor
    while (cursor) {
      const page = env.reader.backlinks(key, { limit: 20, cursor })
      seen.push(...page.items.map((r) => `${r.did}/${r.rkey}`))
      cursor = page.cursor
    }
    assert.equal(new Set(seen).size, seen.length, 'no item twice')
    const late = [did('late1'), did('late2')]
    const existedThroughout = allBacklinks(env, target).filter((r) => !late.some((d) => r.startsWith(d)))
    for (const r of existedThroughout) assert.ok(seen.includes(r), `missing ${r}`)
  })

  test('a DID filter lists and counts only those accounts', () => {
    const key = env.reader.key(target, LIKE)
    const page = env.reader.backlinks(key, { limit: 100, dids: [likers[5], likers[40], did('nobody')] })
    assert.equal(page.total, 2)
    assert.deepEqual(page.items.map((r) => r.did), [likers[40], likers[5]])
  })

  test('a DID filter pages through accounts with many links, in both orders', () => {
    const list = `at://${did('owner')}/app.bsky.graph.list/${tid(1_700_000_000_000_000)}`
    const owner = did('owner')
    const helper = did('helper')
    const items = Array.from({ length: 50 }, (_, i) =>
      create(i % 5 === 0 ? helper : owner, 'app.bsky.graph.listitem', tid(1_780_900_000_000_000 + i * 1000), {
        list,
        subject: did(`member${i}`),
      }),
    )
    env.apply(items)
    env.apply([create(did('other'), 'app.bsky.graph.listitem', tid(1_780_900_000_000_500), { list, subject: owner })])
    const key = env.reader.key(list, parseSource('app.bsky.graph.listitem:list')!)
    const expected = items.map((e) => `${e.did}/${e.commit.rkey}`)
    for (const reverse of [false, true]) {
      const seen: string[] = []
      let cursor: string | undefined
      do {
        const page = env.reader.backlinks(key, { limit: 7, cursor, reverse, dids: [owner, helper] })
        assert.equal(page.total, 50)
        seen.push(...page.items.map((r) => `${r.did}/${r.rkey}`))
        cursor = page.cursor
      } while (cursor)
      assert.deepEqual(seen, reverse ? expected : [...expected].reverse())
    }
  })

  test('distinct DIDs are listed once each, most recent linker first', () => {
    const subject = did('followed')
    const a = did('repeat')
    const b = did('single')
    env.apply([follow(a, subject), follow(b, subject), follow(a, subject)])
    const key = env.reader.key(subject, FOLLOW)
    assert.deepEqual(env.reader.counts(key), { records: 3, dids: 2 })
    const first = env.reader.linkingDids(key, { limit: 1 })
    assert.deepEqual(first.items, [a])
    assert.equal(first.total, 2)
    const second = env.reader.linkingDids(key, { limit: 1, cursor: first.cursor })
    assert.deepEqual(second.items, [b])
    assert.equal(second.cursor, undefined)
  })

  test('distinct DIDs page through repeated linkers: each once, at its newest link, for any page size', () => {
    const subject = did('often-followed')
    const linkers = Array.from({ length: 7 }, (_, i) => did(`linker${i}`))
    // Linker i follows i+1 times, interleaved, so repeats fall on both sides of every page boundary.
    const events = []
    for (let round = 0; round < linkers.length; round++)
      for (let i = round; i < linkers.length; i++) events.push(follow(linkers[i], subject))
    // Then one account 40 times in a row: a page has to read past many repeats to fill up.
    for (let k = 0; k < 40; k++) events.push(follow(linkers[0]!, subject))
    env.apply(events)
    const newestFirst: string[] = []
    for (const e of [...events].reverse()) if (!newestFirst.includes(e.did)) newestFirst.push(e.did)
    const key = env.reader.key(subject, FOLLOW)
    for (const limit of [1, 2, 3, 100]) {
      const listed: string[] = []
      let cursor: string | undefined
      do {
        const page = env.reader.linkingDids(key, { limit, cursor })
        assert.equal(page.total, linkers.length)
        listed.push(...page.items)
        cursor = page.cursor
      } while (cursor)
      assert.deepEqual(listed, newestFirst, `limit ${limit}`)
    }
  })

  test('a malformed cursor is refused', () => {
    const key = env.reader.key(target, LIKE)
    assert.throws(() => env.reader.backlinks(key, { limit: 5, cursor: 'not!base64' }), /cursor/)
    assert.throws(() => env.reader.backlinks(key, { limit: 5, cursor: 'AAAA' }), /cursor/)
  })
})
