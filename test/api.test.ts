import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { xrpc, XrpcResponseError } from '@atproto/lex'
import { loadConfig } from '../src/config.js'
import { com } from '../src/lexicons/index.js'
import { silentLogger } from '../src/logger.js'
import { startService, type Service } from '../src/service.js'
import { account, create, del, did, follow, like, lines, postUri, tid, update } from './helpers/events.js'

// A corpus with creates, updates, deletes, duplicate replays and account state changes,
// served end to end: JSONL file -> worker thread -> SQLite -> XRPC -> generated client.
const author = did('author')
const post = postUri(author, 1_700_000_000_000_000)
const likers = Array.from({ length: 12 }, (_, i) => did(`liker${i}`))
const ghost = likers[0] // deactivated, then reactivated
const leaver = likers[1] // deleted account
const quoteRkey = tid(1_780_500_000_000_000)

const likeEvents = likers.map((l) => like(l, post))
const corpus = [
  ...likeEvents,
  ...likeEvents.slice(0, 5), // duplicate replay
  follow(likers[2], author),
  follow(likers[3], author),
  create(likers[4], 'app.bsky.feed.post', quoteRkey, { text: 'look', embed: { $type: 'app.bsky.embed.record', record: { uri: postUri(likers[9], 5) } } }),
  update(likers[4], 'app.bsky.feed.post', quoteRkey, { text: 'look', embed: { $type: 'app.bsky.embed.record', record: { uri: post } } }),
  del(likers[11], 'app.bsky.feed.like', likeEvents[11].commit.rkey),
  account(ghost, false, 'deactivated'),
  account(ghost, true),
  account(leaver, false, 'deleted'),
]
const visibleLikers = likers.filter((l) => l !== leaver && l !== likers[11])

describe('XRPC API end to end', () => {
  let dir: string
  let service: Service
  let base: string

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'backlinks-api-'))
    const file = join(dir, 'events.jsonl')
    writeFileSync(file, lines(corpus).join('\n') + '\n')
    const { config } = loadConfig(['--db', join(dir, 'db.sqlite'), '--port', '0', '--host', '127.0.0.1', '--replay', file, '--jetstream', 'none'])
    service = await startService(config, silentLogger)
    await service.replayDone
    // Account jobs finish in slices after the replay; wait until none are pending.
    for (let i = 0; i < 100 && service.reader.stats().pendingAccountJobs > 0; i++) await new Promise((r) => setTimeout(r, 50))
    base = service.url
  })
  after(async () => {
    await service.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('getBacklinks: totals and newest-first list after replays, deletes and account changes', async () => {
    const res = await xrpc(base, com.example.links.getBacklinks, {
      params: { subject: post, source: 'app.bsky.feed.like:subject.uri' },
    })
    assert.equal(res.body.total, visibleLikers.length)
    assert.deepEqual(
      res.body.records.map((r) => r.did),
      [...visibleLikers].reverse(),
    )
    assert.ok(res.body.records.every((r) => r.collection === 'app.bsky.feed.like'))
    assert.equal(res.body.cursor, undefined)
  })

  test('getBacklinks: pages, reverse and the DID filter', async () => {
    const source = 'app.bsky.feed.like:.subject.uri' // a leading dot is tolerated
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const res = await xrpc(base, com.example.links.getBacklinks, { params: { subject: post, source, limit: 4, cursor, reverse: true } })
      seen.push(...res.body.records.map((r) => r.did))
      cursor = res.body.cursor
    } while (cursor)
    assert.deepEqual(seen, visibleLikers)

    const filtered = await xrpc(base, com.example.links.getBacklinks, {
      params: { subject: post, source, did: [likers[2], likers[7], leaver] as `did:${string}:${string}`[] },
    })
    assert.equal(filtered.body.total, 2)
    assert.deepEqual(filtered.body.records.map((r) => r.did), [likers[7], likers[2]])
  })

  test('getCounts: many subjects in one call, in the order asked', async () => {
    const res = await xrpc(base, com.example.links.getCounts, { params: { subjects: [author, post, 'https://nothing.example/'] } })
    assert.deepEqual(res.body.subjects.map((s) => s.subject), [author, post, 'https://nothing.example/'])
    assert.deepEqual(res.body.subjects[0].sources, [{ source: 'app.bsky.graph.follow:subject', records: 2, dids: 2 }])
    const postSources = Object.fromEntries(res.body.subjects[1].sources.map((s) => [s.source, s.records]))
    assert.deepEqual(postSources, { 'app.bsky.feed.like:subject.uri': visibleLikers.length, 'app.bsky.feed.post:embed.record.uri': 1 })
    assert.deepEqual(res.body.subjects[2].sources, [])

    const asked = await xrpc(base, com.example.links.getCounts, {
      params: { subjects: [post], sources: ['app.bsky.feed.repost:subject.uri', 'app.bsky.feed.like:subject.uri'] },
    })
    assert.deepEqual(asked.body.subjects[0].sources, [
      { source: 'app.bsky.feed.repost:subject.uri', records: 0, dids: 0 },
      { source: 'app.bsky.feed.like:subject.uri', records: visibleLikers.length, dids: visibleLikers.length },
    ])
  })

  test('getBacklinkDids: distinct accounts with total and pages', async () => {
    const first = await xrpc(base, com.example.links.getBacklinkDids, {
      params: { subject: post, source: 'app.bsky.feed.like:subject.uri', limit: 5 },
    })
    assert.equal(first.body.total, visibleLikers.length)
    assert.deepEqual(first.body.dids, [...visibleLikers].reverse().slice(0, 5))
    assert.ok(first.body.cursor)
  })

  test('getStatus reports the cursor and sizes', async () => {
    const res = await xrpc(base, com.example.links.getStatus, {})
    assert.equal(res.body.cursor, Math.max(...corpus.map((e) => e.time_us)))
    assert.equal(new Date(res.body.cursorTime!).getTime(), Math.floor(res.body.cursor! / 1000))
    assert.equal(res.body.links, visibleLikers.length + 2 + 1)
    assert.ok(res.body.dbBytes > 0)
  })

  test('bad parameters are 400 with an XRPC error body naming the parameter', async () => {
    const cases: Array<[string, RegExp, string]> = [
      ['com.example.links.getBacklinks?subject=x', /source/, 'InvalidRequest'],
      ['com.example.links.getBacklinks?subject=x&source=nocolon', /source/, 'InvalidRequest'],
      ['com.example.links.getBacklinks?subject=x&source=a.b.c:d&limit=0', /limit/, 'InvalidRequest'],
      ['com.example.links.getBacklinks?subject=x&source=a.b.c:d&limit=1001', /limit/, 'InvalidRequest'],
      ['com.example.links.getBacklinks?subject=x&source=a.b.c:d&did=bob', /did/i, 'InvalidRequest'],
      ['com.example.links.getBacklinks?subject=x&source=a.b.c:d&cursor=%21%21', /cursor/i, 'InvalidCursor'],
      ['com.example.links.getCounts', /subjects/, 'InvalidRequest'],
    ]
    const stackTraceLimit = Error.stackTraceLimit
    for (const [path, message, error] of cases) {
      const res = await fetch(`${base}/xrpc/${path}`)
      assert.equal(res.status, 400, path)
      const body = await res.json()
      assert.equal(body.error, error, path)
      assert.match(body.message, message, path)
    }
    // Parameters are parsed with stack traces off (src/api/query.ts); a rejected parse restores them.
    assert.equal(Error.stackTraceLimit, stackTraceLimit)
  })

  test('the client surfaces errors as XRPC errors', async () => {
    await assert.rejects(
      xrpc(base, com.example.links.getBacklinks, { params: { subject: post, source: 'app.bsky.feed.like:subject.uri', cursor: '@@' } }),
      (err: unknown) => err instanceof XrpcResponseError && err.error === 'InvalidCursor',
    )
  })

  test('health, CORS and JSON content type', async () => {
    const res = await fetch(`${base}/xrpc/_health`, { headers: { origin: 'https://app.example' } })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('access-control-allow-origin'), '*')
    assert.ok((await res.json()).version)
    const query = await fetch(`${base}/xrpc/com.example.links.getStatus`)
    assert.equal(query.headers.get('x-powered-by'), null)
    assert.equal(query.headers.get('content-type'), 'application/json; charset=utf-8')
  })
})
