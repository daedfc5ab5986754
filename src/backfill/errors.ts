/**
 * What to do with a repo (or a listing) after an error:
 * - retry: transient (network, timeout, 429, 5xx), tried again after a backoff;
 * - fail: the repo is recorded as failed with the reason (corrupt, too large, bad response);
 * - skip: the repo is not there to fetch (deactivated, taken down, deleted, not found).
 */
export type Outcome = 'retry' | 'fail' | 'skip'

export class BackfillError extends Error {
  constructor(
    message: string,
    readonly outcome: Outcome,
    /** For 429/503: how long the server asked us to wait. */
    readonly retryAfterMs?: number,
  ) {
    super(message)
  }
}

/** Raised when the run is being stopped: the repo stays pending, it is not a failure. */
export class StoppedError extends Error {
  constructor() {
    super('backfill stopped')
  }
}

/** An error's message with its cause's (fetch says "fetch failed", the cause says why). */
export function messageOf(err: unknown): string {
  const e = err as Error
  const cause = (e?.cause as Error | undefined)?.message
  return (e?.message ?? String(err)) + (cause ? `: ${cause}` : '')
}
