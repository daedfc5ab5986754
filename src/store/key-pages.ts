import type Database from 'better-sqlite3'

/**
 * A table's rows (the given columns, the first `keys` of them its primary key) in key order, a
 * page of `size` rows at a time, each page read after the last one's key: the table rewrites of
 * the migrations read a table of any size in bounded memory, on the connection they write with.
 */
export function* keyPages(sqlite: Database.Database, table: string, columns: readonly string[], keys: number, size: number): Generator<unknown[][]> {
  const key = columns.slice(0, keys)
  const order = `ORDER BY ${key.join(', ')} LIMIT ?`
  const select = `SELECT ${columns.join(', ')} FROM ${table}`
  const first = sqlite.prepare(`${select} ${order}`).raw()
  const after = sqlite.prepare(`${select} WHERE (${key.join(', ')}) > (${key.map(() => '?').join(', ')}) ${order}`).raw()
  for (let rows = first.all(size) as unknown[][]; rows.length > 0; rows = after.all(...rows[rows.length - 1].slice(0, keys), size) as unknown[][]) {
    yield rows
  }
}
