// Records like a real network's (likes, follows, posts with replies, quotes and facets,
// reposts, blocks, list items, a profile) plus a custom lexicon with nested and $typed links,
// CID links, bytes and non-TID record keys; and the Jetstream events that would carry them.
import { TID } from '@atproto/common'
import { lexToJson, parseCid, type LexMap } from '@atproto/lex'
import type { RecordInput } from './test-pds.js'

const CID = 'bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a'
const BLOB = parseCid('bafkreibpjlal3phb4p7di3xyhmffvrazdnnw56cl4iqk74x637crmyyaxe')
let clock = Date.parse('2026-11-27T12:00:00.000Z')
/** A new timestamp per record, so no two records are byte-identical (same CID). */
const stamp = () => new Date(clock++).toISOString()

const ref = (uri: string) => ({ uri, cid: CID })
const postUri = (did: string, rkey: string) => `at://${did}/app.bsky.feed.post/${rkey}`

/** A varied repo for `did` whose records link to `others` (and to each other). */
export function sampleRecords(did: string, others: string[], extra = 0): RecordInput[] {
  const out: RecordInput[] = []
  const add = (collection: string, record: LexMap, rkey = TID.nextStr()) => {
    out.push({ collection, rkey, record: { $type: collection, ...record } })
    return rkey
  }
  const other = (i: number) => others[i % others.length]
  const root = add('app.bsky.feed.post', { text: 'hello', createdAt: stamp(), langs: ['en'] })
  add('app.bsky.feed.post', {
    text: 'a reply',
    createdAt: stamp(),
    reply: { root: ref(postUri(did, root)), parent: ref(postUri(other(0), '3l3qo2vutsw2b')) },
  })
  add('app.bsky.feed.post', {
    text: 'quoting @friend see https://example.com/page',
    createdAt: stamp(),
    embed: { $type: 'app.bsky.embed.record', record: ref(postUri(other(1), '3l3qo2vuowo2b')) },
    facets: [
      { index: { byteStart: 8, byteEnd: 15 }, features: [{ $type: 'app.bsky.richtext.facet#mention', did: other(2) }] },
      { index: { byteStart: 20, byteEnd: 44 }, features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://example.com/page' }] },
    ],
  })
  add('app.bsky.feed.post', {
    text: 'a picture',
    createdAt: stamp(),
    embed: { $type: 'app.bsky.embed.images', images: [{ alt: '', image: { $type: 'blob', ref: BLOB, mimeType: 'image/png', size: 1234 } }] },
  })
  add('app.bsky.actor.profile', { displayName: 'someone', avatar: { $type: 'blob', ref: BLOB, mimeType: 'image/png', size: 99 }, pinnedPost: ref(postUri(did, root)) }, 'self')
  for (let i = 0; i < 3 + extra; i++) {
    add('app.bsky.feed.like', { subject: ref(postUri(other(i), '3l3qo2vutsw2b')), createdAt: stamp() })
    add('app.bsky.graph.follow', { subject: other(i + 1), createdAt: stamp() })
  }
  add('app.bsky.feed.like', { subject: ref(postUri(other(3), '3l3qo2vuowo2b')), via: ref(`at://${other(4)}/app.bsky.feed.repost/3mptbtxwtn32y`), createdAt: stamp() })
  add('app.bsky.feed.repost', { subject: ref(postUri(other(0), '3l3qo2vuowo2b')), createdAt: stamp() })
  add('app.bsky.graph.block', { subject: other(5), createdAt: stamp() })
  add('app.bsky.graph.listitem', { subject: other(6), list: `at://${did}/app.bsky.graph.list/3l7a7wbbv2f2r`, createdAt: stamp() })
  add('com.example.thing', {
    nested: { deeper: [{ $type: 'com.example.thing#item', target: postUri(other(7), root) }, { at: `at://${other(8)}` }] },
    homepage: 'https://example.org/~x?y=1#z',
    blobLink: BLOB,
    raw: new Uint8Array([1, 2, 3]),
    count: 7,
  }, 'custom-key:1~x')
  add('com.example.thing', { note: 'no links here', flag: true }, 'self')
  return out
}

/** The Jetstream create events (JSON lines) that carry `records` at `rev`. */
export function createEvents(did: string, rev: string, records: Iterable<RecordInput>, timeUs = 1_783_000_000_000_000): string[] {
  return [...records].map((r, i) =>
    JSON.stringify({
      did,
      time_us: timeUs + i,
      kind: 'commit',
      commit: { rev, operation: 'create', collection: r.collection, rkey: r.rkey, record: lexToJson(r.record), cid: CID },
    }),
  )
}

export function deleteEvent(did: string, rev: string, collection: string, rkey: string, timeUs = 1_783_000_000_000_000): string {
  return JSON.stringify({ did, time_us: timeUs, kind: 'commit', commit: { rev, operation: 'delete', collection, rkey } })
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** A distinct did:plc for test account `i` (24 base32 chars, as real ones). */
export function testDid(i: number): string {
  let id = ''
  for (let n = i, k = 0; k < 24; k++, n = Math.floor(n / 32)) id = BASE32[n % 32] + id
  return `did:plc:${id}`
}
