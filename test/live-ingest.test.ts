import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, describe, test } from 'node:test'
import { loadConfig } from '../src/config.js'
import { REWIND_US } from '../src/firehose/live-ingest.js'
import { extractLinks } from '../src/links/extract.js'
import { silentLogger } from '../src/logger.js'
import { startService, type Service } from '../src/service.js'
import type { Reader } from '../src/store/reader.js'
import { corpus, Model } from './helpers/corpus.js'
import { JetstreamTestServer, type Fault, type JetstreamTestServerOptions, type TestEvent } from './helpers/jetstream-server.js'
import { dbState, finishAccountJobs, realisticEvents, replayInto, snapshot, spawnServe, waitFor } from './helpers/live-serve.js'

// The corpus (creates, updates, deletes, duplicates, account changes) as one Jetstream instance
// would serve it: one event per second, so a 10 s rewind re-sends a part of it.
const T0 = 1_780_000_000_000_000
const events: TestEvent[] = corpus.events.map((e, i) => ({ ...(e as TestEvent), time_us: T0 + i * 1_000_000 }))
const lastTime = events.at(-1)!.time_us

const dirs: string[] = []
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-live-'))
  dirs.push(dir)
  return dir
}

async function jetstream(opts: JetstreamTestServerOptions = {}): Promise<JetstreamTestServer> {
  const server = await JetstreamTestServer.start({ events, ...opts })
  cleanups.push(() => server.close())
  return server
}

/** The real service (worker thread, SQLite, HTTP), live-ingesting from local servers only. */
async function serve(dbPath: string, hosts: string[], compress = 'none', extra: string[] = []): Promise<Service> {
  const args = ['--db', dbPath, '--port', '0', '--host', '127.0.0.1', '--jetstream', hosts.join(','), '--compress', compress, '--log-level', 'warn']
  const service = await startService(loadConfig([...args, ...extra], {}).config, silentLogger)
  // Tests close services themselves too; the cleanup must not close one twice.
  const close = service.close.bind(service)
  let closed: Promise<void> | undefined
  service.close = () => (closed ??= close())
  cleanups.push(() => service.close())
  return service
}

async function ingestStatus(service: Service): Promise<Record<string, any>> {
  const res = await fetch(`${service.url}/xrpc/com.example.links.getStatus`)
  assert.equal(res.status, 200)
  return (await res.json()).ingest
}

/** Every event from `server` up to `time` committed (in its time base) and account jobs done. */
async function caughtUp(service: Service, server: JetstreamTestServer, time = lastTime): Promise<void> {
  const cursorHost = service.reader.store.sqlite.prepare("SELECT value FROM meta WHERE key = 'cursor_host'").pluck()
  await waitFor('ingest to catch up', () => {
    const s = service.reader.stats()
    return s.cursor === time && cursorHost.get() === server.url && s.pendingAccountJobs === 0
  })
}

/** The ingest part of getStatus once the worker's periodic report satisfies `pred`. */
async function reported(service: Service, pred: (ingest: Record<string, any>) => boolean): Promise<Record<string, any>> {
  let ingest: Record<string, any> = {}
  try {
    await waitFor('the status report', async () => pred((ingest = await ingestStatus(service))), 10_000)
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(ingest)}`)
  }
  return ingest
}

/** Counts per source for every subject the events link to, against the reference model. */
function assertIndexMatches(reader: Reader, model: Model, from: readonly TestEvent[] = events): void {
  const subjects = new Set(from.flatMap((e) => (e.commit?.record ? extractLinks(e.commit.record).map((l) => l.target) : [])))
  for (const subject of subjects) {
    const actual: Record<string, Record<string, { records: number; dids: number }>> = {}
    for (const c of reader.countsBySource(reader.targetId(subject))) {
      ;(actual[c.collection] ??= {})[c.path] = { records: c.records, dids: c.dids }
    }
    assert.deepEqual(actual, model.sources(subject), subject)
  }
}

const withFaults = (faults: Array<[number, Fault]>) => new Map(faults.map(([i, f]) => [events[i]!.time_us, f]))
const likeOf = (did: string) => events.findIndex((e) => e.did === did && e.commit?.collection === 'app.bsky.feed.like')

describe('live ingest from Jetstream', () => {
  test('dropped connections: resumes at the last applied event, no loss, no double count', async () => {
    const server = await jetstream({ dropAfter: 25 })
    const service = await serve(join(tempDir(), 'db.sqlite'), [server.url], 'deflate')
    await caughtUp(service, server)

    assertIndexMatches(service.reader, corpus.model)
    const times = server.timeUs()
    assert.equal(server.connections[0]!.cursor, undefined, 'a fresh index starts at the beginning')
    assert.ok(server.connections.length >= Math.ceil(events.length / 25))
    for (const c of server.connections.slice(1)) assert.ok(times.includes(c.cursor!), 'resumes at a delivered event')
    assert.ok(server.connections.every((c) => c.offeredDeflate && !c.compress))
    const status = await reported(service, (s) => s.reconnects >= Math.ceil(events.length / 25) - 1)
    assert.equal(status.host, server.url)
    assert.equal(status.compression, 'deflate')
  })

  test('failover to the next host rewinds 10 s; so does a restart on another host, not on the same', async () => {
    const db = join(tempDir(), 'db.sqlite')
    const first = await jetstream({ events: events.slice(0, 40) })
    const second = await jetstream()
    let service = await serve(db, [first.url, second.url])
    await caughtUp(service, first, events[39]!.time_us)
    await first.close()

    await caughtUp(service, second)
    assert.equal(second.connections[0]!.cursor, events[39]!.time_us - REWIND_US)
    assertIndexMatches(service.reader, corpus.model)
    await reported(service, (s) => s.host === second.url && s.state === 'connected')
    await service.close()

    const before = second.connections.length
    service = await serve(db, [second.url])
    await waitFor('a new connection', () => second.connections.length > before)
    assert.equal(second.connections.at(-1)!.cursor, lastTime, 'same host: no rewind')
    await service.close()

    const third = await jetstream()
    service = await serve(db, [third.url])
    await caughtUp(service, third)
    assert.equal(third.connections[0]!.cursor, lastTime - REWIND_US, 'another host: rewind')
    assertIndexMatches(service.reader, corpus.model)
  })

  test('zstd frames with a dictionary file; a frame with a bad checksum is counted, not applied', async () => {
    const dir = tempDir()
    const dictionary = Buffer.from(JSON.stringify(events.slice(0, 20)))
    writeFileSync(join(dir, 'dict'), dictionary)
    const corrupt = likeOf(corpus.names.likers[5]!)
    const server = await jetstream({ dictionary, faults: withFaults([[corrupt, 'corrupt-zstd']]) })
    const service = await serve(join(dir, 'db.sqlite'), [server.url], 'zstd', ['--zstd-dictionary', join(dir, 'dict')])
    await caughtUp(service, server)

    assert.deepEqual(
      server.connections.map((c) => [c.compress, c.offeredDeflate]),
      [[true, false]],
    )
    assertIndexMatches(service.reader, new Model(corpus.events.filter((_, i) => i !== corrupt)))
    const status = await reported(service, (s) => s.decodeErrors > 0)
    assert.equal(status.decodeErrors, 1)
    assert.equal(status.compression, 'zstd')
    assert.equal(status.state, 'connected')
  })

  test('zstd without a dictionary to be had falls back to deflate', async () => {
    const dir = tempDir()
    const server = await jetstream()
    // Nothing cached in the data directory and nothing listens at the download URL.
    const service = await serve(join(dir, 'db.sqlite'), [server.url], 'zstd', ['--zstd-dictionary-url', 'http://127.0.0.1:9/dict'])
    await caughtUp(service, server)
    assert.ok(server.connections.every((c) => c.offeredDeflate && !c.compress))
    assertIndexMatches(service.reader, corpus.model)
    assert.equal((await reported(service, (s) => s.host !== undefined)).compression, 'deflate')
  })

  test('garbage and malformed events are skipped and counted', async () => {
    const garbage = likeOf(corpus.names.likers[4]!)
    const invalidJson = likeOf(corpus.names.likers[6]!)
    const malformed: TestEvent[] = [
      { ...events[3]!, did: 'not a did' },
      { ...events[3]!, commit: { ...events[3]!.commit, rkey: 'no/slashes' } },
    ].map((e, i) => ({ ...e, time_us: lastTime + (i + 1) * 1_000_000 }))
    const served = [...events, ...malformed]
    const server = await jetstream({ events: served, faults: withFaults([[garbage, 'garbage'], [invalidJson, 'invalid-json']]) })
    const service = await serve(join(tempDir(), 'db.sqlite'), [server.url])
    await caughtUp(service, server, served.at(-1)!.time_us)

    assertIndexMatches(service.reader, new Model(corpus.events.filter((_, i) => i !== garbage && i !== invalidJson)))
    const status = await reported(service, (s) => s.queued === 0 && s.skipped['bad-rkey'] !== undefined)
    assert.equal(status.decodeErrors, 2)
    assert.equal(status.skipped['bad-did'], 1)
    assert.equal(status.skipped['bad-rkey'], 1)
  })

  test('a clamped cursor is recorded as a gap, visible in getStatus', async () => {
    const server = await jetstream()
    const service = await serve(join(tempDir(), 'db.sqlite'), [server.url])
    await caughtUp(service, server)
    // The server restarts with a later time base: the cursor is far before its oldest event.
    const shift = 2 * 3600 * 1_000_000
    server.restart(shift)
    await caughtUp(service, server, lastTime + shift)

    const gaps = service.reader.store.sqlite.prepare('SELECT from_us, to_us, host FROM gaps').all()
    assert.deepEqual(gaps, [{ from_us: lastTime, to_us: T0 + shift, host: server.url }])
    const status = await reported(service, (s) => s.gapsDetected > 0)
    assert.equal(status.gapsDetected, 1)
    assert.equal(status.gaps, 1, 'gaps recorded in the database')
    assertIndexMatches(service.reader, corpus.model)
  })

  test('SIGTERM of a spawned serve: exits 0 promptly, cursor = last applied event', async () => {
    const dir = tempDir()
    const db = join(dir, 'db.sqlite')
    const many = realisticEvents(40_000)
    const times = many.map((e) => e.time_us)
    const server = await jetstream({ events: many, deflate: false })
    const child = spawnServe(['--db', db, '--jetstream', server.url, '--compress', 'none', '--log-level', 'warn'])
    cleanups.push(async () => child.proc.kill('SIGKILL'))
    await waitFor('ingest to start', () => child.running() && (dbState(db).cursor ?? 0) >= times[5000]!)

    child.proc.kill('SIGTERM')
    const code = await Promise.race([child.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))])
    assert.equal(code, 0, child.stderr())

    // The index holds exactly the events up to the stored cursor: the last batch was flushed with it.
    const { cursor } = dbState(db)
    const applied = times.indexOf(cursor!)
    assert.ok(applied >= 5000, `cursor ${cursor} is an event's time_us`)
    const file = join(dir, 'prefix.jsonl')
    writeFileSync(file, many.slice(0, applied + 1).map((e) => JSON.stringify(e)).join('\n') + '\n')
    await replayInto(join(dir, 'ref.sqlite'), file)
    await finishAccountJobs(db)
    assert.deepEqual(await snapshot(db), await snapshot(join(dir, 'ref.sqlite')))
  })
})
