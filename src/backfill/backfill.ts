import type { Indexer } from '../indexer/indexer.js'
import type { Logger } from '../logger.js'
import type { StoreHandle } from '../store/open.js'
import { VERSION } from '../version.js'
import { BackfillError, StoppedError } from './errors.js'
import { HttpClient, xrpcUrl, type FetchFn } from './http.js'
import { Semaphore } from './limits.js'
import { resolveOptions, type BackfillOptions, type ResolvedOptions } from './options.js'
import { ParsePool } from './parse-pool.js'
import { ProgressMeter, type BackfillProgress } from './progress.js'
import { DidResolver } from './resolve.js'
import { listHosts, listReposPage, type ListedHost } from './sources.js'
import { BackfillState, type RepoOutcome } from './state.js'

export type { BackfillOptions, BackfillProgress }

export interface BackfillDeps {
  indexer: Pick<Indexer, 'beginRepo' | 'writeRepoRecords' | 'finishRepo' | 'abortRepo' | 'transaction'>
  store: Pick<StoreHandle, 'sqlite'>
  logger: Logger
  fetch?: FetchFn
}

export interface BackfillSummary {
  /** Repos finished in this run, by outcome. */
  reposDone: number
  reposFailed: number
  reposSkipped: number
  /** Repos still pending (a stopped run, or hosts whose listing failed). */
  reposPending: number
  records: number
  seconds: number
  stopped: boolean
  /** Hosts whose listRepos failed (their listing resumes at the stored cursor next run). */
  listErrors: number
}

/** Pending rows read per query while walking a host's queue. */
const QUEUE_PAGE = 100

/**
 * Fetches whole repos (com.atproto.sync.getRepo) and writes their links through the indexer,
 * on the writer thread, alongside live ingest. Progress is stored per repo, so a stopped run
 * continues where it was. See docs/backfill.md.
 */
export class Backfill {
  private readonly opts: ResolvedOptions
  private readonly state: BackfillState
  private readonly http: HttpClient
  private readonly resolver: DidResolver
  private readonly meter: ProgressMeter
  private readonly abort = new AbortController()
  private readonly global: Semaphore
  private readonly hosts = new Map<string, Semaphore>()
  private readonly log: Logger
  private pool: ParsePool | undefined
  private running: Promise<BackfillSummary> | undefined
  private outcomes = { done: 0, failed: 0, skipped: 0 }
  private listErrors = 0
  /** An error that is not about one repo (the database, a bug): it stops the run and start() throws it. */
  private fatal: unknown
  /** Repos being fetched or written. */
  private inflight = new Set<Promise<void>>()

  constructor(
    options: BackfillOptions,
    private deps: BackfillDeps,
  ) {
    this.opts = resolveOptions({ userAgent: `atproto-backlinks/${VERSION} (backfill)`, ...options })
    this.log = deps.logger.child({ component: 'backfill' })
    this.state = new BackfillState(deps.store.sqlite)
    this.meter = new ProgressMeter(this.state.counts)
    this.http = new HttpClient(deps.fetch ?? fetch, this.opts, this.abort.signal, (err) => {
      this.meter.errors++
      this.log.debug({ err: err.message }, 'retrying')
    })
    this.resolver = new DidResolver(this.http, this.opts.plc, this.opts.hostUrl)
    this.global = new Semaphore(this.opts.concurrency)
  }

  /** Runs until every known repo is finished, or until stop(). Calling it again returns the same run. */
  start(): Promise<BackfillSummary> {
    this.running ??= this.run()
    return this.running
  }

  /** Stops fetching; repos in flight are released (their held live events applied) and stay pending. */
  async stop(): Promise<void> {
    this.abort.abort()
    await this.running?.catch(() => {})
  }

  progress(): BackfillProgress {
    return this.meter.snapshot()
  }

  private async run(): Promise<BackfillSummary> {
    const started = Date.now()
    this.pool = new ParsePool(this.opts.parseWorkers)
    const ticker =
      this.opts.progressIntervalMs > 0 ? setInterval(() => this.log.info(this.meter.line()), this.opts.progressIntervalMs) : undefined
    ticker?.unref()
    try {
      if (this.opts.retryFailed) this.log.info({ repos: this.state.retryFailed() }, 'failed repos queued again')
      if (this.opts.dids?.length) await this.runDids([...new Set(this.opts.dids)])
      else if (this.opts.pds) await this.runHosts([{ origin: new URL(this.opts.pds).origin }])
      else await this.runHosts(await listHosts(this.http, this.opts.relay, this.opts.hostUrl))
    } catch (err) {
      if (!(err instanceof StoppedError)) this.stopOn(err)
    } finally {
      // Whatever ended the run, no repo is still writing when start() settles.
      await Promise.all(this.inflight)
      clearInterval(ticker)
      await this.pool.close()
    }
    if (this.fatal !== undefined) throw this.fatal
    this.log.info(this.meter.line())
    return {
      reposDone: this.outcomes.done,
      reposFailed: this.outcomes.failed,
      reposSkipped: this.outcomes.skipped,
      reposPending: this.state.counts.pending,
      records: this.meter.records,
      seconds: (Date.now() - started) / 1000,
      stopped: this.abort.signal.aborted,
      listErrors: this.listErrors,
    }
  }

  // --- sources ---

  /** Explicit DIDs: resolved to their PDS and fetched whatever their stored state. */
  private async runDids(dids: string[]): Promise<void> {
    for (const did of dids) {
      const release = await this.global.acquire()
      if (this.abort.signal.aborted) {
        release()
        break
      }
      this.track(this.repairOne(did), release)
    }
  }

  private async repairOne(did: string): Promise<void> {
    let resolved
    try {
      resolved = await this.resolver.resolve(did)
    } catch (err) {
      if (!(err instanceof BackfillError)) throw err
      this.state.requeue(did, null)
      return this.finishWithError(did, err, 0)
    }
    this.state.requeue(did, resolved.pds)
    await this.processRepo(did, resolved.pds, { signingKey: resolved.signingKey ?? null })
  }

  /** Each host is a lane: its listing feeds its queue of pending repos; lanes run side by side. */
  private async runHosts(hosts: ListedHost[]): Promise<void> {
    for (const host of hosts) if (!this.state.listing(host.origin).listed) this.meter.unlisted += host.accountCount ?? 0
    const lanes = new Semaphore(this.opts.concurrency * 2)
    await Promise.all(hosts.map((host) => lanes.use(() => this.lane(host)).catch((err) => this.stopOn(err))))
  }

  private async lane(host: ListedHost): Promise<void> {
    if (this.abort.signal.aborted) return
    const { origin } = host
    const listing = this.state.listing(origin)
    let listed = listing.listed
    let wake = () => {}
    // listHost never rejects: its errors are logged (or stop the run).
    const listingDone = listed
      ? Promise.resolve()
      : this.listHost(host, listing.cursor, () => wake()).finally(() => {
          listed = true
          wake()
        })
    const slots = this.hostSlots(origin)
    const tasks = new Set<Promise<void>>()
    try {
      for (let after = 0; !this.abort.signal.aborted; ) {
        const rows = this.state.pendingOf(origin, after, QUEUE_PAGE)
        if (rows.length === 0) {
          if (listed) break
          await new Promise<void>((resolve) => (wake = resolve)) // the next page, or the end of listing
          continue
        }
        for (const row of rows) {
          after = row.rowid
          // The host slot first: waiting for a busy host must not hold one of the global slots.
          const hostSlot = await slots.acquire()
          const globalSlot = await this.global.acquire()
          if (this.abort.signal.aborted) {
            hostSlot()
            globalSlot()
            break
          }
          const task = this.track(this.processRepo(row.did, origin, { hostSlot }), () => {
            globalSlot()
            tasks.delete(task)
          })
          tasks.add(task)
        }
      }
    } finally {
      await Promise.all([listingDone, ...tasks])
    }
  }

  /** Runs a repo task: counted as in flight until it settles; an unexpected error stops the run. */
  private track(task: Promise<void>, done: () => void): Promise<void> {
    const tracked = task
      .catch((err) => {
        if (!(err instanceof StoppedError)) this.stopOn(err)
      })
      .finally(() => {
        done()
        this.inflight.delete(tracked)
      })
    this.inflight.add(tracked)
    return tracked
  }

  /** Lists a host's repos page by page from the stored cursor; each page is stored with its cursor. */
  private async listHost(host: ListedHost, cursor: string | undefined, onPage: () => void): Promise<void> {
    let estimate = host.accountCount ?? 0 // the relay's count, in "unlisted" until pages arrive
    const slots = this.hostSlots(host.origin)
    try {
      do {
        const page = await slots.use(() => listReposPage(this.http, host.origin, cursor))
        this.state.addPage(host.origin, page.repos, page.cursor)
        const seen = Math.min(estimate, page.repos.length)
        estimate -= seen
        this.meter.unlisted -= seen
        cursor = page.cursor
        onPage()
      } while (cursor)
    } catch (err) {
      if (err instanceof StoppedError) return
      if (!(err instanceof BackfillError)) return this.stopOn(err)
      this.listErrors++
      this.log.warn({ host: host.origin, err: err.message }, 'listing repos failed; it resumes from its cursor next run')
    } finally {
      this.meter.unlisted -= estimate
    }
  }

  private hostSlots(origin: string): Semaphore {
    let slots = this.hosts.get(origin)
    if (!slots) this.hosts.set(origin, (slots = new Semaphore(this.opts.perHost)))
    return slots
  }

  // --- one repo ---

  /**
   * Fetches and writes one repo with retries, and records the outcome. `hostSlot`: a slot of the
   * host already held by the caller, used for the first download. `signingKey`: known key (null:
   * the DID document has none); resolved here when signatures are checked and it is not given.
   */
  private async processRepo(
    did: string,
    origin: string,
    given: { hostSlot?: () => void; signingKey?: string | null },
  ): Promise<void> {
    let handed = given.hostSlot
    let attempts = 0
    try {
      let signingKey: string | null | undefined
      if (this.opts.verifySignatures) signingKey = given.signingKey ?? (await this.resolver.resolve(did)).signingKey ?? null
      const download = async (): Promise<Uint8Array> => {
        const release = handed ?? (await this.hostSlots(origin).acquire())
        handed = undefined
        try {
          return await this.http.get(xrpcUrl(origin, 'com.atproto.sync.getRepo', { did }), this.opts.maxRepoBytes)
        } finally {
          release()
        }
      }
      await this.http.withRetries((n) => {
        attempts = n
        return this.writeRepo(did, download, signingKey, n)
      })
      this.count('done')
    } catch (err) {
      if (err instanceof StoppedError || this.abort.signal.aborted) return // stays pending for the next run
      if (!(err instanceof BackfillError)) throw err
      this.finishWithError(did, err, attempts)
    } finally {
      handed?.()
    }
  }

  /**
   * One attempt. Live events for the DID are held from before the download until the repo is
   * written (finishRepo applies those newer than the repo's rev), or released on failure. The
   * last slice, finishRepo and the repo's `done` row are one transaction: a small repo costs
   * one commit.
   */
  private async writeRepo(
    did: string,
    download: () => Promise<Uint8Array>,
    signingKey: string | null | undefined,
    attempts: number,
  ): Promise<void> {
    const { indexer } = this.deps
    indexer.beginRepo(did)
    try {
      const bytes = await download()
      let records = 0
      const present = new Set<string>()
      await this.pool!.parse(
        { bytes, did, sliceSize: this.opts.sliceSize, signingKey },
        (slice) => {
          for (const r of slice.records) present.add(`${r.collection}/${r.rkey}`)
          records += slice.walked
          const write = () => {
            if (slice.records.length > 0) indexer.writeRepoRecords(did, slice.rev, slice.records)
          }
          if (!slice.last) write()
          else {
            // The writer's transaction, not the connection's: with live ingest behind, it is a
            // savepoint of the open ingest span, entered only after the span's changes are written.
            indexer.transaction(() => {
              write()
              indexer.finishRepo(did, slice.rev, present)
              this.state.finish(did, { state: 'done', rev: slice.rev, records, attempts })
            })
          }
          this.meter.records += slice.walked
        },
        this.abort.signal,
      )
    } catch (err) {
      indexer.abortRepo(did)
      throw err
    }
  }

  private stopOn(err: unknown): void {
    this.fatal ??= err
    this.log.error({ err }, 'backfill stopped by an error')
    this.abort.abort()
  }

  /** Counts a repo's outcome for this run (its row is already written). */
  private count(state: RepoOutcome['state']): void {
    this.outcomes[state]++
    this.meter.finished++
  }

  private finishWithError(did: string, err: BackfillError, attempts: number): void {
    const outcome: RepoOutcome = { state: err.outcome === 'skip' ? 'skipped' : 'failed', error: err.message, attempts }
    this.state.finish(did, outcome)
    this.count(outcome.state)
    this.log[outcome.state === 'failed' ? 'warn' : 'debug']({ did, error: outcome.error, attempts }, `repo ${outcome.state}`)
  }
}

export function runBackfill(opts: BackfillOptions, deps: BackfillDeps): Promise<BackfillSummary> {
  return new Backfill(opts, deps).start()
}
