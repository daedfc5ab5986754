import { openStore } from '../store/open.js'
import { Reader } from '../store/reader.js'
import { fileSize } from './db-file.js'

export interface IndexFigures {
  records: number
  links: number
  targets: number
  dids: number
  /** NSIDs known: of linking records and of linked at-uris. */
  collections: number
  /** Distinct (collection, path) pairs that link. */
  sources: number
  cursor?: number
  cursorTime?: string
  lagSeconds?: number
  pendingAccountJobs: number
  gaps: number
  dbFileBytes: number
  walBytes: number
}

/** The index's figures, read on a reader connection: safe while the service runs. */
export async function indexFigures(dbPath: string): Promise<IndexFigures> {
  const store = await openStore(dbPath, { readOnly: true })
  try {
    const stats = new Reader(store).stats()
    const count = (table: string) => store.sqlite.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number
    return {
      records: stats.records,
      links: stats.links,
      targets: stats.targets,
      dids: stats.dids,
      collections: count('collections'),
      sources: count('sources'),
      ...(stats.cursor !== undefined && {
        cursor: stats.cursor,
        cursorTime: new Date(stats.cursor / 1000).toISOString(),
        lagSeconds: Math.round(Date.now() / 1000 - stats.cursor / 1e6),
      }),
      pendingAccountJobs: stats.pendingAccountJobs,
      gaps: stats.gaps,
      dbFileBytes: fileSize(dbPath),
      walBytes: fileSize(`${dbPath}-wal`),
    }
  } finally {
    await store.close()
  }
}

/** Two aligned columns, numbers with thousands separators. */
export function formatFigures(figures: IndexFigures): string {
  const rows = Object.entries(figures).map(([k, v]) => [k, typeof v === 'number' && k !== 'cursor' ? v.toLocaleString('en-US') : String(v)])
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}
