import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { BacklinksClient } from '../src/client.js'
import { loadConfig } from '../src/config.js'
import { silentLogger } from '../src/logger.js'
import { backupDatabase } from '../src/ops/backup.js'
import { compactDatabase, DatabaseInUseError } from '../src/ops/compact.js'
import { didWebOf } from '../src/ops/did-web.js'
import { ingestHealth } from '../src/ops/health.js'
import { IngestMetrics } from '../src/ops/ingest-metrics.js'
import { openStore } from '../src/store/open.js'
import { startService, type Service } from '../src/service.js'
import { account, create, did, follow, like, lines, postUri, tid } from './helpers/events.js'
import { recordRows, timeLinks } from './helpers/index-tables.js'

const MAIN = join(import.meta.dirname, '../src/cli/main.js')
const LIKE = 'app.bsky.feed.like:subject.uri'
const REPOST = 'app.bsky.feed.repost:subject.uri'

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-ops-'))
  dirs.push(dir)
  return dir
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** A replay-only service on 127.0.0.1 over `dir/db.sqlite`. */
async function serve(dir: string, args: string[] = []): Promise<Service> {
  const base = ['--db', join(dir, 'db.sqlite'), '--port', '0', '--host', '127.0.0.1', '--jetstream', 'none', '--log-level', 'silent']
  return startService(loadConfig([...base, ...args], {}).config, silentLogger)
}

function writeCapture(dir: string, events: object[], extraLines: string[] = []): string {
  const file = join(dir, 'events.jsonl')
  writeFileSync(file, [...lines(events), ...extraLines].join('\n') + '\n')
  return file
}

function repost(author: string, subject: string, us: number) {
  return create(author, 'app.bsky.feed.repost', tid(us), { subject: { uri: subject, cid: 'bafyreia' }, createdAt: '2026-01-01T00:00:00Z' }, { time: us })
}

// --- a tiny parser of the Prometheus text format (0.0.4), strict enough to catch malformed output ---

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>()
  const samples: Sample[] = []
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta) {
      assert.match(meta[2], NAME, line)
      if (meta[1] === 'TYPE') {
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3]), line)
        types.set(meta[2], meta[3])
      }
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    assert.ok(m, `not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    if (m[2]) {
      const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/y
      let match
      let consumed = 0
      while ((match = LABEL.exec(m[2]))) {
        labels[match[1]] = match[2]
        consumed = LABEL.lastIndex
      }
      assert.equal(consumed, m[2].length, `bad labels: ${line}`)
    }
    const value = Number(m[3].replace(/^\+Inf$/, 'Infinity').replace(/^-Inf$/, '-Infinity'))
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(m[3]), `bad value: ${line}`) // Prometheus parses NaN case-insensitively
    const family = m[1].replace(/_(bucket|sum|count)$/, '')
    assert.ok(types.has(m[1]) || types.get(family) === 'histogram' || types.get(family) === 'summary', `sample without TYPE: ${line}`)
    samples.push({ name: m[1], labels, value })
  }
  return { types, samples }
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

async function scrape(url: string) {
  const res = await fetch(`${url}/metrics`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  return parsePrometheus(await res.text())
}

describe('metrics, health, identity and HTTP behaviour', () => {
  const author = did('opsauthor')
  const post = postUri(author, 1_700_000_000_000_000)
  const likers = Array.from({ length: 10 }, (_, i) => did(`opsliker${i}`))
  const events = [
    ...likers.map((l) => like(l, post)),
    ...likers.slice(0, 4).map((l, i) => repost(l, post, 1_780_100_000_000_000 + i)),
    follow(likers[5], author), // (likers 0-3 have newer revs from their reposts: this would be stale)
    account(likers[9], true),
  ]
  let dir: string
  let service: Service

  before(async () => {
    dir = tempDir()
    const file = writeCapture(dir, events, ['{not json'])
    service = await serve(dir, ['--replay', file, '--public-url', 'https://links.example.com:8443', '--cache-max-age', '7'])
    await service.replayDone
  })
  after(() => service.close())

  test('/metrics is Prometheus text, with ingest counters from the writer thread', async () => {
    const { types, samples } = await scrape(service.url)
    assert.equal(types.get('backlinks_events_applied_total'), 'counter')
    assert.equal(types.get('backlinks_batch_commit_seconds'), 'histogram')
    const applied = (labels: Record<string, string>) => value(samples, 'backlinks_events_applied_total', labels)
    assert.equal(applied({ kind: 'commit', collection: 'app.bsky.feed.like' }), 10)
    assert.equal(applied({ kind: 'commit', collection: 'app.bsky.feed.repost' }), 4)
    assert.equal(applied({ kind: 'commit', collection: 'app.bsky.graph.follow' }), 1)
    assert.equal(applied({ kind: 'account' }), 1)
    assert.equal(value(samples, 'backlinks_events_skipped_total', { reason: 'bad-json' }), 1)
    assert.ok(value(samples, 'backlinks_batch_commit_seconds_count')! >= 1)
    assert.equal(value(samples, 'backlinks_index_records'), 15)
    assert.ok(value(samples, 'backlinks_db_bytes')! > 0)
    assert.ok(value(samples, 'backlinks_cursor_lag_seconds')! > 0)
    assert.equal(value(samples, 'backlinks_ingest_healthy'), 1)
    assert.ok(value(samples, 'process_resident_memory_bytes')! > 0)
  })

  test('HTTP metrics are labelled by NSID or route pattern, never by raw URL', async () => {
    const before = value((await scrape(service.url)).samples, 'backlinks_http_requests_total', { route: 'com.example.links.getCounts', status: '200' }) ?? 0
    await fetch(`${service.url}/xrpc/com.example.links.getCounts?subjects=${encodeURIComponent(post)}`)
    await fetch(`${service.url}/xrpc/com.example.links.getCounts`) // 400
    await fetch(`${service.url}/no/such/page-4242`)
    await fetch(`${service.url}/xrpc/com.example.nothing.here4242`)
    const { samples } = await scrape(service.url)
    const requests = (labels: Record<string, string>) => value(samples, 'backlinks_http_requests_total', labels)
    assert.equal(requests({ route: 'com.example.links.getCounts', status: '200' }), before + 1)
    assert.equal(requests({ route: 'com.example.links.getCounts', status: '400' }), 1)
    assert.ok(requests({ route: 'unmatched', status: '404' })! >= 1)
    assert.ok(value(samples, 'backlinks_http_request_duration_seconds_count', { route: 'com.example.links.getCounts', status: '200' })! >= 1)
    assert.ok(!samples.some((s) => Object.values(s.labels).some((v) => v.includes('4242') || v.includes('?'))))
  })

  test('/.well-known/did.json: did:web of --public-url with a service entry', async () => {
    const res = await fetch(`${service.url}/.well-known/did.json`)
    assert.equal(res.status, 200)
    const doc = await res.json()
    assert.deepEqual(doc['@context'], ['https://www.w3.org/ns/did/v1'])
    assert.equal(doc.id, 'did:web:links.example.com%3A8443')
    assert.deepEqual(doc.service, [{ id: '#backlinks', type: 'BacklinksIndex', serviceEndpoint: 'https://links.example.com:8443' }])
    assert.equal(didWebOf('https://links.example.com/'), 'did:web:links.example.com')
  })

  test('/xrpc/_health is 200 {version}, never cached', async () => {
    const res = await fetch(`${service.url}/xrpc/_health`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('cache-control'), 'no-store')
    const body = await res.json()
    assert.equal(typeof body.version, 'string')
  })

  test('getStatus says whether ingest is healthy, and why', async () => {
    const status = await new BacklinksClient(service.url).getStatus()
    const ingest = status.ingest as { healthy: boolean; reason: string }
    assert.equal(ingest.healthy, true)
    assert.equal(ingest.reason, 'live ingest disabled')
  })

  test('Cache-Control on queries (no-store on errors), weak ETag and 304, compression of large bodies', async () => {
    const ok = await fetch(`${service.url}/xrpc/com.example.links.getCounts?subjects=${encodeURIComponent(post)}`)
    assert.equal(ok.headers.get('cache-control'), 'public, max-age=7')
    const etag = ok.headers.get('etag')
    assert.match(etag!, /^W\//)
    const again = await fetch(`${service.url}/xrpc/com.example.links.getCounts?subjects=${encodeURIComponent(post)}`, {
      // fetch would add "Cache-Control: no-cache" to a conditional request, which disables 304s
      headers: { 'if-none-match': etag!, 'cache-control': 'max-age=0' },
    })
    assert.equal(again.status, 304)

    const bad = await fetch(`${service.url}/xrpc/com.example.links.getCounts`)
    assert.equal(bad.status, 400)
    assert.equal(bad.headers.get('cache-control'), 'no-store')

    const many = Array.from({ length: 100 }, (_, i) => `subjects=${encodeURIComponent(postUri(author, 1_700_000_000_000_000 + i))}`).join('&')
    for (const encoding of ['br', 'gzip']) {
      const res = await fetch(`${service.url}/xrpc/com.example.links.getCounts?${many}`, { headers: { 'accept-encoding': encoding } })
      assert.equal(res.headers.get('content-encoding'), encoding)
      assert.equal((await res.json()).subjects.length, 100) // fetch decodes it
    }
    const small = await fetch(`${service.url}/xrpc/_health`, { headers: { 'accept-encoding': 'gzip' } })
    assert.equal(small.headers.get('content-encoding'), null)
  })
})

describe('rate limit, metrics port, failing database', () => {
  test('--rate-limit: RateLimit-* headers, then 429 in the XRPC error shape; health is not limited', async () => {
    const service = await serve(tempDir(), ['--rate-limit', '3'])
    try {
      const url = `${service.url}/xrpc/com.example.links.getStatus`
      for (const remaining of ['2', '1', '0']) {
        const res = await fetch(url)
        assert.equal(res.status, 200)
        assert.equal(res.headers.get('ratelimit-limit'), '3')
        assert.equal(res.headers.get('ratelimit-remaining'), remaining)
        const reset = Number(res.headers.get('ratelimit-reset'))
        assert.ok(reset >= 1 && reset <= 60)
      }
      const limited = await fetch(url)
      assert.equal(limited.status, 429)
      assert.equal(limited.headers.get('ratelimit-remaining'), '0')
      assert.ok(Number(limited.headers.get('retry-after')) >= 1)
      assert.equal(limited.headers.get('cache-control'), 'no-store')
      const body = await limited.json()
      assert.equal(body.error, 'RateLimitExceeded')
      assert.match(body.message, /3 requests per minute/)
      assert.equal((await fetch(`${service.url}/xrpc/_health`)).status, 200)
    } finally {
      await service.close()
    }
  })

  test('--metrics-port serves /metrics there and not on the API port; no did.json without --public-url', async () => {
    const service = await serve(tempDir(), ['--metrics-port', '0'])
    try {
      assert.ok(service.metricsPort && service.metricsPort !== service.port)
      const { samples } = await scrape(`http://127.0.0.1:${service.metricsPort}`)
      assert.ok(samples.some((s) => s.name === 'backlinks_index_records'))
      assert.notEqual((await fetch(`${service.url}/metrics`)).status, 200)
      assert.equal((await fetch(`${service.url}/.well-known/did.json`)).status, 404)
    } finally {
      await service.close()
    }
  })

  test('/xrpc/_health is 503 once the database cannot be read', async () => {
    const service = await serve(tempDir())
    try {
      assert.equal((await fetch(`${service.url}/xrpc/_health`)).status, 200)
      service.reader.store.sqlite.close()
      const res = await fetch(`${service.url}/xrpc/_health`)
      assert.equal(res.status, 503)
      assert.equal(res.headers.get('cache-control'), 'no-store')
      assert.equal((await res.json()).error, 'DatabaseUnavailable')
    } finally {
      await service.close()
    }
  })
})

test('applied events by collection: the first 50 collections by name, the rest as "other"', async () => {
  const metrics = new IngestMetrics(new Map([['bad-json', 2]]))
  for (let i = 0; i < 60; i++) {
    const event = { did: 'did:plc:x', time_us: 1, kind: 'commit', commit: { rev: 'x', operation: 'create', collection: `app.test.c${i}`, rkey: 'r' } } as const
    metrics.eventApplied(event)
    metrics.eventApplied(event)
  }
  metrics.eventApplied({ did: 'did:plc:x', time_us: 1, kind: 'identity', identity: { did: 'did:plc:x' } })
  const [applied] = (await metrics.json()).filter((m) => m.name === 'backlinks_events_applied_total')
  const byCollection = new Map(applied.values.map((v) => [`${v.labels.kind}/${v.labels.collection}`, v.value]))
  assert.equal(byCollection.size, 52)
  assert.equal(byCollection.get('commit/app.test.c0'), 2)
  assert.equal(byCollection.get('commit/app.test.c49'), 2)
  assert.equal(byCollection.get('commit/app.test.c50'), undefined)
  assert.equal(byCollection.get('commit/other'), 20)
  assert.equal(byCollection.get('identity/'), 1)
})

test('ingest health: connected and not lagging, else a reason', () => {
  const base = { writer: true, live: true, maxLagSeconds: 60, reportedAt: 1_000_000 }
  const at = (s: Partial<Parameters<typeof ingestHealth>[0]>) => ingestHealth({ ...base, ...s }, 1_000_500)
  assert.deepEqual(at({ ingest: { state: 'connected', lagSeconds: 3 } }), { healthy: true, reason: 'connected, lag 3 s' })
  assert.deepEqual(at({ ingest: { state: 'connected', lagSeconds: 61 } }), { healthy: false, reason: 'lag 61 s is over 60 s' })
  assert.deepEqual(at({ ingest: { state: 'backoff' } }), { healthy: false, reason: 'jetstream backoff' })
  assert.deepEqual(at({ reportedAt: undefined }), { healthy: false, reason: 'starting' })
  assert.equal(ingestHealth({ ...base, ingest: { state: 'connected' } }, 1_020_000).healthy, false) // no report for 20 s
  assert.deepEqual(at({ failure: 'disk full' }), { healthy: false, reason: 'ingest failed: disk full' })
  assert.equal(at({ live: false }).healthy, true)
  assert.equal(at({ writer: false }).healthy, true)
})

describe('backup, compact and stats', () => {
  // Enough events that ingest is still running when the backup is taken (~5 s of replay).
  const COUNT = 80_000
  const posts = Array.from({ length: 500 }, (_, i) => postUri(did(`bkauthor${i % 50}`), 1_700_000_000_000_000 + i * 1000))
  const bulk = Array.from({ length: COUNT }, (_, i) => {
    const who = did(`bk${i % 20_000}`)
    const us = 1_780_200_000_000_000 + i
    return i % 4 === 0 ? repost(who, posts[i % posts.length], us) : like(who, posts[(i * 7) % posts.length], { time: us })
  })
  let dir: string
  let service: Service

  before(async () => {
    dir = tempDir()
    service = await serve(dir, ['--replay', writeCapture(dir, bulk)])
  })
  after(() => service.close())

  test('a backup taken during ingest is a consistent snapshot that serves queries', async () => {
    const db = join(dir, 'db.sqlite')
    while (service.reader.stats().records < COUNT / 8) await new Promise((r) => setTimeout(r, 20))
    const backup = await backupDatabase(db, join(dir, 'backups') + '/')
    assert.match(backup.path, /backups\/backlinks-\d{8}T\d{6}Z\.sqlite$/)
    await service.replayDone
    const final = service.reader.stats().records
    assert.equal(final, COUNT)

    const copy = await openStore(backup.path, { readOnly: true })
    const one = (sql: string) => copy.sqlite.prepare(sql).pluck().get() as number
    const records = one("SELECT value FROM meta WHERE key = 'records'")
    const links = timeLinks(copy.sqlite).length
    assert.ok(records > 0 && records < final, `backup taken mid-ingest: ${records} of ${final}`)
    // Every counter agrees with the rows it counts: no half-applied batch in the copy.
    assert.equal(recordRows(copy).length, records)
    assert.equal(one("SELECT value FROM meta WHERE key = 'links'"), links)
    assert.equal(one('SELECT sum(records) FROM link_counts'), links)
    assert.equal(one("SELECT value FROM meta WHERE key = 'cursor'"), backup.cursor)
    assert.equal(copy.sqlite.pragma('integrity_check', { simple: true }), 'ok')
    await copy.close()

    // Served read-only, the copy answers queries: like and repost counts of every post add up.
    const replica = await startService(
      loadConfig(['--db', backup.path, '--read-only', '--port', '0', '--host', '127.0.0.1', '--log-level', 'silent'], {}).config,
      silentLogger,
    )
    try {
      const client = new BacklinksClient(replica.url)
      let total = 0
      for (let i = 0; i < posts.length; i += 100) {
        const counts = await client.getCounts({ subjects: posts.slice(i, i + 100), sources: [LIKE, REPOST] })
        for (const subject of counts.subjects) for (const source of subject.sources) total += source.records
      }
      assert.equal(total, links)
    } finally {
      await replica.close()
    }
    await assert.rejects(backupDatabase(db, backup.path), /exists/)
  })

  test('compact: checkpoint next to the running service; VACUUM refused until it stops', async () => {
    await service.replayDone
    const db = join(dir, 'db.sqlite')
    const result = compactDatabase(db)
    assert.equal(result.vacuumed, false)
    assert.ok(result.after <= result.before)
    assert.throws(() => compactDatabase(db, { vacuum: true }), DatabaseInUseError)
    // The service was not disturbed.
    assert.equal((await fetch(`${service.url}/xrpc/_health`)).status, 200)
  })

  test('backlinks stats prints the figures as JSON or a table', async () => {
    await service.replayDone
    const db = join(dir, 'db.sqlite')
    const json = spawnSync(process.execPath, [MAIN, 'stats', '--db', db, '--json'], { encoding: 'utf8' })
    assert.equal(json.status, 0, json.stderr)
    const figures = JSON.parse(json.stdout)
    assert.equal(figures.records, COUNT)
    assert.equal(figures.collections, 3) // like and repost, and post of the linked at-uris
    assert.ok(figures.dbFileBytes > 0)
    const table = spawnSync(process.execPath, [MAIN, 'stats', '--db', db], { encoding: 'utf8' })
    assert.match(table.stdout, /^records\s+80,000$/m)
    const missing = spawnSync(process.execPath, [MAIN, 'stats', '--db', join(dir, 'nope.sqlite')], { encoding: 'utf8' })
    assert.equal(missing.status, 2)
    assert.match(missing.stderr, /no database at/)
  })
})

test('compact --vacuum rewrites a database nothing else has open', async () => {
  const dir = tempDir()
  const service = await serve(dir, ['--replay', writeCapture(dir, [like(did('vac'), postUri(did('vacauthor'), 1))])])
  await service.replayDone
  await service.close()
  const result = compactDatabase(join(dir, 'db.sqlite'), { vacuum: true })
  assert.equal(result.vacuumed, true)
  assert.equal(result.walTruncated, true)
})
