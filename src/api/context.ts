import type { LexMap } from '@atproto/lex'
import type { Reader } from '../store/reader.js'

/** What the ingest side reports to the API (live Jetstream state, backfill progress). */
export interface IngestReport {
  ingest?: LexMap
  backfill?: LexMap
}

export interface ApiContext {
  reader: Reader
  version: string
  startedAt: Date
  report: () => IngestReport
}
