import { readRepoCar, recordSlices, verifySignature, type RecordSlice } from './repo-car.js'

/** A downloaded repo to parse: what the writer thread hands to a parse worker. */
export interface ParseJob {
  bytes: Uint8Array
  did: string
  sliceSize: number
  /** undefined: no signature check; otherwise the did:key to check against (null if the document has none). */
  signingKey?: string | null
}

export type ParseEvent = { type: 'start'; rev: string; records: number } | { type: 'slice'; slice: RecordSlice }

/** Parses and verifies a repo, then yields its rev and its record slices (same code in a worker or inline). */
export async function* parseRepo(job: ParseJob): AsyncGenerator<ParseEvent> {
  const repo = readRepoCar(job.bytes, job.did)
  if (job.signingKey !== undefined) await verifySignature(repo, job.signingKey ?? undefined)
  yield { type: 'start', rev: repo.rev, records: repo.keys.length }
  for (const slice of recordSlices(repo, job.sliceSize)) yield { type: 'slice', slice }
}
