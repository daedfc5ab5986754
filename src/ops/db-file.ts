import { existsSync, statSync } from 'node:fs'
import { ConfigError } from '../config.js'

/** For commands that work on an existing index: a clear message instead of SQLite's "unable to open". */
export function requireDatabase(path: string): void {
  if (!existsSync(path)) throw new ConfigError(`no database at ${path} (give --db or set BACKLINKS_DB)`)
}

/** Database plus WAL bytes. */
export function onDisk(path: string): number {
  return fileSize(path) + fileSize(`${path}-wal`)
}

/** Size of a file, 0 when it does not exist (a WAL after a clean shutdown). */
export function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}
