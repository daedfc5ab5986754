export type Rkey = Buffer | string

/** SQLite's order for the rkey column: TEXT (binary) before BLOB (memcmp). */
export function compareRkey(a: Rkey, b: Rkey): number {
  if (typeof a === 'string') {
    if (typeof b !== 'string') return -1
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
  }
  if (typeof b === 'string') return 1
  return Buffer.compare(a, b)
}

/** A pending change to one backlink: +1 add, -1 remove (an add then a remove cancel out). */
export interface LinkOp {
  targetId: number
  sourceId: number
  rkey: Rkey
  didId: number
  delta: number
}

/** A pending forward-index row: the record's packed links, or null to delete it. */
export interface RecordOp {
  didId: number
  collectionId: number
  rkey: Rkey
  links: Buffer | null
}

function rkeyKey(rkey: Rkey): string {
  return typeof rkey === 'string' ? `s${rkey}` : `b${rkey.toString('latin1')}`
}

export const byTimeOrder = (a: LinkOp, b: LinkOp) =>
  a.targetId - b.targetId || a.sourceId - b.sourceId || compareRkey(a.rkey, b.rkey) || a.didId - b.didId

export const byDidOrder = (a: LinkOp, b: LinkOp) =>
  a.targetId - b.targetId || a.sourceId - b.sourceId || a.didId - b.didId || compareRkey(a.rkey, b.rkey)

export const recordOrder = (a: RecordOp, b: RecordOp) =>
  a.didId - b.didId || a.collectionId - b.collectionId || compareRkey(a.rkey, b.rkey)

/**
 * Changes of one transaction, held until its end and then written in key order: each B-tree page
 * is dirtied once per batch instead of once per link, which is what limits ingest speed (the WAL
 * writes every dirtied page).
 */
export class BatchBuffer {
  readonly links = new Map<string, LinkOp>()
  readonly records = new Map<string, RecordOp>()

  link(targetId: number, sourceId: number, rkey: Rkey, didId: number, delta: number): void {
    const key = `${targetId}|${sourceId}|${didId}|${rkeyKey(rkey)}`
    const op = this.links.get(key)
    if (op) op.delta += delta
    else this.links.set(key, { targetId, sourceId, rkey, didId, delta })
  }

  /** The buffered state of a record: a row, null (deleted in this batch), or undefined (untouched). */
  record(didId: number, collectionId: number, rkey: Rkey): RecordOp | undefined {
    return this.records.get(`${didId}|${collectionId}|${rkeyKey(rkey)}`)
  }

  setRecord(didId: number, collectionId: number, rkey: Rkey, links: Buffer | null): void {
    this.records.set(`${didId}|${collectionId}|${rkeyKey(rkey)}`, { didId, collectionId, rkey, links })
  }

  clear(): void {
    this.links.clear()
    this.records.clear()
  }
}
