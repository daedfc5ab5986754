// A known corpus of Jetstream events, served through the real service (JSONL replay in the ingest
// worker, SQLite in a temp dir, HTTP on 127.0.0.1), and a small reference model of what the index
// must answer for it, so tests compute expected values instead of hard-coding them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.js'
import { extractLinks } from '../../src/links/extract.js'
import { parseSource } from '../../src/links/source.js'
import { silentLogger } from '../../src/logger.js'
import { startService, type Service } from '../../src/service.js'
import { account, create, del, did, follow, lines, like, nextTime, postUri, tid, update } from './events.js'

export const LIKE = 'app.bsky.feed.like:subject.uri'
export const REPOST = 'app.bsky.feed.repost:subject.uri'
export const FOLLOW = 'app.bsky.graph.follow:subject'
export const LISTITEM = 'app.bsky.graph.listitem:list'
export const REPLY_ROOT = 'app.bsky.feed.post:reply.root.uri'
export const MENTION_PATH = 'facets[].features[app.bsky.richtext.facet#mention].did'
export const LINK_FACET = 'app.bsky.feed.post:facets[].features[app.bsky.richtext.facet#link].uri'

const alice = did('alice')
const owner = did('listowner')
const intruder = did('intruder')
const hidden = did('hidden') // deactivated: links hidden from lists and counts
const leaver = did('leaver') // deleted account: records purged
const likers = Array.from({ length: 9 }, (_, i) => did(`liker${i}`))
const members = Array.from({ length: 12 }, (_, i) => did(`member${i}`))
const repliers = Array.from({ length: 5 }, (_, i) => did(`replier${i}`))

const post = postUri(alice, 1_700_000_000_000_000)
const thread = postUri(alice, 1_700_000_000_001_000)
const list = `at://${owner}/app.bsky.graph.list/${tid(1_700_000_000_002_000)}`
const otherList = `at://${owner}/app.bsky.graph.list/${tid(1_700_000_000_003_000)}`
/** A link target whose scheme the lexicon `uri` format would reject (`+` is not \w). */
const gitRepo = 'git+https://example.com/repo.git'

function repost(author: string, subject: string) {
  const time = nextTime()
  return create(author, 'app.bsky.feed.repost', tid(time), { subject: { uri: subject, cid: 'bafyreia' }, createdAt: 'x' }, { time })
}

function listitem(author: string, member: string, inList: string) {
  const time = nextTime()
  return create(author, 'app.bsky.graph.listitem', tid(time), { subject: member, list: inList, createdAt: 'x' }, { time })
}

function mentionReply(author: string, root: string, mentioned: string[]) {
  const time = nextTime()
  const facets = mentioned.map((m, i) => ({
    index: { byteStart: i, byteEnd: i + 1 },
    features: [{ $type: 'app.bsky.richtext.facet#mention', did: m }],
  }))
  return create(author, 'app.bsky.feed.post', tid(time), { text: 'hi', reply: { root: { uri: root }, parent: { uri: root } }, facets }, { time })
}

function buildEvents() {
  const likeEvents = likers.map((l) => like(l, post))
  const items = members.slice(0, 10).map((m) => listitem(owner, m, list))
  const events: object[] = [
    likeEvents[0], // replayed at once: same rev, applied again, must not count twice
    ...likeEvents,
    like(hidden, post),
    like(leaver, post),
    ...likers.slice(0, 3).map((l) => repost(l, post)),
    ...[...likers.slice(3, 8), hidden].map((l) => follow(l, alice)),
    create(likers[1], 'app.bsky.feed.post', tid(nextTime()), {
      text: 'look',
      embed: { $type: 'app.bsky.embed.record', record: { uri: post, cid: 'bafyreia' } },
    }),
    create(likers[2], 'app.bsky.feed.post', tid(nextTime()), {
      text: 'code',
      facets: [{ index: { byteStart: 0, byteEnd: 4 }, features: [{ $type: 'app.bsky.richtext.facet#link', uri: gitRepo }] }],
    }),
    // List membership: the owner's items, one removed, two added by someone else (one a repeat).
    ...items,
    items[9],
    listitem(owner, members[10], otherList),
    listitem(owner, members[0], otherList),
    listitem(intruder, members[11], list),
    listitem(intruder, members[0], list),
    listitem(hidden, members[1], list),
    del(owner, 'app.bsky.graph.listitem', items[9].commit.rkey),
    // Replies to a thread, each mentioning several accounts (several links at one path).
    mentionReply(repliers[0], thread, [members[0], members[1], members[2]]),
    mentionReply(repliers[1], thread, [members[1]]),
    mentionReply(repliers[2], thread, [members[2], members[3]]),
    mentionReply(repliers[3], thread, []),
    mentionReply(repliers[4], thread, [members[4], members[5], members[6]]),
    mentionReply(hidden, thread, [members[0], members[7]]),
    mentionReply(leaver, thread, [members[8]]),
  ]
  // An update that moves a like elsewhere, a deleted like, and replayed duplicates of creates.
  const moved = likeEvents[7]
  events.push(update(likers[7], 'app.bsky.feed.like', moved.commit.rkey, { subject: { uri: thread, cid: 'bafyreia' } }))
  events.push(del(likers[8], 'app.bsky.feed.like', likeEvents[8].commit.rkey))
  events.push(...likeEvents.slice(0, 4), ...items.slice(0, 3))
  events.push(account(hidden, false, 'deactivated'), account(leaver, false, 'deleted'))
  return events
}

export interface RecordId {
  did: string
  collection: string
  rkey: string
}

interface LiveRecord extends RecordId {
  links: Array<{ path: string; target: string }>
}

/** What the index must hold after the events: applied with the indexer's rules, independently. */
export class Model {
  private records = new Map<string, LiveRecord>()
  private status = new Map<string, string>()

  constructor(events: readonly any[]) {
    const revs = new Map<string, string>()
    for (const e of events) {
      if (e.kind === 'account') {
        this.status.set(e.did, e.account.active ? 'active' : e.account.status)
        continue
      }
      const c = e.commit
      if ((revs.get(e.did) ?? '') > c.rev) continue // stale
      revs.set(e.did, c.rev)
      const id = `${e.did}/${c.collection}/${c.rkey}`
      if (c.operation === 'delete') this.records.delete(id)
      else this.records.set(id, { did: e.did, collection: c.collection, rkey: c.rkey, links: extractLinks(c.record) })
    }
  }

  /** Records of visible accounts, newest first (every rkey in the corpus is a TID of its time). */
  private live(): LiveRecord[] {
    return [...this.records.values()]
      .filter((r) => (this.status.get(r.did) ?? 'active') === 'active')
      .sort((a, b) => (a.rkey < b.rkey ? 1 : a.rkey > b.rkey ? -1 : 0))
  }

  backlinks(subject: string, source: string): RecordId[] {
    const { collection, path } = parseSource(source)!
    return this.live()
      .filter((r) => r.collection === collection && r.links.some((l) => l.path === path && l.target === subject))
      .map(({ did, collection, rkey }) => ({ did, collection, rkey }))
  }

  /** Distinct linking accounts, most recent linker first. */
  dids(subject: string, source: string): string[] {
    return [...new Set(this.backlinks(subject, source).map((r) => r.did))]
  }

  /** Every source linking to a subject: collection -> path (with its dot) -> records and accounts. */
  sources(subject: string): Record<string, Record<string, { records: number; dids: number }>> {
    const out: Record<string, Record<string, { records: number; dids: Set<string> }>> = {}
    for (const r of this.live()) {
      for (const l of r.links) {
        if (l.target !== subject) continue
        const c = ((out[r.collection] ??= {})[l.path] ??= { records: 0, dids: new Set() })
        c.records++
        c.dids.add(r.did)
      }
    }
    return Object.fromEntries(
      Object.entries(out).map(([coll, paths]) => [
        coll,
        Object.fromEntries(Object.entries(paths).map(([p, c]) => [p, { records: c.records, dids: c.dids.size }])),
      ]),
    )
  }

  /** Linking records with each other subject they link to at pathToOther, newest record first. */
  manyToMany(subject: string, source: string, pathToOther: string): Array<{ record: RecordId; others: string[] }> {
    const { collection } = parseSource(source)!
    const otherPath = `.${pathToOther}`
    return this.backlinks(subject, source).map((record) => {
      const r = this.records.get(`${record.did}/${collection}/${record.rkey}`)!
      return { record, others: r.links.filter((l) => l.path === otherPath).map((l) => l.target) }
    })
  }

  /** Groups of manyToMany by other subject, ordered by subject. */
  manyToManyCounts(subject: string, source: string, pathToOther: string, dids?: string[]) {
    const groups = new Map<string, { total: number; dids: Set<string> }>()
    for (const { record, others } of this.manyToMany(subject, source, pathToOther)) {
      if (dids && !dids.includes(record.did)) continue
      for (const o of others) {
        const g = groups.get(o) ?? { total: 0, dids: new Set<string>() }
        g.total++
        g.dids.add(record.did)
        groups.set(o, g)
      }
    }
    return [...groups]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([subject, g]) => ({ subject, total: g.total, distinct: g.dids.size }))
  }
}

export const corpus = (() => {
  const events = buildEvents()
  return {
    events,
    model: new Model(events),
    names: { alice, owner, intruder, hidden, leaver, likers, members, repliers, post, thread, list, otherList, gitRepo },
  }
})()

export interface CorpusService {
  service: Service
  base: string
  /** Stops this service and replays the same capture into the same database again. */
  replayAgain(): Promise<CorpusService>
  close(): Promise<void>
}

/** Replays the corpus into a fresh database and serves it on 127.0.0.1 (a random port). */
export async function startCorpusService(events: readonly object[] = corpus.events): Promise<CorpusService> {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-corpus-'))
  writeFileSync(join(dir, 'events.jsonl'), lines([...events]).join('\n') + '\n')
  return serve(dir)
}

async function serve(dir: string): Promise<CorpusService> {
  const file = join(dir, 'events.jsonl')
  // Replay only: no live ingest (its default hosts are on the public internet).
  const args = ['--db', join(dir, 'db.sqlite'), '--port', '0', '--host', '127.0.0.1', '--replay', file, '--jetstream', 'none', '--log-level', 'warn']
  const service = await startService(loadConfig(args).config, silentLogger)
  await service.replayDone
  await accountJobsDone(service)
  return {
    service,
    base: service.url,
    async replayAgain() {
      await service.close()
      return serve(dir)
    },
    async close() {
      await service.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Hiding and purging accounts finishes in slices after a replay; wait for the last one. */
export async function accountJobsDone(service: Service): Promise<void> {
  for (let i = 0; i < 200 && service.reader.stats().pendingAccountJobs > 0; i++) await new Promise((r) => setTimeout(r, 25))
}

/** GET a path with query parameters (arrays repeat the parameter, as Constellation clients do). */
export async function get(base: string, path: string, params: Record<string, string | number | boolean | string[]> = {}, accept = 'application/json') {
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, String(x))
  const res = await fetch(`${base}${path}${qs.size ? `?${qs}` : ''}`, { headers: { Accept: accept } })
  const text = await res.text()
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) }
}
