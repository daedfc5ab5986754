import { Counter, Histogram, Registry } from 'prom-client'
import type { JetstreamEvent } from '../indexer/events.js'

/** Plain JSON of a prom-client registry: what the writer thread posts to the main thread. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>

/** Collections that get a label of their own; later ones count as "other" (bounded series). */
const MAX_COLLECTIONS = 50

/**
 * Metrics of the writer thread. They live in its own registry; the main thread merges its JSON
 * into /metrics (prom-client's cluster aggregation, with one "worker").
 */
export class IngestMetrics {
  readonly registry = new Registry()
  // Sticky: the first collections seen keep their label for the life of the process, so every
  // series only ever grows. On the real network the busy collections show up in the first second.
  private collections = new Set<string>()
  private appliedChildren = new Map<string, { inc(): void }>()
  private applied = new Counter({
    name: 'backlinks_events_applied_total',
    help: 'Events applied to the index, by kind and (for commits) collection; "other" past the first 50 collections',
    labelNames: ['kind', 'collection'] as const,
    registers: [this.registry],
  })
  private batchSeconds = new Histogram({
    name: 'backlinks_batch_commit_seconds',
    help: 'Time to apply and commit one batch of events',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })

  /** `skipped` is the indexer's own tally by reason, read at each export. */
  constructor(skipped: ReadonlyMap<string, number>) {
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
    let collection = ''
    if (event.kind === 'commit') {
      collection = event.commit.collection
      if (!this.collections.has(collection)) {
        if (this.collections.size < MAX_COLLECTIONS) this.collections.add(collection)
        else collection = 'other'
      }
    }
    // Bound children are cached: this runs for every event, label hashing would not be free.
    const key = `${event.kind} ${collection}`
    let child = this.appliedChildren.get(key)
    if (!child) this.appliedChildren.set(key, (child = this.applied.labels({ kind: event.kind, collection })))
    child.inc()
  }

  batchCommitted(ms: number): void {
    this.batchSeconds.observe(ms / 1000)
  }

  json(): Promise<MetricsJson> {
    return this.registry.getMetricsAsJSON()
  }
}
