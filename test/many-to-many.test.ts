// Many-to-many in our own API (com.example.links.getManyToMany*) and the store behind it, on the
// known corpus; plus a 10k-member list for latency.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { l, xrpc, XrpcResponseError } from '@atproto/lex'
import { com } from '../src/lexicons/index.js'
import { parseSource } from '../src/links/source.js'
import { ManyToMany, ScanLimitError } from '../src/store/many-to-many.js'
import { create, did, nextTime, tid } from './helpers/events.js'
import { corpus, LISTITEM, MENTION_PATH, REPLY_ROOT, startCorpusService, type CorpusService, type RecordId } from './helpers/corpus.js'

const { model, names: n } = corpus
type Did = `did:${string}:${string}`

describe('many-to-many', () => {
  let s: CorpusService
  before(async () => {
    s = await startCorpusService()
  })
  after(async () => {
    await s?.close()
  })

  const counts = (params: l.InferInput<typeof com.example.links.getManyToManyCounts.$params>) =>
    xrpc(s.base, com.example.links.getManyToManyCounts, { params })
  const items = (params: l.InferInput<typeof com.example.links.getManyToMany.$params>) =>
    xrpc(s.base, com.example.links.getManyToMany, { params })
  const asOurs = (c: { subject: string; total: number; distinct: number }) => ({ subject: c.subject, records: c.total, dids: c.distinct })

  test('list membership: one group per member, with record and account counts', async () => {
    const res = await counts({ subject: n.list, source: LISTITEM, pathToOther: 'subject' })
    assert.deepEqual(res.body.counts, model.manyToManyCounts(n.list, LISTITEM, 'subject').map(asOurs))
    assert.equal(res.body.cursor, undefined)
    // Removed items, the deactivated account's item and the other list's items are not members.
    const members = res.body.counts.map((c) => c.subject)
    assert.ok(!members.includes(n.members[9]) && !members.includes(n.members[10]))
  })

  test('list membership with a DID filter, and pages of groups', async () => {
    for (const dids of [[n.owner], [n.intruder], [n.owner, n.intruder]]) {
      const res = await counts({ subject: n.list, source: LISTITEM, pathToOther: 'subject', did: dids as Did[] })
      assert.deepEqual(res.body.counts, model.manyToManyCounts(n.list, LISTITEM, 'subject', dids).map(asOurs))
    }
    const unknown = await counts({ subject: n.list, source: LISTITEM, pathToOther: 'subject', did: ['did:plc:nobody'] })
    assert.deepEqual(unknown.body.counts, [], 'a filter matching no account is empty, not unfiltered')

    const seen: unknown[] = []
    let cursor: string | undefined
    do {
      const res = await counts({ subject: n.list, source: LISTITEM, pathToOther: '.subject', limit: 4, cursor })
      assert.ok(res.body.counts.length <= 4)
      seen.push(...res.body.counts)
      cursor = res.body.cursor
    } while (cursor)
    assert.deepEqual(seen, model.manyToManyCounts(n.list, LISTITEM, 'subject').map(asOurs))
  })

  test('otherSubject filter: from the few records of the asked subjects, or by walking the list', async () => {
    // members[0] has fewer list items than the list has: the store starts from its side.
    const few = await counts({ subject: n.list, source: LISTITEM, pathToOther: 'subject', otherSubject: [n.members[0], n.members[3]] })
    assert.deepEqual(
      few.body.counts,
      model.manyToManyCounts(n.list, LISTITEM, 'subject').filter((c) => [n.members[0], n.members[3]].includes(c.subject)).map(asOurs),
    )
    // otherList has fewer items than members[0] has list items: the store walks otherList.
    const walk = await items({ subject: n.otherList, source: LISTITEM, pathToOther: 'subject', otherSubject: [n.members[0]] })
    const expected = model.manyToMany(n.otherList, LISTITEM, 'subject').filter((m) => m.others.includes(n.members[0]))
    assert.deepEqual(
      walk.body.items.map((i) => i.linkRecord),
      expected.map((m) => m.record),
    )
  })

  test('items: pages split inside records that hold several links at pathToOther, nothing lost or repeated', async () => {
    const expected = model
      .manyToMany(n.thread, REPLY_ROOT, MENTION_PATH)
      .flatMap((m) => m.others.map((o) => `${key(m.record)} ${o}`))
    assert.ok(expected.length > 6)
    for (const limit of [1, 2, 3, 5]) {
      const got: string[] = []
      let cursor: string | undefined
      let pages = 0
      do {
        const res = await items({ subject: n.thread, source: REPLY_ROOT, pathToOther: MENTION_PATH, limit, cursor })
        assert.ok(res.body.items.length <= limit)
        got.push(...res.body.items.map((i) => `${key(i.linkRecord)} ${i.otherSubject}`))
        cursor = res.body.cursor
        pages++
      } while (cursor)
      assert.equal(pages, Math.ceil(expected.length / limit), `limit ${limit}: no empty last page`)
      assert.deepEqual(byRecord(got), byRecord(expected), `limit ${limit}`)
    }
  })

  test('nothing to join: unknown subject, unknown path, record without the other link', async () => {
    const none = [
      { subject: 'https://nothing.example/', source: LISTITEM, pathToOther: 'subject' },
      { subject: n.list, source: LISTITEM, pathToOther: 'nosuchpath' },
      { subject: n.list, source: LISTITEM, pathToOther: 'subject', otherSubject: ['did:plc:nobody'] },
    ]
    for (const params of none) assert.deepEqual((await items(params)).body, { items: [] })
    // repliers[3] mentions nobody: the reply links to the thread but adds no item.
    const res = await items({ subject: n.thread, source: REPLY_ROOT, pathToOther: MENTION_PATH, did: [n.repliers[3] as Did] })
    assert.deepEqual(res.body.items, [])
  })

  test('bad input: malformed cursors and paths are 400s with XRPC bodies', async () => {
    for (const call of [
      () => items({ subject: n.list, source: LISTITEM, pathToOther: 'subject', cursor: 'AAAA.!' }),
      () => counts({ subject: n.list, source: LISTITEM, pathToOther: 'subject', cursor: '%%%' }),
      () => counts({ subject: n.list, source: LISTITEM, pathToOther: '' }),
    ]) {
      await assert.rejects(call, (err: unknown) => err instanceof XrpcResponseError && err.status === 400)
    }
    // The generated client checks limits itself; a plain request gets the server's answer.
    const raw = await fetch(`${s.base}/xrpc/com.example.links.getManyToMany?${new URLSearchParams({ subject: n.list, source: LISTITEM, pathToOther: 'subject', limit: '0' })}`)
    assert.equal(raw.status, 400)
    assert.equal((await raw.json()).error, 'InvalidRequest')
  })

  test('scan limit: counts refuse, items return short pages whose cursors still reach the end', () => {
    const store = new ManyToMany(s.service.reader, 3)
    const query = { key: s.service.reader.key(n.list, parseSource(LISTITEM)!), pathToOther: '.subject' }
    assert.throws(() => store.counts(query, { limit: 100 }), ScanLimitError)
    // A DID filter narrows the set below the limit.
    assert.equal(store.counts({ ...query, dids: [n.intruder] }, { limit: 100 }).items.length, 2)

    const got: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = store.items(query, { limit: 100, cursor })
      assert.ok(page.items.length <= 3)
      got.push(...page.items.map((i) => key(i.record)))
      cursor = page.cursor
      pages++
    } while (cursor)
    assert.deepEqual(got, model.manyToMany(n.list, LISTITEM, 'subject').map((m) => key(m.record)))
    assert.ok(pages > 1)
  })
})

describe('many-to-many on a list with 10k members', () => {
  const size = 10_000
  const owner = did('bigowner')
  const list = `at://${owner}/app.bsky.graph.list/${tid(1_700_000_000_009_000)}`
  let s: CorpusService
  before(async () => {
    const events = Array.from({ length: size }, (_, i) => {
      const time = nextTime()
      return create(owner, 'app.bsky.graph.listitem', tid(time), { subject: did(`m${i}`), list, createdAt: 'x' }, { time })
    })
    s = await startCorpusService(events)
  })
  after(async () => {
    await s?.close()
  })

  test('counts of every member and a first page of items on a 10k-member list (timings reported, not asserted)', async (t) => {
    const params = { subject: list, source: LISTITEM, pathToOther: 'subject' }
    const time = async <T>(f: () => Promise<T>) => {
      await f() // warm the page cache
      const start = performance.now()
      const out = await f()
      return { out, ms: performance.now() - start }
    }
    const all = await time(() => xrpc(s.base, com.example.links.getManyToManyCounts, { params: { ...params, limit: 1000 } }))
    assert.equal(all.out.body.counts.length, 1000)
    const page = await time(() => xrpc(s.base, com.example.links.getManyToMany, { params: { ...params, limit: 100 } }))
    assert.equal(page.out.body.items.length, 100)
    const filtered = await time(() =>
      xrpc(s.base, com.example.links.getManyToManyCounts, { params: { ...params, otherSubject: [did('m42')] } }),
    )
    assert.deepEqual(filtered.out.body.counts, [{ subject: did('m42'), records: 1, dids: 1 }])
    t.diagnostic(
      `10k-member list over HTTP: counts (all groups, first 1000) ${all.ms.toFixed(1)} ms; ` +
        `first 100 items ${page.ms.toFixed(1)} ms; counts for one member ${filtered.ms.toFixed(1)} ms`,
    )
  })
})

function key(r: RecordId): string {
  return `${r.did}/${r.collection}/${r.rkey}`
}

/** Lines `record other` grouped by record in order; a record's others as a sorted set. */
function byRecord(lines: string[]): string[] {
  const groups: Array<[string, string[]]> = []
  for (const line of lines) {
    const [record, other] = line.split(' ')
    if (groups.at(-1)?.[0] !== record) groups.push([record, []])
    groups.at(-1)![1].push(other)
  }
  return groups.map(([r, o]) => `${r}: ${o.sort().join(',')}`)
}
