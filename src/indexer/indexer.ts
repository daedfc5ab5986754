import { extractLinks } from '../links/extract.js'
import { silentLogger, type Logger } from '../logger.js'
import type { Writer } from '../store/writer.js'
import { decodeRkey } from '../store/tid.js'
import type { CommitEvent, JetstreamEvent } from './events.js'
import { checkEvent, type SkipReason } from './validate.js'

export interface BatchResult {
  events: number
  applied: number
  skipped: number
  /** time_us of the newest event in the batch, now stored as the resume cursor. */
  cursor?: number
}

export interface ApplyOptions {
  /** Leave the batch in the open ingest span unless the span is due (more batches follow at once). */
  keepOpen?: boolean
}

export interface RepoRecord {
  collection: string
  rkey: string
  record: unknown
}

export interface IndexerOptions {
  logger?: Logger
  /** Records of hidden/shown/deleted accounts processed after each batch (bounds the stall). */
  accountJobBudget?: number
  /** Called for every event handed to apply (for metrics by collection). */
  onApplied?: (event: JetstreamEvent) => void
}

/**
 * Applies Jetstream events (and backfilled repos) to the store, many events per transaction.
 * Idempotent: a replayed event or stretch of events leaves the index as if applied once.
 */
export class Indexer {
  readonly skipped = new Map<SkipReason | 'stale', number>()
  readonly appliedByKind = new Map<string, number>()
  /** Repos being backfilled: their held live events, and whether the index had records of them. */
  private held = new Map<string, { events: JetstreamEvent[]; hadRecords: boolean }>()
  private log: Logger
  private jobBudget: number
  /** Events applied since the last commit (see applyValues). */
  private eventsInSpan = 0
  private onApplied?: (event: JetstreamEvent) => void

  constructor(
    readonly writer: Writer,
    opts: IndexerOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger
    this.jobBudget = opts.accountJobBudget ?? 5000
    this.onApplied = opts.onApplied
  }

  /**
   * Parses and applies JSON lines (one event each) and commits them, or with `keepOpen` leaves
   * them in the open ingest span unless it is due (Writer.applyInSpan): the caller is behind and
   * more batches follow at once.
   */
  applyLines(lines: readonly string[], opts: ApplyOptions = {}): BatchResult {
    const values: unknown[] = []
    let bad = 0
    for (const line of lines) {
      if (line.trim() === '') continue
      try {
        values.push(JSON.parse(line))
      } catch {
        bad++
        this.skip('bad-json', line.slice(0, 200))
      }
    }
    const result = this.applyValues(values, opts)
    return { ...result, events: result.events + bad, skipped: result.skipped + bad }
  }

  applyValues(values: readonly unknown[], opts: ApplyOptions = {}): BatchResult {
    let applied = 0
    let skipped = 0
    let cursor: number | undefined
    this.writer.applyInSpan(() => {
      for (const value of values) {
        const checked = checkEvent(value)
        const timeUs = checked.ok ? checked.event.time_us : checked.timeUs
        if (timeUs !== undefined && (cursor === undefined || timeUs > cursor)) cursor = timeUs
        if (!checked.ok) {
          skipped++
          this.skip(checked.reason, JSON.stringify(value)?.slice(0, 200))
          continue
        }
        if (this.apply(checked.event)) applied++
        else skipped++
      }
      if (cursor !== undefined) this.writer.setCursor(cursor)
    })
    this.eventsInSpan += values.length
    if (!opts.keepOpen || this.writer.spanDue()) {
      this.writer.commitSpan()
      // A job slice is a transaction of its own, after a commit: one inside the span would have
      // to write the span's buffered changes first, defeating it. Its budget grows with the span,
      // so account jobs keep pace with events however long spans get.
      if (this.writer.pendingAccountJobs() > 0) this.runAccountJobs(Math.max(this.jobBudget, this.eventsInSpan))
      this.eventsInSpan = 0
    }
    return { events: values.length, applied, skipped, cursor }
  }

  /** Runs fn in one writer transaction (a savepoint of an open ingest span), for callers that add their own rows. */
  transaction<T>(fn: () => T): T {
    return this.writer.transaction(fn)
  }

  /** One slice of pending account hide/show/purge work (at most `budget` records), in its own transaction. */
  runAccountJobs(budget = this.jobBudget): number {
    return this.writer.transaction(() => this.writer.runAccountJobs(budget))
  }

  // --- backfill: a repo is written whole while live events for it are held ---

  /** Holds live commit events for `did` until finishRepo/abortRepo. */
  beginRepo(did: string): void {
    if (this.held.has(did)) return
    this.writer.flushSpan() // hasRecords reads the tables, not the span's buffered changes
    this.held.set(did, { events: [], hadRecords: this.writer.hasRecords(this.writer.did(did)) })
  }

  /** Writes a slice of a repo's records (one transaction). Skipped if the index already has a newer rev. */
  writeRepoRecords(did: string, rev: string, records: readonly RepoRecord[]): void {
    this.writer.transaction(() => {
      const entry = this.writer.did(did)
      if (entry.rev !== null && entry.rev > rev) return
      for (const r of records) this.writer.putRecord(entry, r.collection, r.rkey, extractLinks(r.record))
    })
  }

  /**
   * Ends a repo written at `rev`: records of the account absent from the repo are removed, the
   * rev is stored, and held live events newer than `rev` are applied (older ones are in the repo).
   * `present` holds `collection/rkey` of every record in the repo.
   */
  finishRepo(did: string, rev: string, present: ReadonlySet<string>): void {
    this.writer.transaction(() => {
      const entry = this.writer.did(did)
      if (entry.rev === null || entry.rev <= rev) {
        // Only records indexed before this repo was begun can be missing from it.
        const stale = (this.held.get(did)?.hadRecords ?? true) ? this.writer.recordKeys(entry) : []
        for (const { collection, rkey } of stale) {
          const key = decodeRkey(rkey)
          if (!present.has(`${collection}/${key}`)) this.writer.deleteRecord(entry, collection, key)
        }
        this.writer.setRev(entry, rev)
      }
      this.releaseHeld(did)
    })
  }

  /** Gives up on a repo: its held events are applied as if nothing had been held. */
  abortRepo(did: string): void {
    this.writer.transaction(() => this.releaseHeld(did))
  }

  private releaseHeld(did: string): void {
    const events = this.held.get(did)?.events ?? []
    this.held.delete(did)
    for (const e of events) this.apply(e)
  }

  /** Returns false when the event was stale (older rev than the account's last applied one). */
  private apply(event: JetstreamEvent): boolean {
    this.appliedByKind.set(event.kind, (this.appliedByKind.get(event.kind) ?? 0) + 1)
    this.onApplied?.(event)
    switch (event.kind) {
      case 'commit':
        return this.applyCommit(event)
      case 'account':
        this.writer.setAccountState(this.writer.did(event.did), event.account.active, event.account.status)
        return true
      case 'identity':
        return true
    }
  }

  private applyCommit(event: CommitEvent): boolean {
    const held = this.held.get(event.did)
    if (held) {
      held.events.push(event)
      return true
    }
    const { rev, operation, collection, rkey, record } = event.commit
    const entry = this.writer.did(event.did)
    // Events of one commit share a rev, so an equal rev is applied (apply is idempotent).
    if (entry.rev !== null && rev < entry.rev) {
      this.skipped.set('stale', (this.skipped.get('stale') ?? 0) + 1)
      return false
    }
    if (operation === 'delete') this.writer.deleteRecord(entry, collection, rkey)
    else {
      const newCreate = operation === 'create' && entry.rev !== null && rev > entry.rev
      this.writer.putRecord(entry, collection, rkey, extractLinks(record), { newCreate })
    }
    if (entry.rev !== rev) this.writer.setRev(entry, rev)
    return true
  }

  private skip(reason: SkipReason, sample?: string): void {
    const n = (this.skipped.get(reason) ?? 0) + 1
    this.skipped.set(reason, n)
    if (n === 1) this.log.warn({ reason, sample }, 'skipping malformed event (logged once per reason)')
  }
}
