import Database from 'better-sqlite3'
import { onDisk } from './db-file.js'

export interface CompactResult {
  /** Bytes of the database and its WAL before and after. */
  before: number
  after: number
  /** False when readers kept part of the WAL in use (run again later, or stop the service). */
  walTruncated: boolean
  vacuumed: boolean
}

export class DatabaseInUseError extends Error {}

/**
 * Folds the WAL back into the database file and truncates it; with `vacuum`, also rewrites the
 * file without free pages. The checkpoint is safe while the service runs. VACUUM is not: it
 * rewrites the whole file through the WAL (needing as much free disk again) and holds the write
 * lock throughout, so the ingest writer would time out and stop. It is refused unless this
 * process can lock the database exclusively, i.e. nothing else has it open.
 */
export function compactDatabase(path: string, opts: { vacuum?: boolean } = {}): CompactResult {
  const before = onDisk(path)
  // Waiting is right for a checkpoint next to a running service; a VACUUM refuses at once instead.
  const db = new Database(path, { fileMustExist: true, timeout: opts.vacuum ? 0 : 5000 })
  try {
    if (opts.vacuum) {
      // Exclusive locking mode takes the file lock at the first access and keeps it until close.
      db.pragma('locking_mode = EXCLUSIVE')
      try {
        db.exec('BEGIN EXCLUSIVE; COMMIT')
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err
        throw new DatabaseInUseError(
          `${path} is open in another process (is "backlinks serve" running?): VACUUM needs the database to itself. ` +
            'Stop the service first; a checkpoint alone (without --vacuum) is safe while it runs.',
        )
      }
    }
    // PASSIVE first copies what it can without blocking anyone, so the TRUNCATE that follows
    // (which holds the writer back while it works) has little left to do.
    db.pragma('wal_checkpoint(PASSIVE)')
    const [truncate] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>
    if (opts.vacuum) {
      db.exec('VACUUM')
      db.pragma('wal_checkpoint(TRUNCATE)')
    }
    return { before, after: onDisk(path), walTruncated: truncate.busy === 0, vacuumed: !!opts.vacuum }
  } finally {
    db.close()
  }
}
