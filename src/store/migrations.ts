import { Kysely, sql } from 'kysely'
import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration'
import type Database from 'better-sqlite3'
import { DID_ORDER_ABOVE } from './did-order.js'
import { migrateInlineLinks } from './migrate-inline-links.js'
import { migrateLinkBlocks } from './migrate-link-blocks.js'
import { migrateRecordBlocks } from './migrate-record-blocks.js'
import type { OpenOptions } from './open.js'
import type { Schema } from './schema.js'

// Migrations are listed here (not read from a folder) so they work from any install path. Those
// that need more than SQL run on the connection itself (synchronous, like every other writer step).
const migrations = (sqlite: Database.Database): Record<string, Migration> => ({
  '2026-11-27-001-initial': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('dids')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('did', 'text', (c) => c.notNull().unique())
        .addColumn('rev', 'text')
        .addColumn('status', 'text')
        .execute()
      await db.schema
        .createTable('collections')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('nsid', 'text', (c) => c.notNull().unique())
        .execute()
      await db.schema
        .createTable('sources')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('collection_id', 'integer', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addUniqueConstraint('sources_collection_path', ['collection_id', 'path'])
        .execute()
      await db.schema
        .createTable('targets')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('key', 'blob', (c) => c.notNull().unique())
        .execute()
      // WITHOUT ROWID tables are clustered on their key: one copy of each row, no rowid index.
      await sql`CREATE TABLE records (
        did_id INTEGER NOT NULL, collection_id INTEGER NOT NULL, rkey ANY NOT NULL, links BLOB NOT NULL,
        PRIMARY KEY (did_id, collection_id, rkey)) STRICT, WITHOUT ROWID`.execute(db)
      await sql`CREATE TABLE links_by_time (
        target_id INTEGER NOT NULL, source_id INTEGER NOT NULL, rkey ANY NOT NULL, did_id INTEGER NOT NULL,
        PRIMARY KEY (target_id, source_id, rkey, did_id)) STRICT, WITHOUT ROWID`.execute(db)
      await sql`CREATE TABLE links_by_did (
        target_id INTEGER NOT NULL, source_id INTEGER NOT NULL, did_id INTEGER NOT NULL, rkey ANY NOT NULL,
        PRIMARY KEY (target_id, source_id, did_id, rkey)) STRICT, WITHOUT ROWID`.execute(db)
      await sql`CREATE TABLE link_counts (
        target_id INTEGER NOT NULL, source_id INTEGER NOT NULL, records INTEGER NOT NULL, dids INTEGER NOT NULL,
        PRIMARY KEY (target_id, source_id)) STRICT, WITHOUT ROWID`.execute(db)
      await sql`CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY) STRICT, WITHOUT ROWID`.execute(db)
      await sql`CREATE TABLE account_jobs (
        did_id INTEGER PRIMARY KEY, action TEXT NOT NULL, after_collection INTEGER, after_rkey ANY) STRICT`.execute(db)
      await db.schema
        .createTable('gaps')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('from_us', 'integer', (c) => c.notNull())
        .addColumn('to_us', 'integer', (c) => c.notNull())
        .addColumn('host', 'text')
        .addColumn('detected_at', 'text', (c) => c.notNull())
        .addColumn('repaired', 'integer', (c) => c.notNull().defaultTo(0))
        .execute()
      await db.schema
        .createTable('backfill_repos')
        .addColumn('did', 'text', (c) => c.primaryKey())
        .addColumn('host', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('rev', 'text')
        .addColumn('records', 'integer')
        .addColumn('error', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('backfill_repos_state').on('backfill_repos').columns(['state', 'did']).execute()
    },
  },
  '2026-11-27-002-backfill': {
    // A backfill walks each host's pending repos in listing order (rowid, implicit in the index).
    async up(db: Kysely<any>) {
      await db.schema.createIndex('backfill_repos_host').on('backfill_repos').columns(['host', 'state']).execute()
    },
  },
  '2026-11-27-003-compact-dids': {
    // did:plc DIDs as their 15 bytes (did-codec.ts; did_bytes is registered by openStore). The
    // freed pages are reused by new rows; `backlinks compact --vacuum` returns them to the disk.
    async up(db: Kysely<any>) {
      await sql`UPDATE dids SET did = did_bytes(did) WHERE did GLOB 'did:plc:*'`.execute(db)
    },
  },
  '2026-11-27-004-account-order-for-large-subjects': {
    // links_by_did keeps only the pairs with more than DID_ORDER_ABOVE links (did-order.ts): it is
    // copied in key order for those pairs and swapped in, in one transaction (the migrator opens
    // none on SQLite). The old table's pages are reused by new rows; `compact --vacuum` frees them.
    async up() {
      sqlite.transaction(() =>
        sqlite.exec(`CREATE TABLE links_by_did_large (
            target_id INTEGER NOT NULL, source_id INTEGER NOT NULL, did_id INTEGER NOT NULL, rkey ANY NOT NULL,
            PRIMARY KEY (target_id, source_id, did_id, rkey)) STRICT, WITHOUT ROWID;
          INSERT INTO links_by_did_large
            SELECT d.target_id, d.source_id, d.did_id, d.rkey FROM link_counts c
            JOIN links_by_did d ON d.target_id = c.target_id AND d.source_id = c.source_id
            WHERE c.records > ${DID_ORDER_ABOVE} ORDER BY 1, 2, 3, 4;
          DROP TABLE links_by_did;
          ALTER TABLE links_by_did_large RENAME TO links_by_did;`),
      )()
    },
  },
  '2026-11-27-005-record-blocks': {
    async up() {
      migrateRecordBlocks(sqlite)
    },
  },
  '2026-11-27-006-inline-links': {
    async up() {
      migrateInlineLinks(sqlite)
    },
  },
  '2026-12-07-007-link-blocks': {
    async up() {
      migrateLinkBlocks(sqlite)
    },
  },
})

export async function migrateToLatest(
  db: Kysely<Schema>,
  sqlite: Database.Database,
  report: OpenOptions['onMigration'] = () => {},
): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(sqlite) }
  const migrator = new Migrator({ db, provider })
  const pending = (await migrator.getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name)
  if (pending.length) report({ pending })
  const started = Date.now()
  const { error, results } = await migrator.migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, { cause: error })
  }
  if (pending.length) report({ done: pending, ms: Date.now() - started })
}
