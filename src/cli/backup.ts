import type { Config } from '../config.js'
import { backupDatabase } from '../ops/backup.js'
import { requireDatabase } from '../ops/db-file.js'

/** Prints {path, bytes, seconds, cursor} of the copy as JSON. */
export async function runBackup(config: Config, positionals: string[]): Promise<number> {
  if (positionals.length !== 1) {
    console.error('backlinks backup: give one destination (a new file, or a directory for a timestamped file)')
    return 2
  }
  requireDatabase(config.db!)
  console.log(JSON.stringify(await backupDatabase(config.db!, positionals[0])))
  return 0
}
