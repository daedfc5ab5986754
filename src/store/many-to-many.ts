import type { NsidString } from '@atproto/syntax'
import type Database from 'better-sqlite3'
import { comparePosition, decodePosition, encodePosition, InvalidCursorError, type Position } from './page-cursor.js'
import type { LinkKey, LinkRecord, Reader } from './reader.js'
import { blockStatements, recordLinks, type BlockStatements } from './record-blocks.js'
import { encodeRkey } from './tid.js'
import { unpackPairs } from './varint.js'

// Many-to-many: records linking to `subject` from (collection, path) whose *other* link, at
// (same collection, pathToOther), points somewhere; e.g. list items link a list (.list) to a member
// (.subject). The join uses the forward index: each linking record's `records.links` blob holds its
// (source, target) pairs, read by primary key.
//
// Cost: a page of items walks the subject's links in time order and reads one forward row per linking
// record, so it is O(page) in the common case. Counts group every linking record (O(n)): they are
// refused above `maxScan` linking records unless a did or otherSubject filter narrows the set, and
// a page of items reads at most `maxScan` records before returning a short page with a cursor.

/**
 * Default most linking records one request reads. Reads run on the HTTP thread: grouping 10k list
 * items took 85-160 ms in the 10k-member test (docs/constellation.md), so this caps a request
 * at a few hundred ms.
 */
export const DEFAULT_MAX_SCAN = 25_000

export interface ManyToManyQuery {
  key: LinkKey
  /** Path of the other link in the same record, with its leading dot (".subject"). */
  pathToOther: string
  /** Only records by these accounts (empty or absent: everyone). */
  dids?: readonly string[]
  /** Only these other subjects (empty or absent: any). */
  otherSubjects?: readonly string[]
}

export interface ManyToManyItem {
  record: LinkRecord
  otherSubject: string
}

export interface OtherSubjectCount {
  subject: string
  records: number
  dids: number
}

export interface ManyToManyPage<T> {
  items: T[]
  cursor?: string
}

/** The request needs more linking records read than the scan limit allows. */
export class ScanLimitError extends Error {
  constructor(readonly limit: number) {
    super(`more than ${limit} linking records to read; narrow the query with did or otherSubject`)
  }
}

/** A query resolved to ids; `candidates` lists the linking records to read, in page order. */
interface Plan {
  collectionId: number
  collection: NsidString
  otherSourceId: number
  /** Other subjects asked for, as target ids (undefined: any). */
  others?: Set<number>
  candidates(from?: Position): Iterable<Position>
}

const instances = new WeakMap<Reader, ManyToMany>()

/** The ManyToMany of a reader (statements are prepared once per connection). */
export function manyToMany(reader: Reader): ManyToMany {
  let m = instances.get(reader)
  if (!m) instances.set(reader, (m = new ManyToMany(reader)))
  return m
}

export class ManyToMany {
  private readonly blocks: BlockStatements

  constructor(
    private readonly reader: Reader,
    readonly maxScan = DEFAULT_MAX_SCAN,
  ) {
    const db: Database.Database = reader.store.sqlite
    this.blocks = blockStatements(db)
  }

  /** Linking records with the other subject each links to, newest first; one item per other link. */
  items(q: ManyToManyQuery, opts: { limit: number; cursor?: string }): ManyToManyPage<ManyToManyItem> {
    return this.reader.snapshot(() => this.itemsNow(q, opts))
  }

  private itemsNow(q: ManyToManyQuery, opts: { limit: number; cursor?: string }): ManyToManyPage<ManyToManyItem> {
    const after = opts.cursor === undefined ? undefined : decodeItemCursor(opts.cursor)
    const plan = this.plan(q)
    if (!plan) return { items: [] }
    const found: Array<{ pos: Position; other: number }> = []
    let scanned = 0
    let last: Position | undefined
    let more = false
    scan: for (const pos of plan.candidates(after?.pos)) {
      if (++scanned > this.maxScan) {
        // Hostile or sparse query: stop here; the cursor resumes after the last record read.
        more = true
        break
      }
      const resumeInside = after !== undefined && comparePosition(pos, after.pos) === 0
      for (const other of this.others(plan, pos)) {
        if (resumeInside && (after.other === undefined || other <= after.other)) continue
        if (found.length === opts.limit) {
          more = true
          break scan
        }
        found.push({ pos, other })
      }
      last = pos
    }
    const end = found[found.length - 1]
    const cursor = !more
      ? undefined
      : found.length === opts.limit
        ? encodeItemCursor(end.pos, end.other)
        : last && encodeItemCursor(last)
    return {
      items: found.map(({ pos, other }) => ({
        record: { did: this.reader.didName(pos.didId), collection: plan.collection, rkey: pos.rkey },
        otherSubject: this.reader.targetName(other),
      })),
      cursor,
    }
  }

  /**
   * Linking records grouped by other subject, with records and distinct accounts per group,
   * ordered by the other subject's string. Reads every matching linking record (see maxScan).
   */
  counts(q: ManyToManyQuery, opts: { limit: number; cursor?: string }): ManyToManyPage<OtherSubjectCount> {
    return this.reader.snapshot(() => this.countsNow(q, opts))
  }

  private countsNow(q: ManyToManyQuery, opts: { limit: number; cursor?: string }): ManyToManyPage<OtherSubjectCount> {
    const after = opts.cursor === undefined ? undefined : decodeSubjectCursor(opts.cursor)
    const plan = this.plan(q)
    if (!plan) return { items: [] }
    const groups = new Map<number, { records: number; dids: Set<number> }>()
    let scanned = 0
    for (const pos of plan.candidates()) {
      if (++scanned > this.maxScan) throw new ScanLimitError(this.maxScan)
      for (const other of this.others(plan, pos)) {
        let g = groups.get(other)
        if (!g) groups.set(other, (g = { records: 0, dids: new Set() }))
        g.records++
        g.dids.add(pos.didId)
      }
    }
    const rows = [...groups]
      .map(([id, g]) => ({ subject: this.reader.targetName(id), records: g.records, dids: g.dids.size }))
      .filter((r) => after === undefined || r.subject > after)
      .sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0))
    const items = rows.slice(0, opts.limit)
    const more = rows.length > opts.limit
    return { items, cursor: more ? encodeSubjectCursor(items[items.length - 1].subject) : undefined }
  }

  /** Resolves names to ids and picks the cheapest way to list candidates; undefined = no results. */
  private plan(q: ManyToManyQuery): Plan | undefined {
    const { targetId, sourceId, collection } = q.key
    if (targetId === undefined || sourceId === undefined) return undefined
    const { collectionId, sourceId: otherSourceId } = this.reader.sourceIds({ collection, path: q.pathToOther })
    if (collectionId === undefined || otherSourceId === undefined) return undefined
    let others: Set<number> | undefined
    if (q.otherSubjects?.length) {
      others = new Set(q.otherSubjects.map((s) => this.reader.targetId(s)).filter((id) => id !== undefined))
      if (others.size === 0) return undefined
    }
    const base = { collectionId, collection: collection as NsidString, otherSourceId, others }

    if (q.dids?.length) {
      const didIds = this.reader.didIds(q.dids)
      if (didIds.length === 0) return undefined
      const links = this.reader.accountLinks(targetId, sourceId)
      const linksOf = (didId: number) => links.walk(didId, this.maxScan + 1, true).map((rkey) => ({ rkey, didId }))
      const positions = this.collect(didIds.flatMap(linksOf))
      return { ...base, candidates: (from) => fromPosition(positions, from) }
    }
    const { inline } = this.reader.pair(targetId, sourceId)
    if (others) {
      // Fewer records link to the asked-for other subjects: start from them and keep those that
      // also link to the subject (a primary-key probe each) instead of walking every linker.
      const viaOthers = [...others].reduce(
        (n, id) => n + this.reader.counts({ targetId: id, sourceId: otherSourceId, collection }).records,
        0,
      )
      if (viaOthers <= this.maxScan && viaOthers < this.reader.counts(q.key).records) {
        const positions = this.collect(
          [...others].flatMap((id) =>
            this.linkersOf(id, otherSourceId).filter((p) => this.reader.hasLink(targetId, sourceId, inline, p)),
          ),
        )
        return { ...base, candidates: (from) => fromPosition(positions, from) }
      }
    }
    return { ...base, candidates: (from) => this.reader.positions(targetId, sourceId, inline, from, false, true) }
  }

  /** Other target ids of one linking record, ascending (a stable order inside the record). */
  private others(plan: Plan, pos: Position): number[] {
    const blob = recordLinks(this.blocks, pos.didId, plan.collectionId, encodeRkey(pos.rkey))
    if (!blob) return []
    const out: number[] = []
    for (const [source, target] of unpackPairs(blob)) {
      if (source === plan.otherSourceId && (!plan.others || plan.others.has(target))) out.push(target)
    }
    return out.sort((a, b) => a - b)
  }

  private linkersOf(targetId: number, sourceId: number): Position[] {
    return [...this.reader.positions(targetId, sourceId, this.reader.pair(targetId, sourceId).inline, undefined, true)]
  }

  /** A bounded candidate list in page order (newest first), without duplicates. */
  private collect(positions: Position[]): Position[] {
    if (positions.length > this.maxScan) throw new ScanLimitError(this.maxScan)
    positions.sort((a, b) => comparePosition(b, a))
    return positions.filter((p, i) => i === 0 || comparePosition(p, positions[i - 1]) !== 0)
  }
}

/** Positions at or after `from` in a newest-first list. */
function fromPosition(positions: Position[], from?: Position): Position[] {
  if (!from) return positions
  const start = positions.findIndex((p) => comparePosition(p, from) <= 0)
  return start < 0 ? [] : positions.slice(start)
}

// Item cursors: the position of the last record, and the last other target shown in it (absent
// when the whole record was read). Subject cursors: the last other subject of the page.
function encodeItemCursor(pos: Position, other?: number): string {
  return other === undefined ? encodePosition(pos) : `${encodePosition(pos)}.${other.toString(36)}`
}

function decodeItemCursor(cursor: string): { pos: Position; other?: number } {
  const [pos, other, extra] = cursor.split('.')
  if (extra !== undefined || (other !== undefined && !/^[0-9a-z]{1,11}$/.test(other))) throw new InvalidCursorError()
  return { pos: decodePosition(pos), other: other === undefined ? undefined : parseInt(other, 36) }
}

function encodeSubjectCursor(subject: string): string {
  return Buffer.from(subject, 'utf8').toString('base64url')
}

function decodeSubjectCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError()
  return Buffer.from(cursor, 'base64url').toString('utf8')
}
