import type { Config } from '../config.js'
import { compactDatabase, DatabaseInUseError } from '../ops/compact.js'
import { requireDatabase } from '../ops/db-file.js'

/** Prints {before, after, walTruncated, vacuumed} as JSON; exits 1 when VACUUM is refused. */
export async function runCompact(config: Config): Promise<number> {
  requireDatabase(config.db!)
  try {
    const result = compactDatabase(config.db!, { vacuum: config.vacuum })
    console.log(JSON.stringify(result))
    if (!result.walTruncated) console.error('backlinks compact: readers kept part of the WAL in use; run again later')
    return 0
  } catch (err) {
    if (!(err instanceof DatabaseInUseError)) throw err
    console.error(`backlinks compact: ${err.message}`)
    return 1
  }
}
