/**
 * Bytes on disk per stored link: the whole database after folding the WAL back into it, and a
 * per-table/per-index breakdown from SQLite's dbstat virtual table (what the schema work reads).
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';

export interface SizeObject {
  /** Table or index name; "(free pages)" for the freelist. */
  name: string;
  /** The table an index belongs to (the table itself for a table). */
  table: string;
  kind: 'table' | 'index' | 'free';
  bytes: number;
  bytesPerLink: number;
}

export interface SizeReport {
  links: number;
  /** Every file of the database (main, -wal, -shm). */
  fileBytes: number;
  bytesPerLink: number;
  /** Largest first. */
  objects: SizeObject[];
}

/** Checkpoints (TRUNCATE) through a connection of its own, then measures. The writer should be idle. */
export async function measureSize(dbPath: string, links: number): Promise<SizeReport> {
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    await checkpoint(db);
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const freePages = db.pragma('freelist_count', { simple: true }) as number;
    const owners = new Map(
      (db.prepare("SELECT name, tbl_name, type FROM sqlite_schema WHERE type IN ('table', 'index')").all() as Array<{
        name: string;
        tbl_name: string;
        type: 'table' | 'index';
      }>).map((r) => [r.name, r]),
    );
    // aggregate=TRUE: one row per b-tree instead of one per page.
    const rows = db.prepare('SELECT name, pgsize FROM dbstat WHERE aggregate = TRUE').all() as Array<{
      name: string;
      pgsize: number;
    }>;
    const perLink = (bytes: number) => (links > 0 ? bytes / links : 0);
    const objects: SizeObject[] = rows.map((r) => {
      // sqlite_schema and autoindexes of UNIQUE/PRIMARY KEY constraints have no row of their own type.
      const owner = owners.get(r.name);
      const table = owner?.tbl_name ?? r.name.replace(/^sqlite_autoindex_(.+)_\d+$/, '$1');
      const kind = owner?.type ?? (r.name.startsWith('sqlite_autoindex_') ? 'index' : 'table');
      return { name: r.name, table, kind, bytes: r.pgsize, bytesPerLink: perLink(r.pgsize) };
    });
    if (freePages > 0) {
      const bytes = freePages * pageSize;
      objects.push({ name: '(free pages)', table: '', kind: 'free', bytes, bytesPerLink: perLink(bytes) });
    }
    objects.sort((a, b) => b.bytes - a.bytes);
    const fileBytes = databaseFileBytes(dbPath);
    return { links, fileBytes, bytesPerLink: perLink(fileBytes), objects };
  } finally {
    db.close();
  }
}

/**
 * wal_checkpoint(TRUNCATE) waits for the writer, but SQLite's busy handler can keep missing the
 * gaps between the writer's short transactions (the service's timers still write now and then):
 * try again, briefly, a number of times.
 */
async function checkpoint(db: Database.Database): Promise<void> {
  db.pragma('busy_timeout = 1000');
  for (let attempt = 0; attempt < 30; attempt++) {
    const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    if (!result?.busy) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('wal_checkpoint(TRUNCATE) could not complete: the writer stays busy');
}

/** The database file and its -wal/-shm companions. */
function databaseFileBytes(dbPath: string): number {
  return ['', '-wal', '-shm'].reduce((sum, suffix) => sum + (statSync(dbPath + suffix, { throwIfNoEntry: false })?.size ?? 0), 0);
}
