import { ConfigError } from '../config.js'
import { IngestLoop } from '../indexer/ingest-loop.js'
import type { Logger } from '../logger.js'
import { Backfill, type BackfillOptions } from './backfill.js'

/** The parsed options `backlinks backfill` and `serve --backfill` use (a subset of the CLI's Config). */
export interface BackfillCommandConfig {
  db?: string
  relay?: string
  pds?: string
  /** DIDs to (re)fetch: repeatable and/or comma-separated; positionals count too. */
  did?: string | string[]
  plc?: string
  concurrency?: string
  'retry-failed'?: boolean
}

/** BackfillOptions from the CLI options; throws ConfigError on bad values. */
export function backfillOptions(config: BackfillCommandConfig, positionals: string[] = []): BackfillOptions {
  const given = [...(Array.isArray(config.did) ? config.did : config.did ? [config.did] : []), ...positionals]
  const dids = given.flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean)
  const concurrency = config.concurrency === undefined ? undefined : Number(config.concurrency)
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new ConfigError(`--concurrency must be a positive integer, got "${config.concurrency}"`)
  }
  if (config.pds && dids.length > 0) throw new ConfigError('give --pds or DIDs, not both')
  for (const url of [config.relay, config.pds, config.plc]) {
    if (url !== undefined && !URL.canParse(url)) throw new ConfigError(`not a URL: "${url}"`)
  }
  return {
    relay: config.relay,
    pds: config.pds,
    dids: dids.length > 0 ? dids : undefined,
    plc: config.plc,
    concurrency,
    retryFailed: config['retry-failed'],
  }
}

/**
 * `backlinks backfill`: fetches repos (all hosts of a relay, one PDS, or the given DIDs) into the
 * database, then prints a JSON summary. Ctrl-C stops cleanly; running it again resumes.
 * Exit codes: 0 done, 1 a DID given explicitly failed, 130 interrupted (bad options: ConfigError).
 */
export async function runBackfillCommand(config: BackfillCommandConfig, positionals: string[], log: Logger): Promise<number> {
  const options = backfillOptions(config, positionals)
  const loop = await IngestLoop.open(config.db!, log)
  const backfill = new Backfill(options, { indexer: loop.indexer, store: loop.store, logger: log })
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
    return options.dids && summary.reposFailed > 0 ? 1 : 0
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    await loop.close()
  }
}
