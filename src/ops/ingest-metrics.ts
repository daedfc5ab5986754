import { Counter, Histogram, Registry } from 'prom-client'
import type { JetstreamEvent } from '../indexer/events.js'

/** Plain JSON of a prom-client registry: what the writer thread posts to the main thread. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>

/** Collections that get a label of their own; later ones count as "other" (bounded series). */
const MAX_COLLECTIONS = 50

interface Applied {
  labels: { kind: string; collection: string }
  n: number
}

/**
 * Metrics of the writer thread. They live in its own registry; the main thread merges its JSON
 * into /metrics (prom-client's cluster aggregation, with one "worker").
 */
export class IngestMetrics {
  readonly registry = new Registry()
  // Counted in plain maps and copied into the counter at export: prom-client's inc() hashes its
  // labels, ~1 µs on every event. The first 50 collections seen keep their name for the life of
  // the process (so every series only grows; the busy ones show up in the first second).
  private commits = new Map<string, Applied>()
  private others = new Map<string, Applied>()
  private batchSeconds = new Histogram({
    name: 'backlinks_batch_commit_seconds',
    help: 'Time to apply and commit one batch of events',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })

  /** `skipped` is the indexer's own tally by reason, read at each export. */
  constructor(skipped: ReadonlyMap<string, number>) {
    const applied = [this.commits, this.others]
    new Counter({
      name: 'backlinks_events_applied_total',
      help: 'Events applied to the index, by kind and (for commits) collection; "other" past the first 50 collections',
      labelNames: ['kind', 'collection'] as const,
      registers: [this.registry],
      collect() {
        this.reset()
        for (const map of applied) for (const { labels, n } of map.values()) this.inc(labels, n)
      },
    })
    new Counter({
      name: 'backlinks_events_skipped_total',
      help: 'Events not applied, by reason (malformed, stale rev...)',
      labelNames: ['reason'] as const,
      registers: [this.registry],
      collect() {
        this.reset()
        for (const [reason, n] of skipped) this.inc({ reason }, n)
      },
    })
  }

  eventApplied(event: JetstreamEvent): void {
    if (event.kind === 'commit') this.commitEntry(event.commit.collection).n++
    else (this.others.get(event.kind) ?? add(this.others, event.kind, { kind: event.kind, collection: '' })).n++
  }

  batchCommitted(ms: number): void {
    this.batchSeconds.observe(ms / 1000)
  }

  json(): Promise<MetricsJson> {
    return this.registry.getMetricsAsJSON()
  }

  private commitEntry(collection: string): Applied {
    const entry = this.commits.get(collection)
    if (entry) return entry
    if (this.commits.size < MAX_COLLECTIONS) return add(this.commits, collection, { kind: 'commit', collection })
    return this.commits.get('other') ?? add(this.commits, 'other', { kind: 'commit', collection: 'other' })
  }
}

function add(map: Map<string, Applied>, key: string, labels: Applied['labels']): Applied {
  const entry = { labels, n: 0 }
  map.set(key, entry)
  return entry
}
