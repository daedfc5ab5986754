// Constellation's API, asked the way its clients ask it (parameter spelling, repeated `did=`,
// `from_dids` comma lists, opaque cursors passed back unchanged, `cursor: null` at the end),
// answered from a known corpus replayed through the real service.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  corpus,
  FOLLOW,
  get,
  LIKE,
  LINK_FACET,
  LISTITEM,
  MENTION_PATH,
  REPLY_ROOT,
  startCorpusService,
  type CorpusService,
  type RecordId,
} from './helpers/corpus.js'

const { model, names: n } = corpus
const XRPC = '/xrpc/blue.microcosm.links.'
const legacy = (source: string) => {
  const [collection, path] = [source.slice(0, source.indexOf(':')), `.${source.slice(source.indexOf(':') + 1)}`]
  return { collection, path }
}

/** Follows `cursor` until it is null, collecting `key` of every page. */
async function allPages<T>(base: string, path: string, params: Record<string, any>, key: string): Promise<{ items: T[]; pages: number }> {
  const items: T[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res = await get(base, path, { ...params, ...(cursor ? { cursor } : {}) })
    assert.equal(res.status, 200, res.text)
    const body = res.json()
    assert.ok('cursor' in body, 'cursor is always present')
    items.push(...body[key])
    cursor = body.cursor
    pages++
    assert.ok(pages < 100, 'pagination ends')
  } while (cursor !== null)
  return { items, pages }
}

describe('Constellation-compatible API', () => {
  let s: CorpusService
  before(async () => {
    s = await startCorpusService()
  })
  after(async () => {
    await s?.close()
  })

  test('getBacklinks: total, records newest first, cursor null when exhausted, CORS open', async () => {
    const res = await get(s.base, `${XRPC}getBacklinks`, { subject: n.post, source: LIKE })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('access-control-allow-origin'), '*')
    assert.deepEqual(res.json(), { total: model.backlinks(n.post, LIKE).length, records: model.backlinks(n.post, LIKE), cursor: null })
  })

  test('getBacklinks: pages and reverse pages skip nothing and repeat nothing', async () => {
    const expected = model.backlinks(n.post, LIKE)
    for (const limit of [1, 2, 3]) {
      const forward = await allPages<RecordId>(s.base, `${XRPC}getBacklinks`, { subject: n.post, source: LIKE, limit }, 'records')
      assert.deepEqual(forward.items, expected)
      assert.equal(forward.pages, Math.ceil(expected.length / limit))
      const reverse = await allPages<RecordId>(s.base, `${XRPC}getBacklinks`, { subject: n.post, source: LIKE, limit, reverse: true }, 'records')
      assert.deepEqual(reverse.items, [...expected].reverse())
    }
  })

  test('getBacklinks: repeated did= filters (empty values ignored, as Constellation does)', async () => {
    const wanted = [n.likers[2], n.likers[5], n.hidden, 'did:plc:nobody']
    const res = await get(s.base, `${XRPC}getBacklinks`, { subject: n.post, source: LIKE, did: [...wanted, ''] })
    const expected = model.backlinks(n.post, LIKE).filter((r) => wanted.includes(r.did))
    assert.deepEqual(res.json(), { total: expected.length, records: expected, cursor: null })
  })

  test('getBacklinksCount and the legacy counts: replays and hidden accounts are not counted', async () => {
    for (const [subject, source] of [
      [n.post, LIKE],
      [n.alice, FOLLOW],
      [n.list, LISTITEM],
    ]) {
      const records = model.backlinks(subject, source).length
      const dids = model.dids(subject, source).length
      assert.deepEqual((await get(s.base, `${XRPC}getBacklinksCount`, { subject, source })).json(), { total: records })
      assert.deepEqual((await get(s.base, '/links/count', { target: subject, ...legacy(source) })).json(), { total: records })
      assert.deepEqual((await get(s.base, '/links/count/distinct-dids', { target: subject, ...legacy(source) })).json(), { total: dids })
    }
    // The deactivated account liked the post and follows alice: neither is counted.
    assert.ok(!model.backlinks(n.post, LIKE).some((r) => r.did === n.hidden))
  })

  test('getBacklinkDids and /links/distinct-dids: distinct accounts, most recent first, paged', async () => {
    const expected = model.dids(n.list, LISTITEM)
    const xrpc = await allPages<string>(s.base, `${XRPC}getBacklinkDids`, { subject: n.list, source: LISTITEM, limit: 1 }, 'linking_dids')
    assert.deepEqual(xrpc.items, expected)
    const rest = await allPages<string>(s.base, '/links/distinct-dids', { target: n.post, ...legacy(LIKE), limit: 2 }, 'linking_dids')
    assert.deepEqual(rest.items, model.dids(n.post, LIKE))
    const first = (await get(s.base, `${XRPC}getBacklinkDids`, { subject: n.post, source: LIKE, limit: 2 })).json()
    assert.equal(first.total, model.dids(n.post, LIKE).length)
  })

  test('/links: did= repeated, from_dids comma list, both at once refused, cursors and reverse', async () => {
    const expected = model.backlinks(n.post, LIKE)
    const paged = await allPages<RecordId>(s.base, '/links', { target: n.post, ...legacy(LIKE), limit: 2 }, 'linking_records')
    assert.deepEqual(paged.items, expected)
    const reversed = await allPages<RecordId>(s.base, '/links', { target: n.post, ...legacy(LIKE), limit: 4, reverse: true }, 'linking_records')
    assert.deepEqual(reversed.items, [...expected].reverse())

    const two = [n.likers[0], n.likers[3]]
    const want = expected.filter((r) => two.includes(r.did))
    const byDid = (await get(s.base, '/links', { target: n.post, ...legacy(LIKE), did: two })).json()
    assert.deepEqual(byDid, { total: want.length, linking_records: want, cursor: null })
    const byList = (await get(s.base, '/links', { target: n.post, ...legacy(LIKE), from_dids: two.join(',') })).json()
    assert.deepEqual(byList, byDid)
    const both = await get(s.base, '/links', { target: n.post, ...legacy(LIKE), did: two[0], from_dids: two[1] })
    assert.equal(both.status, 400)
    assert.equal(both.json().error, 'InvalidRequest')
    assert.match(both.json().message, /from_dids/)
  })

  test('/links/all and /links/all/count: every source of a target, paths with their dot', async () => {
    for (const target of [n.post, n.alice, n.members[0]]) {
      const sources = model.sources(target)
      const all = (await get(s.base, '/links/all', { target })).json()
      const counts = (await get(s.base, '/links/all/count', { target })).json()
      const mapPaths = <T>(f: (c: { records: number; dids: number }) => T) =>
        Object.fromEntries(
          Object.entries(sources).map(([coll, paths]) => [coll, Object.fromEntries(Object.entries(paths).map(([p, c]) => [p, f(c)]))]),
        )
      assert.deepEqual(all, { links: mapPaths((c) => ({ records: c.records, distinct_dids: c.dids })) })
      assert.deepEqual(counts, { links: mapPaths((c) => c.records) })
    }
    assert.deepEqual((await get(s.base, '/links/all', { target: 'https://nothing.example/' })).json(), { links: {} })
  })

  test('getManyToManyCounts: list members with record and account counts, did= filter, pages', async () => {
    const params = { subject: n.list, source: LISTITEM, pathToOther: 'subject' }
    const expected = model.manyToManyCounts(n.list, LISTITEM, 'subject')
    const whole = (await get(s.base, `${XRPC}getManyToManyCounts`, params)).json()
    assert.deepEqual(whole, { counts_by_other_subject: expected, cursor: null })
    // The member added by two accounts counts twice, with two distinct accounts.
    assert.ok(expected.some((c) => c.total === 2 && c.distinct === 2))

    const paged = await allPages(s.base, `${XRPC}getManyToManyCounts`, { ...params, limit: 3 }, 'counts_by_other_subject')
    assert.deepEqual(paged.items, expected)

    const byOwner = (await get(s.base, `${XRPC}getManyToManyCounts`, { ...params, did: [n.owner, ''] })).json()
    assert.deepEqual(byOwner.counts_by_other_subject, model.manyToManyCounts(n.list, LISTITEM, 'subject', [n.owner]))

    const some = [n.members[0], n.members[5], 'did:plc:notamember']
    const filtered = (await get(s.base, `${XRPC}getManyToManyCounts`, { ...params, otherSubject: some })).json()
    assert.deepEqual(filtered.counts_by_other_subject, expected.filter((c) => some.includes(c.subject)))
  })

  test('getManyToMany: each linking record with its other subject, linkDid= filter, pages inside records', async () => {
    const params = { subject: n.thread, source: REPLY_ROOT, pathToOther: MENTION_PATH }
    const expected = model.manyToMany(n.thread, REPLY_ROOT, MENTION_PATH).flatMap((m) => m.others.map((o) => ({ linkRecord: m.record, otherSubject: o })))
    for (const limit of [1, 2, 100]) {
      const { items } = await allPages<{ linkRecord: RecordId; otherSubject: string }>(s.base, `${XRPC}getManyToMany`, { ...params, limit }, 'items')
      assert.deepEqual(sortInRecord(items), sortInRecord(expected))
    }
    const one = n.repliers[0]
    const byDid = (await get(s.base, `${XRPC}getManyToMany`, { ...params, linkDid: one })).json()
    assert.deepEqual(sortInRecord(byDid.items), sortInRecord(expected.filter((i) => i.linkRecord.did === one)))
    // The deactivated replier's mentions are hidden.
    assert.ok(!byDid.items.concat(expected).some((i: { linkRecord: RecordId }) => i.linkRecord.did === n.hidden))
  })

  test('subjects are plain strings: a git+https target (rejected by the lexicon uri format) is found', async () => {
    const res = await get(s.base, `${XRPC}getBacklinksCount`, { subject: n.gitRepo, source: LINK_FACET })
    assert.deepEqual(res.json(), { total: model.backlinks(n.gitRepo, LINK_FACET).length })
    assert.equal(res.json().total, 1)
  })

  test('errors: XRPC bodies with 400 on every route, limits 1..1000, bad cursors', async () => {
    const cases: Array<[string, Record<string, any>, RegExp]> = [
      [`${XRPC}getBacklinks`, { subject: n.post, source: LIKE, limit: 0 }, /"limit"/],
      [`${XRPC}getBacklinks`, { subject: n.post, source: LIKE, limit: 1001 }, /"limit"/],
      [`${XRPC}getBacklinks`, { subject: n.post, source: 'nocolon' }, /"source"/],
      [`${XRPC}getBacklinks`, { source: LIKE }, /subject/],
      [`${XRPC}getBacklinkDids`, { subject: n.post, source: LIKE, cursor: 'not a cursor' }, /cursor/i],
      [`${XRPC}getManyToMany`, { subject: n.list, source: LISTITEM, pathToOther: 'subject', limit: 5000 }, /"limit"/],
      [`${XRPC}getManyToManyCounts`, { subject: n.list, source: LISTITEM, pathToOther: '.', limit: 5 }, /"pathToOther"/],
      ['/links', { target: n.post, ...legacy(LIKE), limit: 0 }, /"limit"/],
      ['/links', { target: n.post, ...legacy(LIKE), limit: 'many' }, /"limit"/],
      ['/links', { ...legacy(LIKE) }, /"target"/],
      ['/links/distinct-dids', { target: n.post, ...legacy(LIKE), cursor: '!!' }, /cursor/i],
      ['/links/count', { target: n.post, collection: 'not an nsid', path: '.subject' }, /"collection"/],
      ['/links/count/distinct-dids', { target: n.post, collection: 'app.bsky.feed.like' }, /"path"/],
      ['/links/all', {}, /"target"/],
      ['/links/all/count', { target: 'has spaces in it' }, /"target"/],
    ]
    for (const [path, params, message] of cases) {
      const res = await get(s.base, path, params)
      assert.equal(res.status, 400, `${path} ${JSON.stringify(params)}: ${res.text}`)
      assert.match(res.headers.get('content-type') ?? '', /application\/json/)
      const body = res.json()
      assert.equal(typeof body.error, 'string', res.text)
      assert.match(body.message, message, res.text)
    }
    assert.equal(
      (await get(s.base, `${XRPC}getBacklinks`, { subject: n.post, source: LIKE, limit: 1000 })).status,
      200,
    )
  })

  test('content negotiation: browsers get HTML on every route, everything else JSON', async () => {
    const params = { target: n.post, ...legacy(LIKE) }
    const json = await get(s.base, '/links', params, '*/*')
    assert.match(json.headers.get('content-type')!, /application\/json/)
    assert.match(json.headers.get('vary') ?? '', /Accept/)
    const browser = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
    for (const [path, q] of [
      ['/links', params],
      [`${XRPC}getBacklinks`, { subject: n.post, source: LIKE }],
      ['/', {}],
    ] as const) {
      const page = await get(s.base, path, q, browser)
      assert.equal(page.status, 200)
      assert.match(page.headers.get('content-type')!, /text\/html/)
      assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/)
    }
    const bad = await get(s.base, '/links', { target: n.post, ...legacy(LIKE), limit: 0 }, browser)
    assert.equal(bad.status, 400)
    assert.match(bad.text, /role="alert"/)
  })

  test('robots.txt keeps crawlers off the query routes', async () => {
    const res = await get(s.base, '/robots.txt', {}, 'text/plain')
    assert.match(res.text, /^Disallow: \/links$/m)
    assert.match(res.text, /^Disallow: \/xrpc\/$/m)
    assert.doesNotMatch(res.text, /^Disallow: \/$/m)
  })
})

describe('replaying the same capture again changes nothing (Constellation counts replays twice)', () => {
  test('a second replay over the same database answers identically', async () => {
    const first = await startCorpusService()
    const ask = async (base: string) => ({
      likes: (await get(base, '/links/all', { target: n.post })).json(),
      members: (await get(base, `${XRPC}getManyToManyCounts`, { subject: n.list, source: LISTITEM, pathToOther: 'subject' })).json(),
      follows: (await get(base, `${XRPC}getBacklinks`, { subject: n.alice, source: FOLLOW })).json(),
    })
    const before = await ask(first.base)
    const again = await first.replayAgain()
    try {
      assert.deepEqual(await ask(again.base), before)
    } finally {
      await again.close()
    }
  })
})

/** Items grouped by record in page order; a record's other subjects compared as a sorted set. */
function sortInRecord(items: Array<{ linkRecord: RecordId; otherSubject: string }>) {
  const out: Array<{ record: string; others: string[] }> = []
  for (const i of items) {
    const key = `${i.linkRecord.did}/${i.linkRecord.collection}/${i.linkRecord.rkey}`
    if (out.at(-1)?.record !== key) out.push({ record: key, others: [] })
    out.at(-1)!.others.push(i.otherSubject)
  }
  return out.map((r) => ({ ...r, others: r.others.sort() }))
}
