// Backfill rate: builds repos with @atproto/repo, then backfills them through the whole pipeline
// (listRepos, getRepo, CAR/MST verification, parse workers, writes) into a fresh database.
//
//   node dist/bench/backfill.js [--repos 200] [--records 1000] [--templates 20] [--workers N]
//                               [--concurrency 8] [--http] [--dir PATH] [--keep]
//
// Repos are signed commits over `templates` distinct record sets (building 1,000-record MSTs
// costs ~0.5 s each; --templates equal to --repos makes every repo distinct). Without --http
// the CARs are handed over by an in-memory fetch; with it a local HTTP server sends them.
import { TID } from '@atproto/common'
import { Secp256k1Keypair } from '@atproto/crypto'
import type { LexMap } from '@atproto/lex'
import { BlockMap, blocksToCarFile, readCarWithRoot, signCommit } from '@atproto/repo'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Backfill, type BackfillDeps } from '../src/backfill/backfill.js'
import { readRepoCar, recordSlices } from '../src/backfill/repo-car.js'
import { IngestLoop } from '../src/indexer/ingest-loop.js'
import { silentLogger } from '../src/logger.js'
import { Reader } from '../src/store/reader.js'
import { testDid } from '../test/helpers/backfill-records.js'
import { buildRepo, TestPds, type RecordInput } from '../test/helpers/test-pds.js'

const NETWORK_RECORDS = 12e9

const { values: args } = parseArgs({
  options: {
    repos: { type: 'string', default: '200' },
    records: { type: 'string', default: '1000' },
    templates: { type: 'string', default: '20' },
    workers: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    http: { type: 'boolean', default: false },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})
const REPOS = Number(args.repos)
const RECORDS = Number(args.records)
const TEMPLATES = Math.min(REPOS, Number(args.templates))

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A repo's records in roughly the network's mix: likes ~45%, follows ~15%, posts ~20% (replies,
 * quotes, mentions, links, or none), reposts ~12%, blocks and list items; targets skewed to
 * popular accounts and posts.
 */
function networkRecords(seed: number, count: number): RecordInput[] {
  const random = rng(seed)
  const popular = (n: number) => Math.floor(n * random() ** 3) // skew: a few targets get most links
  const account = () => testDid(10_000 + popular(100_000))
  const post = () => ({ uri: `at://${account()}/app.bsky.feed.post/${TID.fromTime(1.7e15 + popular(1e6) * 1000, 0).toString()}`, cid: 'bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a' })
  const createdAt = () => new Date(1.7e12 + Math.floor(random() * 3e10)).toISOString()
  const out: RecordInput[] = [{ collection: 'app.bsky.actor.profile', rkey: 'self', record: { $type: 'app.bsky.actor.profile', displayName: `bench ${seed}` } }]
  while (out.length < count) {
    const r = random()
    let record: LexMap
    if (r < 0.45) record = { $type: 'app.bsky.feed.like', subject: post(), createdAt: createdAt() }
    else if (r < 0.6) record = { $type: 'app.bsky.graph.follow', subject: account(), createdAt: createdAt() }
    else if (r < 0.8) {
      const kind = random()
      record = { $type: 'app.bsky.feed.post', text: `post ${out.length} of ${seed}`, createdAt: createdAt(), langs: ['en'] }
      if (kind < 0.4) record.reply = { root: post(), parent: post() }
      else if (kind < 0.5) record.embed = { $type: 'app.bsky.embed.record', record: post() }
      else if (kind < 0.65) record.facets = [{ index: { byteStart: 0, byteEnd: 4 }, features: [{ $type: 'app.bsky.richtext.facet#mention', did: account() }] }]
      else if (kind < 0.75) record.embed = { $type: 'app.bsky.embed.external', external: { uri: `https://example.com/${popular(1e5)}`, title: '', description: '' } }
    } else if (r < 0.92) record = { $type: 'app.bsky.feed.repost', subject: post(), createdAt: createdAt() }
    else if (r < 0.96) record = { $type: 'app.bsky.graph.block', subject: account(), createdAt: createdAt() }
    else record = { $type: 'app.bsky.graph.listitem', subject: account(), list: `at://${testDid(seed)}/app.bsky.graph.list/3l7a7wbbv2f2r`, createdAt: createdAt() }
    out.push({ collection: record.$type as string, rkey: TID.nextStr(), record })
  }
  return out
}

/** CARs for REPOS accounts: each a fresh signed commit (its own DID and rev) over a template's MST. */
async function buildCars(): Promise<Map<string, Uint8Array>> {
  const key = await Secp256k1Keypair.create()
  const cars = new Map<string, Uint8Array>()
  for (let t = 0; t < TEMPLATES; t++) {
    const template = await buildRepo(testDid(t), networkRecords(t + 1, RECORDS), key)
    const { root, blocks } = await readCarWithRoot(template.car)
    blocks.delete(root)
    for (let i = t; i < REPOS; i += TEMPLATES) {
      const commit = await signCommit({ did: testDid(i), version: 3, rev: TID.nextStr(), prev: null, data: template.repo.commit.data }, key)
      const withCommit = new BlockMap(blocks)
      cars.set(testDid(i), await blocksToCarFile(await withCommit.add(commit), withCommit))
    }
  }
  return cars
}

/** A fetch answering listRepos and getRepo from memory, as a PDS at https://bench.invalid would. */
function memoryFetch(cars: Map<string, Uint8Array>): typeof fetch {
  const dids = [...cars.keys()]
  return async (input) => {
    const url = new URL(String(input))
    if (url.pathname.endsWith('listRepos')) {
      const start = Number(url.searchParams.get('cursor') ?? 0)
      const repos = dids.slice(start, start + 1000).map((did) => ({ did, head: 'x', rev: 'x', active: true }))
      return Response.json({ repos, cursor: start + 1000 < dids.length ? String(start + 1000) : undefined })
    }
    const car = cars.get(url.searchParams.get('did') ?? '')!
    return new Response(car as Uint8Array<ArrayBuffer>, { headers: { 'content-length': String(car.byteLength) } })
  }
}

/** Records/s of verifying and decoding the CARs alone, on this thread (what a parse worker does). */
function parseRate(cars: Map<string, Uint8Array>): number {
  const started = performance.now()
  let records = 0
  for (const [did, car] of cars) for (const slice of recordSlices(readRepoCar(car, did), 5000)) records += slice.walked
  return records / ((performance.now() - started) / 1000)
}

async function main() {
  const buildStarted = performance.now()
  const cars = await buildCars()
  const carBytes = [...cars.values()].reduce((n, c) => n + c.byteLength, 0)
  console.log(`built ${REPOS} repos x ${RECORDS} records (${TEMPLATES} templates, ${(carBytes / 1e6).toFixed(1)} MB of CAR) in ${((performance.now() - buildStarted) / 1000).toFixed(1)} s`)

  const parsing = parseRate(cars)
  const pds = args.http ? await TestPds.start() : undefined
  if (pds) for (const [did, car] of cars) pds.repos.set(did, { car, rev: 'x' })
  const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'backlinks-bench-backfill-'))
  const loop = await IngestLoop.open(join(dir, 'backfill.sqlite'), silentLogger)

  // Time the writer thread spends in the indexer: how close to writer-bound the run is.
  let writerMs = 0
  const timed = <A extends unknown[]>(fn: (...a: A) => void) => (...a: A) => {
    const t = performance.now()
    fn(...a)
    writerMs += performance.now() - t
  }
  const ix = loop.indexer
  const indexer: BackfillDeps['indexer'] = {
    beginRepo: (did) => ix.beginRepo(did),
    writeRepoRecords: timed((did: string, rev: string, records: Parameters<typeof ix.writeRepoRecords>[2]) => ix.writeRepoRecords(did, rev, records)),
    finishRepo: timed((did: string, rev: string, present: ReadonlySet<string>) => ix.finishRepo(did, rev, present)),
    abortRepo: (did) => ix.abortRepo(did),
    transaction: (fn) => ix.transaction(fn),
  }
  const backfill = new Backfill(
    {
      pds: pds?.url ?? 'https://bench.invalid',
      concurrency: Number(args.concurrency),
      parseWorkers: args.workers === undefined ? undefined : Number(args.workers),
      progressIntervalMs: 0,
    },
    { indexer, store: loop.store, logger: silentLogger, fetch: pds ? undefined : memoryFetch(cars) },
  )
  const started = performance.now()
  const cpuBefore = process.threadCpuUsage()
  const summary = await backfill.start()
  const seconds = (performance.now() - started) / 1000
  // CPU time of this (the writer) thread: the rate it could sustain with a core to itself, which
  // a shared or busy machine's wall clock does not show.
  const cpu = process.threadCpuUsage(cpuBefore)
  const writerCpuSeconds = (cpu.user + cpu.system) / 1e6
  const stats = new Reader(loop.store).stats()
  const rate = summary.records / seconds
  const workers = args.workers ?? String(Math.min(4, availableParallelism() - 1))
  console.log(
    [
      `backfill (${pds ? 'local HTTP' : 'in-memory fetch'}, ${workers} parse workers, concurrency ${args.concurrency}):`,
      `  ${summary.reposDone} repos, ${summary.records.toLocaleString('en-US')} records in ${seconds.toFixed(1)} s`,
      `  ${fmt(rate)} records/s, ${(summary.reposDone / seconds).toFixed(1)} repos/s`,
      `  stages: parse+verify ${fmt(parsing)} records/s per thread; indexer ${fmt(summary.records / (writerMs / 1000))} records/s ` +
        `(the writer thread was in the indexer ${((writerMs / 1000 / seconds) * 100).toFixed(0)}% of the time)`,
      `  writer thread CPU: ${fmt((writerCpuSeconds / summary.records) * 1e6)} µs/record (${fmt(summary.records / writerCpuSeconds)} records/s with a core of its own)`,
      `  index: ${stats.records.toLocaleString('en-US')} records with links, ${stats.links.toLocaleString('en-US')} links, ${(stats.dbBytes / 1e6).toFixed(0)} MB`,
      `  projected for ${NETWORK_RECORDS / 1e9} billion records: ${(NETWORK_RECORDS / rate / 86400).toFixed(1)} days (${Math.round(NETWORK_RECORDS / rate / 3600)} h)`,
    ].join('\n'),
  )
  if (summary.reposFailed > 0) console.log(`  ${summary.reposFailed} repos FAILED`)
  await loop.close()
  await pds?.close()
  if (!args.keep && !args.dir) rmSync(dir, { recursive: true, force: true })
}

await main()
