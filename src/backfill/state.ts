import type Database from 'better-sqlite3'
import type { ListedRepo } from './sources.js'

export type RepoState = 'pending' | 'done' | 'failed' | 'skipped'
export type RepoCounts = Record<RepoState, number>

export interface PendingRepo {
  rowid: number
  did: string
}

export interface RepoOutcome {
  state: Exclude<RepoState, 'pending'>
  rev?: string
  records?: number
  error?: string
  attempts: number
}

/**
 * Resumable backfill state: one backfill_repos row per repo, and per host the listRepos cursor
 * (meta `backfill:cursor:<origin>`) and whether listing finished (`backfill:listed:<origin>`).
 * A page of listed repos and the cursor after it are stored in one transaction, so a restart
 * neither skips nor re-lists a page. Counts by state are kept in memory for progress reports.
 */
export class BackfillState {
  readonly counts: RepoCounts = { pending: 0, done: 0, failed: 0, skipped: 0 }
  private s
  private storePage

  constructor(sqlite: Database.Database) {
    this.s = {
      counts: sqlite.prepare('SELECT state, count(*) AS n FROM backfill_repos GROUP BY state'),
      stateOf: sqlite.prepare('SELECT state FROM backfill_repos WHERE did = ?').pluck(),
      insert: sqlite.prepare(
        `INSERT INTO backfill_repos (did, host, state, error, attempts, updated_at) VALUES (?, ?, ?, ?, 0, ?)`,
      ),
      requeue: sqlite.prepare(`UPDATE backfill_repos SET host = ?, state = 'pending', error = NULL, updated_at = ? WHERE did = ?`),
      finish: sqlite.prepare(
        `UPDATE backfill_repos SET state = ?, rev = coalesce(?, rev), records = coalesce(?, records), error = ?,
         attempts = attempts + ?, updated_at = ? WHERE did = ?`,
      ),
      retryFailed: sqlite.prepare(`UPDATE backfill_repos SET state = 'pending', error = NULL, updated_at = ? WHERE state = 'failed'`),
      pendingOf: sqlite.prepare(
        `SELECT rowid, did FROM backfill_repos WHERE host = ? AND state = 'pending' AND rowid > ? ORDER BY rowid LIMIT ?`,
      ),
      getMeta: sqlite.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: sqlite.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
      delMeta: sqlite.prepare('DELETE FROM meta WHERE key = ?'),
    }
    for (const row of this.s.counts.all() as Array<{ state: RepoState; n: number }>) this.counts[row.state] = row.n
    this.storePage = sqlite.transaction((host: string, repos: ListedRepo[], cursor: string | undefined) => {
      for (const r of repos) this.addListed(host, r)
      if (cursor === undefined) {
        this.s.delMeta.run(cursorKey(host))
        this.s.setMeta.run(listedKey(host), 1)
      } else this.s.setMeta.run(cursorKey(host), cursor)
    })
  }

  /** Where listing of a host stands: finished, or the cursor to continue from (undefined: from the start). */
  listing(host: string): { listed: boolean; cursor?: string } {
    if (this.s.getMeta.get(listedKey(host)) !== undefined) return { listed: true }
    return { listed: false, cursor: (this.s.getMeta.get(cursorKey(host)) as string | undefined) ?? undefined }
  }

  /** Stores a listRepos page and the cursor after it (undefined: the host is fully listed). */
  addPage(host: string, repos: ListedRepo[], cursor: string | undefined): void {
    this.storePage(host, repos, cursor)
  }

  /** Pending repos of a host in the order they were listed, after rowid `after`. */
  pendingOf(host: string, after: number, limit: number): PendingRepo[] {
    return this.s.pendingOf.all(host, after, limit) as PendingRepo[]
  }

  /** Makes a repo pending on `host` whatever its state (explicit DIDs are always fetched again). */
  requeue(did: string, host: string | null): void {
    const prev = this.s.stateOf.get(did) as RepoState | undefined
    if (prev === undefined) this.s.insert.run(did, host, 'pending', null, now())
    else this.s.requeue.run(host, now(), did)
    this.move(prev, 'pending')
  }

  retryFailed(): number {
    const n = this.s.retryFailed.run(now()).changes
    this.counts.failed -= n
    this.counts.pending += n
    return n
  }

  finish(did: string, outcome: RepoOutcome): void {
    const prev = this.s.stateOf.get(did) as RepoState | undefined
    this.s.finish.run(
      outcome.state,
      outcome.rev ?? null,
      outcome.records ?? null,
      outcome.error ?? null,
      outcome.attempts,
      now(),
      did,
    )
    if (prev !== undefined) this.move(prev, outcome.state)
  }

  /** A listed repo is new (pending, or skipped when inactive); a skipped one listed active elsewhere (a migrated account) becomes pending. */
  private addListed(host: string, repo: ListedRepo): void {
    const prev = this.s.stateOf.get(repo.did) as RepoState | undefined
    if (prev === undefined) {
      const state = repo.active ? 'pending' : 'skipped'
      this.s.insert.run(repo.did, host, state, repo.active ? null : (repo.status ?? 'inactive'), now())
      this.move(undefined, state)
    } else if (prev === 'skipped' && repo.active) {
      this.s.requeue.run(host, now(), repo.did)
      this.move(prev, 'pending')
    }
  }

  private move(from: RepoState | undefined, to: RepoState): void {
    if (from) this.counts[from]--
    this.counts[to]++
  }
}

const cursorKey = (host: string) => `backfill:cursor:${host}`
const listedKey = (host: string) => `backfill:listed:${host}`
const now = () => new Date().toISOString()
