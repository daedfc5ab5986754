import type { DidString, NsidString } from '@atproto/syntax'
import type Database from 'better-sqlite3'
import { statSync } from 'node:fs'
import { normalizeLink } from '../links/extract.js'
import { formatSource, type Source } from '../links/source.js'
import type { StoreHandle } from './open.js'
import { comparePosition, decodePosition, encodePosition, type Position } from './page-cursor.js'
import { decodeDid, encodeDid } from './did-codec.js'
import { AccountLinksFactory, type AccountLinks } from './account-links.js'
import { findLink, unpackLinks, type PairLink } from './inline-links.js'
import { LinkBlocks, TIME_ORDER } from './link-blocks.js'
import { decodeTarget, encodeTarget } from './target-codec.js'
import { decodeRkey, encodeRkey } from './tid.js'
import { TwoGenerationCache } from './two-generation-cache.js'

export interface LinkRecord {
  did: DidString
  collection: NsidString
  rkey: string
}

export interface Page<T> {
  total: number
  items: T[]
  cursor?: string
}

export interface SourceCount {
  source: string
  collection: string
  path: string
  records: number
  dids: number
}

/** A (subject, source) pair resolved to ids; undefined ids mean nothing links there yet. */
export interface LinkKey {
  targetId?: number
  sourceId?: number
  collection: string
}

export interface IndexStats {
  cursor?: number
  records: number
  links: number
  targets: number
  dids: number
  dbBytes: number
  pendingAccountJobs: number
  gaps: number
}

const NAME_CACHE = 50_000
/** Entries per generation of the id caches (subjects, DIDs, collections, sources): a few MB when full. */
const ID_CACHE = 20_000
/** Links one getBacklinkDids page may read (accounts that link many times are skipped over). */
const MAX_DID_SCAN = 20_000

/**
 * Read side of the index. Runs on its own connection; WAL lets it read a consistent snapshot
 * while the writer commits. Every list is a keyset walk on a primary key (no sorting, no OFFSET).
 */
export class Reader {
  private s
  private didNames = new Map<number, DidString>()
  private collectionNames = new Map<number, string>()
  private sourceNames = new Map<number, { collection: string; path: string }>()
  private targetIds = new TwoGenerationCache<string, number>(ID_CACHE)
  private didIdCache = new TwoGenerationCache<string, number>(ID_CACHE)
  private collectionIds = new TwoGenerationCache<string, number>(ID_CACHE)
  private sourceIdCache = new TwoGenerationCache<string, number>(ID_CACHE)
  private readonly inSnapshot: (fn: () => unknown) => unknown
  private readonly accounts: AccountLinksFactory
  private readonly time: LinkBlocks

  constructor(readonly store: StoreHandle) {
    const db: Database.Database = store.sqlite
    this.inSnapshot = db.transaction((fn: () => unknown) => fn())
    this.accounts = new AccountLinksFactory(db)
    this.time = new LinkBlocks(db, TIME_ORDER)
    this.s = {
      didId: db.prepare('SELECT id FROM dids WHERE did = ?').pluck(),
      didName: db.prepare('SELECT did FROM dids WHERE id = ?').pluck(),
      collectionId: db.prepare('SELECT id FROM collections WHERE nsid = ?').pluck(),
      collectionName: db.prepare('SELECT nsid FROM collections WHERE id = ?').pluck(),
      sourceId: db.prepare('SELECT id FROM sources WHERE collection_id = ? AND path = ?').pluck(),
      sourceById: db.prepare(
        'SELECT c.nsid AS collection, s.path AS path FROM sources s JOIN collections c ON c.id = s.collection_id WHERE s.id = ?',
      ),
      targetId: db.prepare('SELECT id FROM targets WHERE key = ?').pluck(),
      targetKey: db.prepare('SELECT key FROM targets WHERE id = ?').pluck(),
      count: db.prepare('SELECT records, dids FROM link_counts WHERE target_id = ? AND source_id = ?'),
      countsOf: db.prepare('SELECT source_id, records, dids FROM link_counts WHERE target_id = ?'),
      pair: db.prepare('SELECT records, dids, links FROM link_counts WHERE target_id = ? AND source_id = ?').raw(),
      meta: db.prepare('SELECT key, value FROM meta'),
      maxDid: db.prepare('SELECT coalesce(max(id), 0) FROM dids').pluck(),
      maxTarget: db.prepare('SELECT coalesce(max(id), 0) FROM targets').pluck(),
      jobs: db.prepare('SELECT count(*) FROM account_jobs').pluck(),
      gaps: db.prepare('SELECT count(*) FROM gaps').pluck(),
      pageCount: db.prepare('PRAGMA page_count').pluck(),
      pageSize: db.prepare('PRAGMA page_size').pluck(),
    }
  }

  /** Resolves a subject string and a parsed source to ids (subjects are normalized like links). */
  key(subject: string, source: Source): LinkKey {
    return { targetId: this.targetId(subject), sourceId: this.sourceIds(source).sourceId, collection: source.collection }
  }

  /** Ids of a source; undefined parts mean nothing was ever linked from it. */
  sourceIds(source: Source): { collectionId?: number; sourceId?: number } {
    const collectionId = this.collectionIdOf(source.collection)
    if (collectionId === undefined) return {}
    const sourceId = foundId(this.sourceIdCache, `${collectionId}\t${source.path}`, () => this.s.sourceId.get(collectionId, source.path))
    return { collectionId, sourceId }
  }

  /**
   * The id of a subject, if anything ever linked to it. Ids are never reassigned, so found ids are
   * cached (feed generators ask for the same posts over and over); misses are not, since the
   * subject may be linked a moment later.
   */
  targetId(subject: string): number | undefined {
    return foundId(this.targetIds, subject, () => {
      const key = encodeTarget(normalizeLink(subject) ?? subject, {
        didId: (did) => this.didIdOf(did),
        collectionId: (nsid) => this.collectionIdOf(nsid),
      })
      return key && this.s.targetId.get(key)
    })
  }

  private didIdOf(did: string): number | undefined {
    return foundId(this.didIdCache, did, () => this.s.didId.get(encodeDid(did)))
  }

  private collectionIdOf(nsid: string): number | undefined {
    return foundId(this.collectionIds, nsid, () => this.s.collectionId.get(nsid))
  }

  counts(key: LinkKey): { records: number; dids: number } {
    if (key.targetId === undefined || key.sourceId === undefined) return { records: 0, dids: 0 }
    return (this.s.count.get(key.targetId, key.sourceId) as { records: number; dids: number }) ?? { records: 0, dids: 0 }
  }

  /** Every source linking to a target, with its counts. */
  countsBySource(targetId: number | undefined): SourceCount[] {
    if (targetId === undefined) return []
    const rows = this.s.countsOf.all(targetId) as Array<{ source_id: number; records: number; dids: number }>
    return rows.map((r) => {
      const { collection, path } = this.sourceName(r.source_id)
      return { source: formatSource(collection, path), collection, path, records: r.records, dids: r.dids }
    })
  }

  /** Linking records, newest first (or oldest first with reverse), optionally only from some DIDs. */
  backlinks(key: LinkKey, opts: { limit: number; cursor?: string; reverse?: boolean; dids?: string[] }): Page<LinkRecord> {
    return this.snapshot(() => this.backlinksNow(key, opts))
  }

  private backlinksNow(key: LinkKey, opts: { limit: number; cursor?: string; reverse?: boolean; dids?: string[] }): Page<LinkRecord> {
    const after = opts.cursor ? decodePosition(opts.cursor) : undefined
    if (key.targetId === undefined || key.sourceId === undefined) return { total: 0, items: [] }
    const reverse = !!opts.reverse
    let positions: Position[]
    let total: number
    const pair = this.pair(key.targetId, key.sourceId)
    if (opts.dids?.length) {
      const didIds = this.didIds(opts.dids)
      const links = this.accounts.of(key.targetId, key.sourceId, pair.records, pair.inline)
      total = didIds.reduce((n, d) => n + links.count(d), 0)
      positions = this.walkDids(links, didIds, after, opts.limit + 1, reverse)
    } else {
      total = pair.records
      positions = this.walk(key.targetId, key.sourceId, pair.inline, after, opts.limit + 1, reverse)
    }
    return this.page(positions, opts.limit, total, (p) => ({
      did: this.didName(p.didId),
      collection: key.collection as NsidString,
      rkey: p.rkey,
    }))
  }

  /**
   * Distinct linking accounts, most recent linker first: each DID appears at its newest link.
   * One page reads at most MAX_DID_SCAN links; a page cut short by that still has a cursor.
   */
  linkingDids(key: LinkKey, opts: { limit: number; cursor?: string }): Page<DidString> {
    return this.snapshot(() => this.linkingDidsNow(key, opts))
  }

  private linkingDidsNow(key: LinkKey, opts: { limit: number; cursor?: string }): Page<DidString> {
    let after = opts.cursor ? decodePosition(opts.cursor) : undefined
    if (key.targetId === undefined || key.sourceId === undefined) return { total: 0, items: [] }
    const pair = this.pair(key.targetId, key.sourceId)
    const total = pair.dids
    const found: Position[] = []
    // Walking newest first, an account's first sighting on this page is its newest link after the
    // cursor; only with a cursor can it have a newer one on an earlier page, so only then is a
    // first sighting checked against the index (one probe per account, none on the first page).
    const seen = new Set<number>()
    const links = after === undefined ? undefined : this.accounts.of(key.targetId, key.sourceId, pair.records, pair.inline)
    // Most accounts link a subject once, so the first read is sized for the page; repeats make
    // the next reads larger.
    let chunk = opts.limit + 9
    // One extra DID is looked for, so the last page has no cursor.
    for (let scanned = 0; scanned < MAX_DID_SCAN && found.length <= opts.limit; chunk = Math.min(1000, chunk * 4)) {
      const rows = this.walk(key.targetId, key.sourceId, pair.inline, after, chunk, false)
      for (const p of rows) {
        scanned++
        after = p
        if (seen.has(p.didId)) continue
        seen.add(p.didId)
        if (!links?.hasNewer(p.didId, encodeRkey(p.rkey))) found.push(p)
        if (found.length > opts.limit) break
      }
      if (rows.length < chunk) {
        after = undefined // the end of the list: nothing to resume
        break
      }
    }
    const page = this.page(found, opts.limit, total, (p) => this.didName(p.didId))
    // Cut short by the scan cap: resume after the last link read.
    if (!page.cursor && found.length <= opts.limit && after) page.cursor = encodePosition(after)
    return page
  }


  /** Runs fn's reads on one snapshot of the database (a read transaction), so that they agree. */
  snapshot<T>(fn: () => T): T {
    return this.store.sqlite.inTransaction ? fn() : (this.inSnapshot(fn) as T)
  }

  /**
   * A pair's counts, and its links if it keeps them in its counts row (inline-links.ts). Call
   * inside snapshot(), with the reads that depend on it.
   */
  pair(targetId: number, sourceId: number): { records: number; dids: number; inline?: PairLink[] } {
    const row = this.s.pair.get(targetId, sourceId) as [number, number, Buffer | null] | undefined
    if (!row) return { records: 0, dids: 0, inline: [] }
    return { records: row[0], dids: row[1], inline: row[2] ? unpackLinks(row[2]) : undefined }
  }

  /** One account's links to a pair, wherever the pair keeps them (call inside snapshot()). */
  accountLinks(targetId: number, sourceId: number): AccountLinks {
    const { records, inline } = this.pair(targetId, sourceId)
    return this.accounts.of(targetId, sourceId, records, inline)
  }

  stats(): IndexStats {
    const meta = new Map((this.s.meta.all() as Array<{ key: string; value: number }>).map((r) => [r.key, r.value]))
    return {
      cursor: meta.get('cursor') ?? undefined,
      records: meta.get('records') ?? 0,
      links: meta.get('links') ?? 0,
      targets: this.s.maxTarget.get() as number,
      dids: this.s.maxDid.get() as number,
      dbBytes: this.dbBytes(),
      pendingAccountJobs: this.s.jobs.get() as number,
      gaps: this.s.gaps.get() as number,
    }
  }

  dbBytes(): number {
    const main = (this.s.pageCount.get() as number) * (this.s.pageSize.get() as number)
    let wal = 0
    try {
      wal = statSync(`${this.store.path}-wal`).size
    } catch {
      // no WAL file yet
    }
    return main + wal
  }

  didName(id: number): DidString {
    return cached(this.didNames, id, () => decodeDid(this.s.didName.get(id) as Buffer | string) as DidString)
  }

  collectionName(id: number): string {
    return cached(this.collectionNames, id, () => this.s.collectionName.get(id) as string)
  }

  sourceName(id: number): { collection: string; path: string } {
    return cached(this.sourceNames, id, () => this.s.sourceById.get(id) as { collection: string; path: string })
  }

  targetName(id: number): string {
    const key = this.s.targetKey.get(id) as Buffer
    return decodeTarget(key, { didName: (i) => this.didName(i), collectionName: (i) => this.collectionName(i) })
  }

  /** A page of a pair's links from a cursor (exclusive). */
  private walk(targetId: number, sourceId: number, inline: PairLink[] | undefined, after: Position | undefined, n: number, reverse: boolean): Position[] {
    const out: Position[] = []
    if (n <= 0) return out
    for (const p of this.positions(targetId, sourceId, inline, after, reverse)) if (out.push(p) >= n) break
    return out
  }

  /**
   * A pair's links in page order (newest first, or oldest first with reverse) from a cursor
   * position (excluded, or included), from its inline links or its blocks (read as they are needed).
   * Call inside snapshot().
   */
  *positions(
    targetId: number,
    sourceId: number,
    inline: PairLink[] | undefined,
    after: Position | undefined,
    reverse: boolean,
    inclusive = false,
  ): Generator<Position> {
    if (inline) return yield* inlineWalk(inline, after, reverse, inclusive)
    const from = after && { rkey: encodeRkey(after.rkey), didId: after.didId }
    for (const l of this.time.scan(targetId, sourceId, reverse, from, inclusive)) yield { rkey: decodeRkey(l.rkey), didId: l.didId }
  }

  /** Whether the record at `p` links to a pair (given its inline links, if it keeps them). */
  hasLink(targetId: number, sourceId: number, inline: PairLink[] | undefined, p: Position): boolean {
    const link = { rkey: encodeRkey(p.rkey), didId: p.didId }
    return inline ? findLink(inline, link).found : this.time.has(targetId, sourceId, link)
  }

  /** Ids of the accounts the index knows among `dids`, without duplicates. */
  didIds(dids: readonly string[]): number[] {
    const ids = new Set<number>()
    for (const did of dids) {
      const id = this.didIdOf(did)
      if (id !== undefined) ids.add(id)
    }
    return [...ids]
  }

  /**
   * A page of the links of some accounts, in (rkey, did) order: each account's links come from its
   * own keyset walk (at most n each), so an account with a million links to the subject costs no
   * more than one with a few.
   */
  private walkDids(links: AccountLinks, didIds: number[], after: Position | undefined, n: number, reverse: boolean): Position[] {
    const out: Position[] = []
    for (const didId of didIds) {
      // Past the cursor (rkey, did) in walk order: an equal rkey counts only on the far side of the did.
      const from = after && { rkey: encodeRkey(after.rkey), inclusive: reverse ? didId > after.didId : didId < after.didId }
      for (const rkey of links.walk(didId, n, reverse, from)) out.push({ rkey, didId })
    }
    const dir = reverse ? 1 : -1
    return out.sort((a, b) => dir * comparePosition(a, b)).slice(0, n)
  }

  private page<T>(positions: Position[], limit: number, total: number, map: (p: Position) => T): Page<T> {
    const more = positions.length > limit
    const shown = more ? positions.slice(0, limit) : positions
    return {
      total,
      items: shown.map(map),
      cursor: more ? encodePosition(shown[shown.length - 1]) : undefined,
    }
  }
}

/** A small pair's links in page order (newest first, or oldest with reverse) after a cursor position. */
function inlineWalk(links: readonly PairLink[], after: Position | undefined, reverse: boolean, inclusive = false): Position[] {
  const positions = links.map((l) => ({ rkey: decodeRkey(l.rkey), didId: l.didId }))
  if (!reverse) positions.reverse()
  if (!after) return positions
  const dir = reverse ? 1 : -1
  return positions.filter((p) => {
    const c = dir * comparePosition(p, after)
    return c > 0 || (c === 0 && inclusive)
  })
}

/** An id from the cache, else looked up and cached if found (ids never change; a miss may be linked later). */
function foundId<K>(cache: TwoGenerationCache<K, number>, key: K, lookup: () => unknown): number | undefined {
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  const id = lookup() as number | undefined
  if (id !== undefined) cache.set(key, id)
  return id
}

function cached<K, V>(map: Map<K, V>, key: K, load: () => V): V {
  let v = map.get(key)
  if (v === undefined) {
    v = load()
    if (map.size >= NAME_CACHE) map.clear()
    map.set(key, v)
  }
  return v
}

