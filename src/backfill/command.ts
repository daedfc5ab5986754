import { IngestLoop } from '../indexer/ingest-loop.js'
import type { Logger } from '../logger.js'
import { Backfill } from './backfill.js'

/** The parsed options `backlinks backfill` uses (a subset of the CLI's Config). */
export interface BackfillCommandConfig {
  db?: string
  relay?: string
  pds?: string
  /** Repeatable --did; DIDs may also be given as positionals. */
  did?: string | string[]
  plc?: string
  concurrency?: string
  'retry-failed'?: boolean
}

/**
 * `backlinks backfill`: fetches repos (all hosts of a relay, one PDS, or the given DIDs) into the
 * database, then prints a JSON summary. Ctrl-C stops cleanly; running it again resumes.
 * Exit codes: 0 done, 1 some explicitly given DID failed, 2 bad options, 130 interrupted.
 */
export async function runBackfillCommand(config: BackfillCommandConfig, positionals: string[], log: Logger): Promise<number> {
  const dids = [...(Array.isArray(config.did) ? config.did : config.did ? [config.did] : []), ...positionals]
  const concurrency = config.concurrency === undefined ? undefined : Number(config.concurrency)
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
    console.error(`backlinks backfill: --concurrency must be a positive integer, got "${config.concurrency}"`)
    return 2
  }
  if (config.pds && dids.length > 0) {
    console.error('backlinks backfill: give --pds or DIDs, not both')
    return 2
  }
  const loop = await IngestLoop.open(config.db!, log)
  const backfill = new Backfill(
    {
      relay: config.relay,
      pds: config.pds,
      dids: dids.length > 0 ? dids : undefined,
      plc: config.plc,
      concurrency,
      retryFailed: config['retry-failed'],
    },
    { indexer: loop.indexer, store: loop.store, logger: log },
  )
  const stop = () => {
    log.info('stopping backfill: finishing writes in flight (run again to resume)')
    void backfill.stop()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    const summary = await backfill.start()
    console.log(JSON.stringify(summary))
    if (summary.stopped) return 130
    return dids.length > 0 && summary.reposFailed > 0 ? 1 : 0
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    await loop.close()
  }
}
