import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TID } from '@atproto/common'
import { Secp256k1Keypair } from '@atproto/crypto'
import { Backfill, runBackfill, type BackfillDeps, type BackfillOptions } from '../src/backfill/backfill.js'
import { backfillOptions, runBackfillCommand } from '../src/backfill/command.js'
import { retryAfterMs } from '../src/backfill/http.js'
import { readRepoCar } from '../src/backfill/repo-car.js'
import { ConfigError } from '../src/config.js'
import { IngestLoop } from '../src/indexer/ingest-loop.js'
import { silentLogger } from '../src/logger.js'
import { openStore } from '../src/store/open.js'
import { snapshotIndex } from './helpers/backfill-index.js'
import { createEvents, deleteEvent, sampleRecords, testDid } from './helpers/backfill-records.js'
import { buildRepo, didDocument, TestPds, writeRepo, type BuiltRepo, type RecordInput } from './helpers/test-pds.js'

const dirs: string[] = []
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

const open: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((x) => x.close().catch(() => {})))
})

async function openLoop(): Promise<IngestLoop> {
  const dir = mkdtempSync(join(tmpdir(), 'backfill-test-'))
  dirs.push(dir)
  const loop = await IngestLoop.open(join(dir, 'index.sqlite'), silentLogger)
  open.push(loop)
  return loop
}

async function startPds(): Promise<TestPds> {
  const pds = await TestPds.start()
  open.push(pds)
  return pds
}

/** The index built by applying every record of `repos` as a live Jetstream create event. */
async function liveIndex(repos: Array<{ did: string; rev: string; records: Iterable<RecordInput> }>) {
  const loop = await openLoop()
  for (const r of repos) loop.indexer.applyLines(createEvents(r.did, r.rev, r.records))
  return snapshotIndex(loop.store)
}

const asLive = (r: BuiltRepo) => ({ did: r.did, rev: r.rev, records: r.records.values() })

/** Options for local servers: plain http, fast retries, no progress lines. */
const local = (opts: BackfillOptions): BackfillOptions => ({
  hostUrl: (host) => `http://${host}`,
  retryBaseMs: 5,
  retryMaxMs: 20,
  progressIntervalMs: 0,
  parseWorkers: 1,
  ...opts,
})

function repoRows(loop: IngestLoop) {
  return loop.store.sqlite.prepare('SELECT did, host, state, rev, records, error, attempts FROM backfill_repos ORDER BY did').all() as Array<{
    did: string
    host: string | null
    state: string
    rev: string | null
    records: number | null
    error: string | null
    attempts: number
  }>
}

/** An indexer that calls `hook` after each slice is written (for stops and live events mid-repo). */
function hooked(loop: IngestLoop, hook: (did: string, slices: number) => void): BackfillDeps['indexer'] {
  let slices = 0
  const ix = loop.indexer
  return {
    beginRepo: (did) => ix.beginRepo(did),
    writeRepoRecords: (did, rev, records) => {
      ix.writeRepoRecords(did, rev, records)
      hook(did, ++slices)
    },
    finishRepo: (did, rev, present) => ix.finishRepo(did, rev, present),
    abortRepo: (did) => ix.abortRepo(did),
    transaction: (fn) => ix.transaction(fn),
  }
}

async function buildRepos(count: number, first = 0, extra = 0): Promise<BuiltRepo[]> {
  const dids = Array.from({ length: count }, (_, i) => testDid(first + i))
  const others = [...dids, testDid(9000), testDid(9001), testDid(9002)]
  return Promise.all(dids.map((did, i) => buildRepo(did, sampleRecords(did, others.slice(i + 1), extra))))
}

describe('backfill from a relay', () => {
  let relay: TestPds
  let pdsA: TestPds
  let pdsB: TestPds
  let repos: BuiltRepo[]
  before(async () => {
    ;[relay, pdsA, pdsB] = await Promise.all([TestPds.start(), TestPds.start(), TestPds.start()])
    repos = await buildRepos(7)
    repos.slice(0, 4).forEach((r) => pdsA.put(r))
    repos.slice(4).forEach((r) => pdsB.put(r))
    relay.hosts = [
      { hostname: pdsA.host, accountCount: 4 },
      { hostname: pdsB.host },
      { hostname: 'banned.invalid', status: 'banned' },
    ]
  })
  after(() => Promise.all([relay, pdsA, pdsB].map((s) => s.close())))

  test('the index equals the one built from the same records as live events', async () => {
    const loop = await openLoop()
    const summary = await runBackfill(local({ relay: relay.url }), { indexer: loop.indexer, store: loop.store, logger: silentLogger })
    assert.equal(summary.reposDone, 7)
    assert.equal(summary.reposFailed + summary.reposSkipped + summary.reposPending, 0)
    assert.equal(summary.records, repos.reduce((n, r) => n + r.records.size, 0))
    const got = snapshotIndex(loop.store)
    assert.deepEqual(got, await liveIndex(repos.map(asLive)))
    assert.ok(got.links > 50 && Object.keys(got.targets).length > 30, 'the fixture has many links')
    for (const entry of Object.values(got.targets)) {
      assert.equal(entry.backlinks.length, entry.records)
      assert.equal(entry.linkingDids.length, entry.dids)
    }
    const rows = repoRows(loop)
    assert.deepEqual(
      rows.map((r) => [r.did, r.state, r.rev, r.records, r.host]),
      repos
        .map((r, i) => [r.did, 'done', r.rev, r.records.size, i < 4 ? pdsA.url : pdsB.url])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    )
    // listRepos was paginated (2 per page) and no host was asked twice for a repo.
    assert.equal(pdsA.requests('com.atproto.sync.listRepos').length, 2)
    assert.equal(pdsA.requests('com.atproto.sync.getRepo').length, 4)
  })

  test('a second run has nothing left to do', async () => {
    const loop = await openLoop()
    const deps = { indexer: loop.indexer, store: loop.store, logger: silentLogger }
    await runBackfill(local({ relay: relay.url }), deps)
    const fetched = pdsA.requests('com.atproto.sync.getRepo').length
    const again = await runBackfill(local({ relay: relay.url }), deps)
    assert.equal(again.reposDone, 0)
    assert.equal(pdsA.requests('com.atproto.sync.getRepo').length, fetched)
  })
})

describe('interruption', () => {
  test('stopping mid-repo and mid-listing, then restarting, loses nothing and counts nothing twice', async () => {
    const pds = await startPds()
    const repos = await buildRepos(10, 100, 5)
    repos.forEach((r) => pds.put(r))
    pds.faults.set('com.atproto.sync.listRepos', { kind: 'slow', delayMs: 30 }) // listing still going at the stop
    const loop = await openLoop()
    const opts = local({ pds: pds.url, concurrency: 2, sliceSize: 3, parseWorkers: 0 })
    let backfill!: Backfill
    const indexer = hooked(loop, (_did, slices) => {
      if (slices === 4) void backfill.stop()
    })
    backfill = new Backfill(opts, { indexer, store: loop.store, logger: silentLogger })
    const first = await backfill.start()
    assert.equal(first.stopped, true)
    assert.ok(first.reposDone < 10, `stopped early (${first.reposDone} done)`)
    const states = repoRows(loop).map((r) => r.state)
    assert.ok(states.includes('pending'), 'a repo in flight stays pending')
    const cursor = loop.store.sqlite.prepare("SELECT value FROM meta WHERE key = ?").pluck().get(`backfill:cursor:${pds.url}`)
    assert.ok(cursor !== undefined, 'the listing cursor was stored')
    const listedBefore = pds.requests('com.atproto.sync.listRepos').length

    const second = await runBackfill(opts, { indexer: loop.indexer, store: loop.store, logger: silentLogger })
    assert.equal(second.stopped, false)
    assert.equal(first.reposDone + second.reposDone, 10)
    const resumedAt = pds.requests('com.atproto.sync.listRepos')[listedBefore]
    assert.equal(resumedAt.params.get('cursor'), String(cursor), 'listing resumed at the stored cursor')
    assert.ok(repoRows(loop).every((r) => r.state === 'done'))
    assert.deepEqual(snapshotIndex(loop.store), await liveIndex(repos.map(asLive)))
  })
})

describe('live events during a backfill', () => {
  test('older-rev events are dropped, newer-rev deletes and creates are applied after the repo', async () => {
    const pds = await startPds()
    const did = testDid(200)
    const olderRev = TID.nextStr()
    const repo = await buildRepo(did, sampleRecords(did, [testDid(201), testDid(202)], 3))
    const newerRev = TID.nextStr()
    pds.put(repo)
    const loop = await openLoop()
    const [deleted, kept] = [...repo.records.values()].filter((r) => r.collection === 'app.bsky.feed.like')
    const created: RecordInput = {
      collection: 'app.bsky.graph.follow',
      rkey: TID.nextStr(),
      record: { $type: 'app.bsky.graph.follow', subject: testDid(203), createdAt: '2026-11-27T12:00:00.000Z' },
    }
    const stale: RecordInput = { ...created, rkey: TID.nextStr(), record: { ...created.record, subject: testDid(204) } }
    let injected = false
    const indexer = hooked(loop, (d) => {
      if (d !== did || injected) return
      injected = true
      loop.indexer.applyLines([
        ...createEvents(did, olderRev, [stale]), // already in (or out of) the repo at its rev: dropped
        deleteEvent(did, newerRev, deleted.collection, deleted.rkey),
        ...createEvents(did, newerRev, [created]),
        deleteEvent(did, olderRev, kept.collection, kept.rkey), // older: dropped
      ])
    })
    await runBackfill(local({ pds: pds.url, sliceSize: 4 }), { indexer, store: loop.store, logger: silentLogger })
    assert.ok(injected)
    const final = new Map(repo.records)
    final.delete(`${deleted.collection}/${deleted.rkey}`)
    final.set(`${created.collection}/${created.rkey}`, created)
    assert.deepEqual(snapshotIndex(loop.store), await liveIndex([{ did, rev: newerRev, records: final.values() }]))
  })

  test('a repo indexed live first (with missed deletes and updates) ends identical after a backfill', async () => {
    const pds = await startPds()
    const did = testDid(300)
    const others = [testDid(301), testDid(302), testDid(303)]
    const oldRev = TID.nextStr()
    const original = await buildRepo(did, sampleRecords(did, others, 2))
    const [gone, changed] = [...original.records.values()].filter((r) => r.collection === 'app.bsky.graph.follow')
    const current = await writeRepo(original, [
      { action: 'delete', collection: gone.collection, rkey: gone.rkey },
      { action: 'update', collection: changed.collection, rkey: changed.rkey, record: { ...changed.record, subject: testDid(304) } },
    ])
    pds.put(current)
    const loop = await openLoop()
    // Live ingest saw the original records, then missed the delete and the update.
    loop.indexer.applyLines(createEvents(did, oldRev, original.records.values()))
    await runBackfill(local({ dids: [did], plc: pds.url }), { indexer: loop.indexer, store: loop.store, logger: silentLogger })
    // No DID document yet: the PLC directory says 404, the repo is recorded as skipped.
    assert.deepEqual([repoRows(loop)[0].state, repoRows(loop)[0].host], ['skipped', null])
    pds.didDocs.set(did, didDocument(did, pds.url, current.keypair))
    await runBackfill(local({ dids: [did], plc: pds.url }), { indexer: loop.indexer, store: loop.store, logger: silentLogger })
    const fresh = await openLoop()
    await runBackfill(local({ dids: [did], plc: pds.url }), { indexer: fresh.indexer, store: fresh.store, logger: silentLogger })
    const expected = await liveIndex([asLive(current)])
    assert.deepEqual(snapshotIndex(fresh.store), expected)
    assert.deepEqual(snapshotIndex(loop.store), expected)
  })
})

describe('failures', () => {
  test('corrupt, oversized, gone and failing repos are recorded and do not stop the rest', async () => {
    const pds = await startPds()
    pds.pageSize = 3
    const [ok1, corrupt, deactivated, takendown, missing, broken, ok2] = await buildRepos(7, 400)
    const [bigRepo, bigChunkedRepo] = await buildRepos(2, 500, 120)
    for (const r of [ok1, corrupt, bigRepo, bigChunkedRepo, takendown, missing, broken, ok2]) pds.put(r)
    pds.put(deactivated, { active: false, status: 'deactivated' })
    pds.faults.set(corrupt.did, { kind: 'corrupt' })
    pds.faults.set(bigChunkedRepo.did, { kind: 'chunked' })
    // Listed as active, but getRepo says it is taken down.
    pds.faults.set(takendown.did, { kind: 'status', status: 400, body: { error: 'RepoTakendown', message: 'Repo has been takendown' } })
    pds.faults.set(missing.did, { kind: 'status', status: 404, body: { error: 'NotFound' } })
    pds.faults.set(broken.did, { kind: 'status', status: 502, body: { error: 'BadGateway' } })
    assert.ok(bigRepo.car.byteLength > 40_000 && ok1.car.byteLength < 20_000)
    const loop = await openLoop()
    const summary = await runBackfill(local({ pds: pds.url, maxRepoBytes: 30_000, maxAttempts: 3 }), {
      indexer: loop.indexer,
      store: loop.store,
      logger: silentLogger,
    })
    const rows = new Map(repoRows(loop).map((r) => [r.did, r]))
    const stateOf = (r: BuiltRepo) => [rows.get(r.did)!.state, rows.get(r.did)!.error]
    assert.deepEqual(stateOf(ok1), ['done', null])
    assert.deepEqual(stateOf(ok2), ['done', null])
    assert.match(String(stateOf(corrupt)[1]), /^corrupt repo: block does not match its CID/)
    assert.match(String(stateOf(bigRepo)[1]), /^too large/)
    assert.match(String(stateOf(bigChunkedRepo)[1]), /^too large/)
    assert.deepEqual(stateOf(deactivated), ['skipped', 'deactivated'])
    assert.deepEqual(stateOf(takendown), ['skipped', 'RepoTakendown'])
    assert.deepEqual(stateOf(missing)[0], 'skipped')
    assert.deepEqual(stateOf(broken)[0], 'failed')
    assert.equal(rows.get(broken.did)!.attempts, 3)
    assert.equal(rows.get(corrupt.did)!.attempts, 1, 'a corrupt repo is not fetched again')
    assert.equal(pds.requests('com.atproto.sync.getRepo').filter((r) => r.params.get('did') === deactivated.did).length, 0)
    // The summary counts repos fetched in this run; the deactivated one was skipped at listing.
    assert.deepEqual([summary.reposDone, summary.reposFailed, summary.reposSkipped], [2, 4, 2])
    assert.deepEqual(snapshotIndex(loop.store), await liveIndex([asLive(ok1), asLive(ok2)]))
    const progress = new Backfill(local({ pds: pds.url }), { indexer: loop.indexer, store: loop.store, logger: silentLogger }).progress()
    assert.deepEqual([progress.reposDone, progress.reposFailed, progress.reposSkipped, progress.reposPending], [2, 4, 3, 0])

    // --retry-failed: the host is fixed, failed repos are fetched again.
    pds.faults.clear()
    const retried = await runBackfill(local({ pds: pds.url, retryFailed: true, maxRepoBytes: 1e6 }), {
      indexer: loop.indexer,
      store: loop.store,
      logger: silentLogger,
    })
    assert.equal(retried.reposDone, 4)
    assert.equal(rows.size, repoRows(loop).length)
    assert.ok(repoRows(loop).filter((r) => r.state === 'done').length === 6)
  })

  test('429 is retried after Retry-After; a slow response times out and is retried', async () => {
    const pds = await startPds()
    const [limited, slow, stuck] = await buildRepos(3, 600)
    ;[limited, slow, stuck].forEach((r) => pds.put(r))
    pds.faults.set(limited.did, { kind: 'status', status: 429, headers: { 'retry-after': '1' }, body: { error: 'RateLimitExceeded' }, times: 1 })
    pds.faults.set(slow.did, { kind: 'slow', delayMs: 2000, times: 1 })
    pds.faults.set(stuck.did, { kind: 'slow', delayMs: 2000 })
    const loop = await openLoop()
    await runBackfill(local({ pds: pds.url, requestTimeoutMs: 200, maxAttempts: 2 }), {
      indexer: loop.indexer,
      store: loop.store,
      logger: silentLogger,
    })
    const calls = pds.requests('com.atproto.sync.getRepo').filter((r) => r.params.get('did') === limited.did)
    assert.deepEqual(calls.map((c) => c.status), [429, 200])
    assert.ok(calls[1].at - calls[0].at >= 950, `waited ${calls[1].at - calls[0].at} ms`)
    const rows = new Map(repoRows(loop).map((r) => [r.did, r]))
    assert.deepEqual([rows.get(limited.did)!.state, rows.get(limited.did)!.attempts], ['done', 2])
    assert.deepEqual([rows.get(slow.did)!.state, rows.get(slow.did)!.attempts], ['done', 2])
    assert.deepEqual([rows.get(stuck.did)!.state, rows.get(stuck.did)!.error], ['failed', 'timed out after 200 ms'])
    assert.deepEqual(snapshotIndex(loop.store), await liveIndex([asLive(limited), asLive(slow)]))
  })

  test('Retry-After and RateLimit-Reset headers', () => {
    const now = Date.parse('2026-11-27T12:00:00Z')
    assert.equal(retryAfterMs(new Headers({ 'retry-after': '3' }), now), 3000)
    assert.equal(retryAfterMs(new Headers({ 'retry-after': 'Fri, 27 Nov 2026 12:00:10 GMT' }), now), 10_000)
    assert.equal(retryAfterMs(new Headers({ 'ratelimit-reset': String(now / 1000 + 7) }), now), 7000)
    assert.equal(retryAfterMs(new Headers({ 'ratelimit-reset': '5' }), now), 5000)
    assert.equal(retryAfterMs(new Headers({ 'retry-after': '99999' }), now), 15 * 60_000)
    assert.equal(retryAfterMs(new Headers(), now), undefined)
  })
})

describe('errors that are not about one repo', () => {
  test('a database error stops the run, start() rejects, and the repo stays pending', async () => {
    const pds = await startPds()
    const repos = await buildRepos(3, 900)
    repos.forEach((r) => pds.put(r))
    const loop = await openLoop()
    const indexer = hooked(loop, () => {
      throw new Error('SQLITE_FULL: database or disk is full')
    })
    const backfill = new Backfill(local({ pds: pds.url, concurrency: 1 }), { indexer, store: loop.store, logger: silentLogger })
    await assert.rejects(backfill.start(), /SQLITE_FULL/)
    const states = repoRows(loop).map((r) => r.state)
    assert.ok(!states.includes('failed') && states.includes('pending'), states.join())
  })
})

describe('explicit DIDs (repair)', () => {
  test('did:web and did:plc are resolved, signatures checked, and a done repo is fetched again', async () => {
    const pds = await startPds()
    const web = pds.webDid
    const plc = testDid(700)
    const [webRepo, plcRepo] = await Promise.all([
      buildRepo(web, sampleRecords(web, [plc, testDid(701)])),
      buildRepo(plc, sampleRecords(plc, [web, testDid(702)])),
    ])
    pds.put(webRepo)
    pds.put(plcRepo)
    pds.webDidDoc = didDocument(web, pds.url, webRepo.keypair)
    pds.didDocs.set(plc, didDocument(plc, pds.url, plcRepo.keypair))
    const loop = await openLoop()
    const deps = { indexer: loop.indexer, store: loop.store, logger: silentLogger }
    const opts = local({ dids: [web, plc, plc], plc: pds.url, verifySignatures: true })
    const summary = await runBackfill(opts, deps)
    assert.equal(summary.reposDone, 2)
    assert.deepEqual(snapshotIndex(loop.store), await liveIndex([asLive(webRepo), asLive(plcRepo)]))

    // Repair: the repo changed behind our back (records deleted and added); fetching it again
    // replaces its links, although it is already done.
    const likes = [...plcRepo.records.values()].filter((r) => r.collection === 'app.bsky.feed.like')
    const changed = await writeRepo(plcRepo, [
      ...likes.map((r) => ({ action: 'delete' as const, collection: r.collection, rkey: r.rkey })),
      { action: 'create', collection: 'app.bsky.feed.like', rkey: TID.nextStr(), record: { ...likes[0].record, subject: { uri: `at://${web}/app.bsky.feed.post/3l3qo2vutsw2b`, cid: 'bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a' } } },
    ])
    pds.put(changed)
    await runBackfill(local({ dids: [plc], plc: pds.url }), deps)
    assert.deepEqual(snapshotIndex(loop.store), await liveIndex([asLive(webRepo), asLive(changed)]))
    assert.equal(repoRows(loop).find((r) => r.did === plc)!.rev, changed.rev)

    // A document naming another key: the signature check fails the repo.
    pds.didDocs.set(plc, didDocument(plc, pds.url, await Secp256k1Keypair.create()))
    const bad = await runBackfill(opts, deps)
    assert.equal(bad.reposFailed, 1)
    assert.equal(repoRows(loop).find((r) => r.did === plc)!.error, 'commit signature does not verify')
  })
})

describe('repo CAR reading', () => {
  test('a big repo (a deep MST) reads back every record in key order', async () => {
    const did = testDid(800)
    const records = Array.from({ length: 1500 }, (_, i) => ({
      collection: i % 2 ? 'app.bsky.feed.like' : 'app.bsky.graph.follow',
      rkey: TID.nextStr(),
      record: { $type: 'x', subject: testDid(i), createdAt: '2026-11-27T12:00:00.000Z' },
    }))
    const repo = await buildRepo(did, records)
    const read = readRepoCar(repo.car, did)
    assert.equal(read.rev, repo.rev)
    assert.deepEqual(read.keys, [...repo.records.keys()].sort())
  })

  test('truncated, foreign and tampered CARs are refused', async () => {
    const did = testDid(801)
    const repo = await buildRepo(did, sampleRecords(did, [testDid(802)]))
    assert.throws(() => readRepoCar(repo.car.subarray(0, repo.car.length - 10), did), /corrupt repo: truncated CAR block/)
    assert.throws(() => readRepoCar(repo.car, testDid(803)), /corrupt repo: commit is for/)
    assert.throws(() => readRepoCar(new Uint8Array([1, 2, 3]), did), /corrupt repo/)
    const tampered = Buffer.from(repo.car)
    tampered[tampered.length - 1] ^= 1
    assert.throws(() => readRepoCar(tampered, did), /block does not match its CID/)
  })
})

describe('backlinks backfill command', () => {
  test('options: repeatable or comma-separated DIDs and positionals; bad values are ConfigErrors', () => {
    assert.deepEqual(backfillOptions({ did: ['did:plc:a,did:plc:b', 'did:plc:c'], 'retry-failed': true }, ['did:web:x.com']), {
      relay: undefined,
      pds: undefined,
      dids: ['did:plc:a', 'did:plc:b', 'did:plc:c', 'did:web:x.com'],
      plc: undefined,
      concurrency: undefined,
      retryFailed: true,
    })
    assert.equal(backfillOptions({ concurrency: '3' }).concurrency, 3)
    assert.throws(() => backfillOptions({ concurrency: '0' }), ConfigError)
    assert.throws(() => backfillOptions({ pds: 'https://pds.example', did: 'did:plc:a' }), ConfigError)
    assert.throws(() => backfillOptions({ relay: 'not a url' }), ConfigError)
  })

  test('runs a PDS backfill into the database and exits 0', async () => {
    const pds = await startPds()
    const repos = await buildRepos(2, 1000)
    repos.forEach((r) => pds.put(r))
    const dir = mkdtempSync(join(tmpdir(), 'backfill-cmd-'))
    dirs.push(dir)
    const db = join(dir, 'index.sqlite')
    assert.equal(await runBackfillCommand({ db, pds: pds.url }, [], silentLogger), 0)
    const store = await openStore(db)
    open.push(store)
    assert.deepEqual(snapshotIndex(store), await liveIndex(repos.map(asLive)))
  })
})
