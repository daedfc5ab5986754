import type Database from 'better-sqlite3'
import type { ExtractedLink } from '../links/types.js'
import { BatchBuffer, byTimeOrder, recordOrder } from './batch-buffer.js'
import { Interner, type DidEntry } from './interner.js'
import type { StoreHandle } from './open.js'
import { PairWriter } from './pair-writer.js'
import { keyParam, RecordBlockWriter, unpackBlock, type BlockKey } from './record-blocks.js'
import { encodeRkey } from './tid.js'
import { packPairs, unpackPairs } from './varint.js'

export type { DidEntry }
type Rkey = Buffer | string
type Pair = [sourceId: number, targetId: number]

/**
 * Most buffered link and record changes in an ingest span: ~340 bytes each in the writer's heap
 * (~20 MB), which its 128 MB heap limit has room for; 100,000 ran out of it. Its age is bounded
 * too (WriterOptions.spanMaxMs), which bounds how stale reads are while ingest is behind.
 */
const SPAN_MAX_CHANGES = 60_000

export interface WriterOptions {
  /** Longest an ingest span stays open, in ms (--commit-interval); 0 commits every batch. */
  spanMaxMs?: number
}

export interface PutOptions {
  /** The record is a create from a commit newer than the account's stored rev. */
  newCreate?: boolean
}

/** Account states that hide every link of the account until it is active again. */
export const HIDING_STATUSES = new Set(['deactivated', 'takendown', 'suspended'])

export function isHidden(entry: DidEntry): boolean {
  return entry.status !== null && entry.status !== 'deleted'
}

/**
 * The single writer: every change to the index goes through here, on one connection, with raw
 * prepared statements (the hot path; Kysely's builder costs ~10x per row here).
 * Counts per (target, source) are maintained on every change, so reads never count rows.
 */
export class Writer {
  readonly ids: Interner
  private recordsDelta = 0
  private linksDelta = 0
  private buffer = new BatchBuffer()
  /** When the open ingest span began (0: none open); see applyInSpan. */
  private spanStartedAt = 0
  /** Nesting of transaction() calls, so only the outermost commits a span first. */
  private depth = 0
  private s

  private readonly spanMaxMs: number
  private readonly records: RecordBlockWriter
  private readonly pairs: PairWriter

  constructor(
    readonly store: StoreHandle,
    opts: WriterOptions = {},
  ) {
    this.spanMaxMs = opts.spanMaxMs ?? 5000
    const db: Database.Database = store.sqlite
    this.ids = new Interner(db)
    this.records = new RecordBlockWriter(db)
    this.pairs = new PairWriter(db)
    this.s = {
      begin: db.prepare('BEGIN'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      setDid: db.prepare('UPDATE dids SET rev = ?, status = ? WHERE id = ?'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMetaInt: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, CAST(? AS INTEGER))'),
      addMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, CAST(? AS INTEGER)) ON CONFLICT DO UPDATE SET value = value + excluded.value',
      ),
      putJob: db.prepare(
        'INSERT OR REPLACE INTO account_jobs (did_id, action, after_collection, after_rkey) VALUES (?, ?, NULL, NULL)',
      ),
      nextJob: db.prepare('SELECT did_id, action, after_collection, after_rkey FROM account_jobs LIMIT 1'),
      moveJob: db.prepare('UPDATE account_jobs SET after_collection = ?, after_rkey = ? WHERE did_id = ?'),
      endJob: db.prepare('DELETE FROM account_jobs WHERE did_id = ?'),
      countJobs: db.prepare('SELECT count(*) FROM account_jobs').pluck(),
      jobBlocksFirst: db
        .prepare('SELECT collection_id, first, entries FROM records WHERE did_id = ? ORDER BY collection_id, first LIMIT ?')
        .raw(),
      jobBlocksAfter: db
        .prepare(
          `SELECT collection_id, first, entries FROM records WHERE did_id = ? AND (collection_id, first) > (?, ?)
           ORDER BY collection_id, first LIMIT ?`,
        )
        .raw(),
      accountBlocks: db.prepare('SELECT collection_id, first, entries FROM records WHERE did_id = ?').raw(),
      hasRecords: db.prepare('SELECT 1 FROM records WHERE did_id = ? LIMIT 1').pluck(),
      collectionById: db.prepare('SELECT nsid FROM collections WHERE id = ?').pluck(),
      addGap: db.prepare('INSERT INTO gaps (from_us, to_us, host, detected_at) VALUES (?, ?, ?, ?)'),
    }
  }

  /**
   * Runs fn in one transaction together with the counters it changed; rolls back both on error.
   * Inside an open ingest span it is a savepoint of the span, committed with it; the span's
   * buffered changes are written first, so fn sees them and its failure cannot undo them.
   */
  transaction<T>(fn: () => T): T {
    if (this.depth === 0) this.flushSpan()
    const run = this.store.sqlite.transaction(() => {
      const out = fn()
      this.flush()
      return out
    })
    this.depth++
    try {
      return run()
    } catch (err) {
      this.discardBuffered()
      throw err
    } finally {
      this.depth--
    }
  }

  /**
   * Applies fn (a batch of events) inside the ingest span, a transaction that stays open across
   * batches while the writer is behind: the batches' changes are buffered and written, in key
   * order, when the span commits. With one batch per commit, nearly every link dirtied its own
   * B-tree page in each of the tables it touches once the database outgrew the page cache; a span
   * of ten batches dirties those pages once for all of them (BENCHMARKS.md). On error the whole
   * span is rolled back: nothing of it was committed, and ingest resumes from the stored cursor.
   */
  applyInSpan(fn: () => void): void {
    if (this.depth > 0) throw new Error('applyInSpan inside a transaction')
    if (!this.spanStartedAt) {
      this.s.begin.run()
      this.spanStartedAt = Date.now()
    }
    try {
      fn()
    } catch (err) {
      this.rollbackSpan()
      throw err
    }
  }

  get inSpan(): boolean {
    return this.spanStartedAt !== 0
  }

  /** Whether the open span holds enough changes, or is old enough, to be committed now. */
  spanDue(): boolean {
    if (!this.spanStartedAt) return false
    const changes = this.buffer.links.size + this.buffer.records.size
    return changes >= SPAN_MAX_CHANGES || Date.now() - this.spanStartedAt >= this.spanMaxMs
  }

  /** Writes the open span's buffered changes and commits it (nothing to do without one). */
  commitSpan(): void {
    if (!this.spanStartedAt) return
    this.flushSpan()
    try {
      this.s.commit.run()
    } catch (err) {
      this.rollbackSpan()
      throw err
    }
    this.spanStartedAt = 0
  }

  /** Writes the open span's buffered changes to the tables, still uncommitted. */
  flushSpan(): void {
    if (!this.spanStartedAt) return
    try {
      this.flush()
    } catch (err) {
      this.rollbackSpan()
      throw err
    }
  }

  private rollbackSpan(): void {
    this.spanStartedAt = 0
    this.discardBuffered()
    if (this.store.sqlite.inTransaction) this.s.rollback.run()
  }

  private discardBuffered(): void {
    this.recordsDelta = 0
    this.linksDelta = 0
    this.buffer.clear()
    this.ids.reset()
  }

  did(did: string): DidEntry {
    return this.ids.did(did)
  }

  setRev(entry: DidEntry, rev: string): void {
    entry.rev = rev
    this.ids.dirtyDids.set(entry.did, entry)
  }

  /** Creates or replaces a record's links (an update, or a replayed create, is a diff: no double counts). */
  putRecord(entry: DidEntry, collection: string, rkey: string, links: readonly ExtractedLink[], opts: PutOptions = {}): void {
    const collectionId = this.ids.collectionId(collection)
    const rk = encodeRkey(rkey)
    const pairs = this.pairsOf(collectionId, links)
    // A TID is minted once per record, so a create newer than everything applied for the account
    // cannot find an indexed record under it: the lookup (a random read per event) is skipped.
    // Other keys ('self') can be deleted and created again across a gap, so they are looked up.
    const unseenTid = opts.newCreate === true && typeof rk !== 'string'
    const oldBlob = this.currentLinks(entry.id, collectionId, rk, !unseenTid)
    const oldPairs = oldBlob ? unpackPairs(oldBlob) : []
    if (!isHidden(entry)) {
      const keep = new Set(pairs.map(pairKey))
      const had = new Set(oldPairs.map(pairKey))
      for (const p of oldPairs) if (!keep.has(pairKey(p))) this.removeLink(p, rk, entry.id)
      for (const p of pairs) if (!had.has(pairKey(p))) this.addLink(p, rk, entry.id)
    }
    // Records without links are not kept: a later delete of them has nothing to undo.
    if (pairs.length > 0) this.buffer.setRecord(entry.id, collectionId, rk, packPairs(pairs))
    else if (oldBlob) this.buffer.setRecord(entry.id, collectionId, rk, null)
    this.recordsDelta += (pairs.length > 0 ? 1 : 0) - (oldBlob ? 1 : 0)
  }

  deleteRecord(entry: DidEntry, collection: string, rkey: string): void {
    const collectionId = this.ids.collectionId(collection)
    const rk = encodeRkey(rkey)
    const oldBlob = this.currentLinks(entry.id, collectionId, rk)
    if (!oldBlob) return
    if (!isHidden(entry)) for (const p of unpackPairs(oldBlob)) this.removeLink(p, rk, entry.id)
    this.buffer.setRecord(entry.id, collectionId, rk, null)
    this.recordsDelta--
  }

  /**
   * Applies an account's state. Hiding, showing and purging its links is queued as a job and done
   * in bounded slices by runAccountJobs, so a million-link account never stalls the writer.
   */
  setAccountState(entry: DidEntry, active: boolean, status: string | undefined): void {
    let next: string | null
    if (active) next = null
    else if (status === 'deleted') next = 'deleted'
    else if (status && HIDING_STATUSES.has(status)) next = status
    else return // desynchronized, throttled, unknown: nothing changes
    const wasHidden = isHidden(entry)
    const prev = entry.status
    entry.status = next
    this.ids.dirtyDids.set(entry.did, entry)
    if (next === 'deleted') this.s.putJob.run(entry.id, 'purge')
    else if (!wasHidden && isHidden(entry)) this.s.putJob.run(entry.id, 'hide')
    else if (wasHidden && next === null) this.s.putJob.run(entry.id, 'show')
    else if (prev === 'deleted' && next === null) this.s.endJob.run(entry.id)
  }

  /**
   * Works through queued account jobs, touching at most `budget` records (whole blocks of them;
   * more only when one block holds more).
   * Returns records touched. A job resumes after the last block it did; a block written again
   * meanwhile may be done twice, which changes nothing (links are added and removed idempotently).
   */
  runAccountJobs(budget: number): number {
    let done = 0
    while (done < budget) {
      const job = this.s.nextJob.get() as
        | { did_id: number; action: string; after_collection: number | null; after_rkey: Rkey | null }
        | undefined
      if (!job) break
      const limit = budget - done
      const rows = (
        job.after_collection === null
          ? this.s.jobBlocksFirst.all(job.did_id, limit)
          : this.s.jobBlocksAfter.all(job.did_id, job.after_collection, job.after_rkey, limit)
      ) as Array<[collectionId: number, first: BlockKey, entries: Buffer]>
      let last = 0
      let full = false
      for (; last < rows.length; last++) {
        const [collectionId, first, blob] = rows[last]
        const entries = unpackBlock(first, blob)
        // Whole blocks, within the budget unless the slice would otherwise do nothing.
        if (done > 0 && done + entries.length > budget) {
          full = true
          break
        }
        for (const e of entries) {
          for (const p of unpackPairs(e.links)) {
            if (job.action === 'show') this.addLink(p, e.rkey, job.did_id)
            else this.removeLink(p, e.rkey, job.did_id)
          }
          if (job.action === 'purge') {
            this.buffer.setRecord(job.did_id, collectionId, e.rkey, null)
            this.recordsDelta--
          }
        }
        done += entries.length
      }
      if (last === rows.length && rows.length < limit) this.s.endJob.run(job.did_id)
      else if (last > 0) this.s.moveJob.run(rows[last - 1][0], keyParam(rows[last - 1][1]), job.did_id)
      if (full) break
    }
    return done
  }

  pendingAccountJobs(): number {
    return this.s.countJobs.get() as number
  }

  /** Whether any record of the account is indexed (written state: call between transactions, after flushSpan). */
  hasRecords(entry: DidEntry): boolean {
    return this.s.hasRecords.get(entry.id) !== undefined
  }

  /** (collection, rkey) of every indexed record of an account: what a repo backfill may replace. */
  recordKeys(entry: DidEntry): Array<{ collection: string; rkey: Rkey }> {
    const names = new Map<number, string>()
    const keys: Array<{ collection: string; rkey: Rkey }> = []
    for (const [collectionId, first, blob] of this.s.accountBlocks.all(entry.id) as Array<[number, BlockKey, Buffer]>) {
      let collection = names.get(collectionId)
      if (collection === undefined) {
        collection = this.s.collectionById.get(collectionId) as string
        names.set(collectionId, collection)
      }
      for (const e of unpackBlock(first, blob)) keys.push({ collection, rkey: e.rkey })
    }
    return keys
  }

  getCursor(): number | undefined {
    const v = this.s.getMeta.get('cursor') as number | undefined
    return v ?? undefined
  }

  setCursor(timeUs: number): void {
    this.s.setMetaInt.run('cursor', timeUs)
  }

  recordGap(fromUs: number, toUs: number, host: string | null): void {
    this.s.addGap.run(fromUs, toUs, host, new Date().toISOString())
  }

  private pairsOf(collectionId: number, links: readonly ExtractedLink[]): Pair[] {
    const seen = new Set<string>()
    const pairs: Pair[] = []
    for (const { path, target } of links) {
      const pair: Pair = [this.ids.sourceId(collectionId, path), this.ids.targetId(target)]
      const key = pairKey(pair)
      if (seen.has(key)) continue
      seen.add(key)
      pairs.push(pair)
    }
    return pairs
  }

  /**
   * The record's packed links as this transaction sees them: buffered changes first, then the
   * table, unless the caller knows the table cannot hold it (`lookUp` false).
   */
  private currentLinks(didId: number, collectionId: number, rkey: Rkey, lookUp = true): Buffer | undefined {
    const op = this.buffer.record(didId, collectionId, rkey)
    if (op) return op.links ?? undefined
    return lookUp ? this.records.links(didId, collectionId, rkey) : undefined
  }

  private addLink([sourceId, targetId]: Pair, rkey: Rkey, didId: number): void {
    this.buffer.link(targetId, sourceId, rkey, didId, 1)
  }

  private removeLink([sourceId, targetId]: Pair, rkey: Rkey, didId: number): void {
    this.buffer.link(targetId, sourceId, rkey, didId, -1)
  }

  /** Writes the transaction's buffered changes in key order, maintaining the counts. */
  private flush(): void {
    this.linksDelta += this.pairs.apply([...this.buffer.links.values()].filter((op) => op.delta !== 0).sort(byTimeOrder))
    this.records.apply([...this.buffer.records.values()].sort(recordOrder))
    const dids = [...this.ids.dirtyDids.values()].sort((a, b) => a.id - b.id)
    for (const d of dids) this.s.setDid.run(d.rev, d.status, d.id)
    this.ids.dirtyDids.clear()
    this.buffer.clear()
    if (this.recordsDelta) this.s.addMeta.run('records', this.recordsDelta)
    if (this.linksDelta) this.s.addMeta.run('links', this.linksDelta)
    this.recordsDelta = 0
    this.linksDelta = 0
  }

  /** Jetstream instance whose time base the stored cursor is in; undefined when unknown. */
  getCursorHost(): string | undefined {
    const v = this.store.sqlite.prepare("SELECT value FROM meta WHERE key = 'cursor_host'").pluck().get()
    return typeof v === 'string' ? v : undefined
  }

  /** Rarely written (host changes, replays), so the statements are prepared on demand. */
  setCursorHost(host: string | undefined): void {
    if (host === undefined) this.store.sqlite.prepare("DELETE FROM meta WHERE key = 'cursor_host'").run()
    else this.store.sqlite.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor_host', ?)").run(host)
  }
}

function pairKey(p: Pair): string {
  return `${p[0]}:${p[1]}`
}
