import type { RepoCounts } from './state.js'

/** Progress as getStatus shows it (integers and strings only: it travels as a LexMap). */
export interface BackfillProgress {
  reposDone: number
  reposFailed: number
  reposSkipped: number
  reposPending: number
  /** Accounts the relay reports on hosts not listed yet (an estimate, counted in the ETA). */
  reposUnlisted: number
  /** Records read from repos in this run. */
  records: number
  recordsPerSecond: number
  /** Errors retried in this run (each repo's final failure is in reposFailed). */
  errors: number
  startedAt: string
  /** Expected end, from the rate of repos finished over the last minute. */
  eta?: string
}

const WINDOW_MS = 60_000

/** Counters of one run, and rates over a sliding minute. */
export class ProgressMeter {
  records = 0
  errors = 0
  /** Repos finished (done, failed or skipped) in this run. */
  finished = 0
  unlisted = 0
  readonly startedAt = new Date()
  private samples: Array<{ at: number; records: number; finished: number }> = []

  constructor(private counts: RepoCounts) {
    this.sample()
  }

  snapshot(): BackfillProgress {
    this.sample()
    const first = this.samples[0]
    const last = this.samples[this.samples.length - 1]
    const seconds = Math.max(1, (last.at - first.at) / 1000)
    const repoRate = (last.finished - first.finished) / seconds
    const remaining = this.counts.pending + this.unlisted
    const progress: BackfillProgress = {
      reposDone: this.counts.done,
      reposFailed: this.counts.failed,
      reposSkipped: this.counts.skipped,
      reposPending: this.counts.pending,
      reposUnlisted: this.unlisted,
      records: this.records,
      recordsPerSecond: Math.round((last.records - first.records) / seconds),
      errors: this.errors,
      startedAt: this.startedAt.toISOString(),
    }
    if (repoRate > 0) progress.eta = new Date(last.at + (remaining / repoRate) * 1000).toISOString()
    return progress
  }

  /** The periodic line for people. */
  line(): string {
    const p = this.snapshot()
    const known = p.reposDone + p.reposFailed + p.reposSkipped + p.reposPending + p.reposUnlisted
    const eta = p.eta ? `, ETA ${duration(Date.parse(p.eta) - Date.now())}` : ''
    return (
      `backfill: ${fmt(p.reposDone + p.reposFailed + p.reposSkipped)}/${fmt(known)} repos ` +
      `(${fmt(p.reposFailed)} failed, ${fmt(p.reposSkipped)} skipped), ${fmt(p.records)} records, ` +
      `${fmt(p.recordsPerSecond)} records/s, ${fmt(p.errors)} errors retried${eta}`
    )
  }

  private sample(): void {
    const now = { at: Date.now(), records: this.records, finished: this.finished }
    const n = this.samples.length
    // About one sample a second: a reading less than a second after the one before replaces the last.
    if (n > 1 && now.at - this.samples[n - 2].at < 1000) this.samples[n - 1] = now
    else this.samples.push(now)
    while (this.samples.length > 2 && now.at - this.samples[1].at >= WINDOW_MS) this.samples.shift()
  }
}

const fmt = (n: number) => n.toLocaleString('en-US')

function duration(ms: number): string {
  const m = Math.max(0, Math.round(ms / 60_000))
  if (m < 60) return `${m}m`
  const h = Math.floor(m / 60)
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`
}
