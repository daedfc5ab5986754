// Table shapes of the index (see README "Data model"). Strings that repeat per link are interned:
// DIDs, collections, sources (collection + path) and targets get small integer ids.
// `rkey` columns hold a TID record key as an 8-byte big-endian BLOB (sorts like the TID) and any
// other record key as TEXT; SQLite orders TEXT before BLOB, so TIDs are the "newest" end.
export type RkeyValue = Buffer | string

export interface DidsTable {
  id: number
  did: string
  rev: string | null // last applied repo rev: older events are skipped
  status: string | null // null = active; 'hidden:<reason>' or 'deleted'
}

export interface CollectionsTable {
  id: number
  nsid: string
}

export interface SourcesTable {
  id: number
  collection_id: number
  path: string // with its leading dot, as Constellation writes it
}

export interface TargetsTable {
  id: number
  key: Buffer // see target-codec.ts
}

/** The forward index used by deletes and updates, in blocks of an account's records (record-blocks.ts). */
export interface RecordsTable {
  did_id: number
  collection_id: number
  first: RkeyValue // the block's first record key
  entries: Buffer // each record's key and links (varint pairs source_id, target_id)
}

/** A pair's links in blocks of time order (link-blocks.ts), keyed by the block's first link. */
export interface LinksByTimeTable {
  target_id: number
  source_id: number
  rkey: RkeyValue
  did_id: number
  entries: Buffer
}

/** The same in account order, for pairs of more than DID_ORDER_ABOVE links (did-order.ts). */
export interface LinksByDidTable {
  target_id: number
  source_id: number
  did_id: number
  rkey: RkeyValue
  entries: Buffer
}

export interface LinkCountsTable {
  target_id: number
  source_id: number
  records: number
  dids: number
  links: Buffer | null // the pair's links while it has at most INLINE_MAX (inline-links.ts), else NULL
}

export interface MetaTable {
  key: string
  value: string | number | null
}

export interface AccountJobsTable {
  did_id: number
  action: 'hide' | 'show' | 'purge'
  after_collection: number | null
  after_rkey: RkeyValue | null
}

export interface GapsTable {
  id: number
  from_us: number
  to_us: number
  host: string | null
  detected_at: string
  repaired: number
}

export interface BackfillReposTable {
  did: string
  host: string | null
  state: 'pending' | 'done' | 'failed' | 'skipped'
  rev: string | null
  records: number | null
  error: string | null
  attempts: number
  updated_at: string
}

export interface Schema {
  dids: DidsTable
  collections: CollectionsTable
  sources: SourcesTable
  targets: TargetsTable
  records: RecordsTable
  links_by_time: LinksByTimeTable
  links_by_did: LinksByDidTable
  link_counts: LinkCountsTable
  meta: MetaTable
  account_jobs: AccountJobsTable
  gaps: GapsTable
  backfill_repos: BackfillReposTable
}
