// Helpers for live-ingest tests: event sets for the test Jetstream server, a spawned
// `backlinks serve`, a direct look into its database, and a by-name snapshot of an index
// (ids differ between databases; names do not) to compare two runs.
import Database from 'better-sqlite3'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { generateEvents } from '../../bench/generate.js'
import { IngestLoop } from '../../src/indexer/ingest-loop.js'
import { silentLogger } from '../../src/logger.js'
import { openStore } from '../../src/store/open.js'
import { Reader } from '../../src/store/reader.js'
import { decodeDid } from '../../src/store/did-codec.js'
import { decodeRkey } from '../../src/store/tid.js'
import { DID_ORDER } from '../../src/store/link-blocks.js'
import { blockLinks, timeLinks } from './index-tables.js'
import type { TestEvent } from './jetstream-server.js'

export const MAIN = join(import.meta.dirname, '../../src/cli/main.js')

/** Realistic events (likes, follows, posts, account changes...) with increasing time_us. */
export function realisticEvents(count: number, seed = 7): TestEvent[] {
  return [...generateEvents({ seed, count, accounts: 3000, posts: 2000 })].map((line) => JSON.parse(line) as TestEvent)
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** Cursor and pending account jobs, read straight from a (running or stopped) service's database. */
export function dbState(dbPath: string): { cursor?: number; cursorHost?: string; jobs: number } {
  let db: Database.Database | undefined
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true })
    const meta = db.prepare('SELECT value FROM meta WHERE key = ?').pluck()
    return {
      cursor: (meta.get('cursor') as number | undefined) ?? undefined,
      cursorHost: (meta.get('cursor_host') as string | undefined) ?? undefined,
      jobs: db.prepare('SELECT count(*) FROM account_jobs').pluck().get() as number,
    }
  } catch {
    return { jobs: 0 } // not created or not migrated yet
  } finally {
    db?.close()
  }
}

export interface SpawnedServe {
  proc: ChildProcess
  exited: Promise<number | null>
  stderr(): string
  /** Throws, with the log, if the process has exited: fails a wait at once instead of at its timeout. */
  running(): true
}

/** `backlinks serve` in a child process, replay-free, HTTP on a random port, logs kept. */
export function spawnServe(args: string[]): SpawnedServe {
  const proc = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--host', '127.0.0.1', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let log = ''
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()))
  const exited = once(proc, 'exit').then(([code]) => code as number | null)
  const running = (): true => {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`serve exited early:\n${log}`)
    return true
  }
  return { proc, exited, stderr: () => log, running }
}

/** The HTTP base URL of a spawned serve, from its 'serving XRPC' log line (needs --log-level info). */
export async function servedUrl(child: SpawnedServe): Promise<string> {
  let port: number | undefined
  await waitFor('serve to listen', () => {
    child.running()
    const line = child.stderr().split('\n').find((l) => l.includes('"serving XRPC"'))
    port = line && JSON.parse(line).port
    return port !== undefined
  })
  return `http://127.0.0.1:${port}`
}

/** Applies events like an uninterrupted run would, including the account jobs that follow. */
export async function replayInto(dbPath: string, file: string): Promise<void> {
  const loop = await IngestLoop.open(dbPath, silentLogger)
  await loop.replay([file])
  await finishAccountJobs(dbPath, loop)
  await loop.close()
}

/** Runs a stopped service's leftover account jobs, so two databases can be compared. */
export async function finishAccountJobs(dbPath: string, open?: IngestLoop): Promise<void> {
  const loop = open ?? (await IngestLoop.open(dbPath, silentLogger))
  while (loop.writer.pendingAccountJobs() > 0) loop.indexer.runAccountJobs()
  if (!open) await loop.close()
}

/** Everything the index answers from, by name: links, counts, accounts, totals. */
export async function snapshot(dbPath: string): Promise<Record<string, unknown>> {
  const store = await openStore(dbPath, { readOnly: true })
  const reader = new Reader(store)
  const db = store.sqlite
  const source = (id: number) => {
    const s = reader.sourceName(id)
    return `${s.collection}:${s.path}`
  }
  const rows = <T>(sql: string) => db.prepare(sql).all() as T[]
  try {
    const stats = reader.stats()
    return {
      records: stats.records,
      links: stats.links,
      linksByTime: (timeLinks(db) as Array<[number, number, Buffer | string, number]>)
        .map(([target, src, rkey, didId]) => `${reader.targetName(target)} ${source(src)} ${reader.didName(didId)} ${decodeRkey(rkey)}`)
        .sort(),
      linksByDid: blockLinks(db, DID_ORDER).length,
      counts: rows<{ target_id: number; source_id: number; records: number; dids: number }>('SELECT target_id, source_id, records, dids FROM link_counts')
        .map((r) => `${reader.targetName(r.target_id)} ${source(r.source_id)} ${r.records} ${r.dids}`)
        .sort(),
      accounts: rows<{ did: Buffer | string; rev: string | null; status: string | null }>('SELECT did, rev, status FROM dids')
        .map((r) => `${decodeDid(r.did)} ${r.rev} ${r.status}`)
        .sort(),
    }
  } finally {
    await store.close()
  }
}
