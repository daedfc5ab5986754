import type Database from 'better-sqlite3'
import { encodeDid } from './did-codec.js'
import { encodeTarget, targetNames, type IdLookup } from './target-codec.js'
import { TwoGenerationCache } from './two-generation-cache.js'

export interface DidEntry {
  did: string
  id: number
  rev: string | null
  status: string | null
}

// Entries per cache generation (see TwoGenerationCache): bounds the writer's memory.
const MAX_DIDS = 50_000
const MAX_TARGETS = 50_000

/** Maps strings to their integer ids, creating rows as needed (writer side only). */
export class Interner implements IdLookup {
  private dids = new TwoGenerationCache<string, DidEntry>(MAX_DIDS)
  private collections = new Map<string, number>()
  private sources = new Map<string, number>()
  private targets = new TwoGenerationCache<string, number>(MAX_TARGETS)
  private stmts

  constructor(private sqlite: Database.Database) {
    this.stmts = {
      getDid: sqlite.prepare('SELECT id, rev, status FROM dids WHERE did = ?'),
      addDid: sqlite.prepare('INSERT INTO dids (did) VALUES (?) RETURNING id'),
      getCollection: sqlite.prepare('SELECT id FROM collections WHERE nsid = ?').pluck(),
      addCollection: sqlite.prepare('INSERT INTO collections (nsid) VALUES (?) RETURNING id').pluck(),
      getSource: sqlite.prepare('SELECT id FROM sources WHERE collection_id = ? AND path = ?').pluck(),
      addSource: sqlite.prepare('INSERT INTO sources (collection_id, path) VALUES (?, ?) RETURNING id').pluck(),
      getTarget: sqlite.prepare('SELECT id FROM targets WHERE key = ?').pluck(),
      addTarget: sqlite.prepare('INSERT INTO targets (key) VALUES (?) RETURNING id').pluck(),
    }
  }

  /** Entries changed in the open transaction: kept out of cache eviction until written. */
  readonly dirtyDids = new Map<string, DidEntry>()

  did(did: string): DidEntry {
    let entry = this.dirtyDids.get(did) ?? this.dids.get(did)
    if (entry) return entry
    const stored = encodeDid(did)
    const row = this.stmts.getDid.get(stored) as Omit<DidEntry, 'did'> | undefined
    entry = row ? { did, ...row } : { did, id: (this.stmts.addDid.get(stored) as { id: number }).id, rev: null, status: null }
    this.dids.set(did, entry)
    return entry
  }

  didId(did: string): number {
    return this.did(did).id
  }

  collectionId(nsid: string): number {
    let id = this.collections.get(nsid)
    if (id === undefined) {
      id = (this.stmts.getCollection.get(nsid) as number | undefined) ?? (this.stmts.addCollection.get(nsid) as number)
      this.collections.set(nsid, id)
    }
    return id
  }

  sourceId(collectionId: number, path: string): number {
    const key = `${collectionId}\t${path}`
    let id = this.sources.get(key)
    if (id === undefined) {
      id =
        (this.stmts.getSource.get(collectionId, path) as number | undefined) ??
        (this.stmts.addSource.get(collectionId, path) as number)
      this.sources.set(key, id)
    }
    return id
  }

  targetId(target: string): number {
    let id = this.targets.get(target)
    if (id !== undefined) return id
    const names = targetNames(target)
    if (names.did) this.did(names.did)
    if (names.collection) this.collectionId(names.collection)
    const key = encodeTarget(target, this)!
    id = (this.stmts.getTarget.get(key) as number | undefined) ?? (this.stmts.addTarget.get(key) as number)
    this.targets.set(target, id)
    return id
  }

  /** Forget cached rows: after a rolled-back transaction the cache may name rows that do not exist. */
  reset(): void {
    this.dirtyDids.clear()
    this.dids.clear()
    this.collections.clear()
    this.sources.clear()
    this.targets.clear()
  }
}
