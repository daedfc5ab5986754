import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { registerDidFunctions } from './did-codec.js'
import type { Logger } from '../logger.js'
import { migrateToLatest } from './migrations.js'
import type { Schema } from './schema.js'

export interface OpenOptions {
  /** The reader side: no schema changes, writes refused by SQLite (query_only). */
  readOnly?: boolean
  /** Page cache of this connection in MiB (see BENCHMARKS.md for how the defaults were chosen). */
  cacheMiB?: number
  /** Told which migrations are about to run, and when they are done (they can take minutes on a large index). */
  onMigration?: (event: { pending: string[] } | { done: string[]; ms: number }) => void
}

export interface StoreHandle {
  sqlite: Database.Database
  db: Kysely<Schema>
  path: string
  close(): Promise<void>
}

/** Opens (and on the writer side creates and migrates) the index database in WAL mode. */
export async function openStore(path: string, opts: OpenOptions = {}): Promise<StoreHandle> {
  if (path !== ':memory:' && !opts.readOnly) mkdirSync(dirname(path), { recursive: true })
  const sqlite = new Database(path, { fileMustExist: !!opts.readOnly })
  // WAL: readers never block the single writer and never see a half-applied batch.
  // synchronous=NORMAL in WAL is safe against power loss for committed-and-checkpointed data and
  // keeps every committed transaction across a process crash (what "lose nothing" needs).
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('busy_timeout = 5000')
  // Writer 48 MiB, reader 8: with 64 and 16 the service peaked above its 300 MB budget, and these
  // ingested at the same rate within noise (BENCHMARKS.md); the OS page cache holds the rest.
  sqlite.pragma(`cache_size = -${(opts.cacheMiB ?? (opts.readOnly ? 8 : 48)) * 1024}`)
  sqlite.pragma('temp_store = MEMORY')
  // Page size and mmap stay SQLite's defaults (4 KiB, off): 16 KiB pages gained nothing end to end,
  // and mapped pages count in RSS (BENCHMARKS.md, "Page size and memory-mapped reads").
  // Checkpoint every ~40 MB of WAL instead of SQLite's 4 MB: fewer, larger checkpoints cut ingest
  // time by ~15% here (BENCHMARKS.md); readers still see every commit at once.
  if (!opts.readOnly) sqlite.pragma('wal_autocheckpoint = 10000')
  if (opts.readOnly) sqlite.pragma('query_only = ON')
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) })
  if (!opts.readOnly) {
    registerDidFunctions(sqlite)
    await migrateToLatest(db, sqlite, opts.onMigration)
  }
  return {
    sqlite,
    db,
    path,
    async close() {
      await db.destroy()
      // Kysely closes the handle only if it ever ran a query through it; the reader never does.
      if (sqlite.open) sqlite.close()
    },
  }
}

/** Logs a database upgrade: which migrations run (the service does not answer meanwhile), and how long they took. */
export function migrationLog(log: Logger): OpenOptions['onMigration'] {
  return (e) => {
    if ('pending' in e) log.info({ migrations: e.pending }, 'upgrading the database; this can take minutes on a large index')
    else log.info({ migrations: e.done, ms: e.ms }, 'database upgraded')
  }
}
