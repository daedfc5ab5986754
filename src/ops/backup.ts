import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ConfigError } from '../config.js'
import { openStore } from '../store/open.js'

export interface BackupResult {
  path: string
  bytes: number
  seconds: number
  /** time_us of the last event in the copy. */
  cursor?: number
}

/**
 * A consistent copy of a live index: SQLite's online backup API copies every page in one step,
 * inside one read transaction, so the copy is the snapshot at its start while the writer keeps
 * committing (WAL readers never block it).
 *
 * One step, because the stepped default (100 pages, then yield) restarts from scratch whenever
 * another connection commits between steps: measured on a 220 MB index under ingest, 570 to
 * 2,451 steps instead of ~550 and up to 8 s; a large index ingesting live would never finish.
 * VACUUM INTO is just as consistent but rebuilds every b-tree: 2.5 to 3.3 s there against 0.7 to
 * 2.4 s, for a file only ~10% smaller, and the read snapshot (which pins the WAL) lasts longer.
 */
export async function backupDatabase(dbPath: string, dest: string): Promise<BackupResult> {
  const path = isDirectory(dest) ? join(dest, `backlinks-${timestamp()}.sqlite`) : dest
  if (existsSync(path)) throw new ConfigError(`${path} exists; not overwriting it`)
  const partial = `${path}.partial`
  const started = performance.now()
  const store = await openStore(dbPath, { readOnly: true })
  try {
    mkdirSync(dirname(path), { recursive: true })
    rmSync(partial, { force: true })
    await store.sqlite.backup(partial, { progress: () => 0x7fffffff })
    // Renamed only once complete: a cron job never leaves a half-written file under the real name.
    renameSync(partial, path)
  } catch (err) {
    rmSync(partial, { force: true })
    throw err
  } finally {
    await store.close()
  }
  const copy = await openStore(path, { readOnly: true })
  const cursor = (copy.sqlite.prepare("SELECT value FROM meta WHERE key = 'cursor'").pluck().get() as number | undefined) ?? undefined
  await copy.close()
  return { path, bytes: statSync(path).size, seconds: (performance.now() - started) / 1000, cursor }
}

function isDirectory(path: string): boolean {
  return path.endsWith('/') || (existsSync(path) && statSync(path).isDirectory())
}

/** 20260131T120000Z: sorts by time, safe in file names. */
function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')
}
