import { readRepoCar, recordSlices, verifySignature, type RecordSlice } from './repo-car.js'

/** A downloaded repo to parse: what the writer thread hands to a parse worker. */
export interface ParseJob {
  bytes: Uint8Array
  did: string
  sliceSize: number
  /** undefined: no signature check; otherwise the did:key to check against (null if the document has none). */
  signingKey?: string | null
}

/** A slice of a parsed repo, with the repo's rev; `last` marks the repo's final slice. */
export interface ParsedSlice extends RecordSlice {
  rev: string
  last: boolean
}

/**
 * Parses and verifies a repo, then yields its record slices (at least one, the last marked),
 * so that a small repo is a single message from a worker. Same code in a worker or inline.
 */
export async function* parseRepo(job: ParseJob): AsyncGenerator<ParsedSlice> {
  const repo = readRepoCar(job.bytes, job.did)
  if (job.signingKey !== undefined) await verifySignature(repo, job.signingKey ?? undefined)
  let previous: RecordSlice = { records: [], walked: 0, invalid: 0 }
  let first = true
  for (const slice of recordSlices(repo, job.sliceSize)) {
    if (!first) yield { ...previous, rev: repo.rev, last: false }
    previous = slice
    first = false
  }
  yield { ...previous, rev: repo.rev, last: true }
}
