import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  extractLinks,
  normalizeLink,
  MAX_DEPTH,
  MAX_LINKS,
  MAX_PATH_LENGTH,
  MAX_STRING_LENGTH,
  MAX_VALUES,
} from '../src/links/extract.js'

const ALICE = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const BOB = 'did:plc:44ybard66vv44zksje25o7dz'
const POST = `at://${BOB}/app.bsky.feed.post/3l3qo2vutsw2b`
const ROOT = `at://${BOB}/app.bsky.feed.post/3l3qo2vuowo2b`
const LIST = `at://${ALICE}/app.bsky.graph.list/3l7a7wbbv2f2r`
const CID = 'bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a'
const NOW = '2024-11-14T19:49:11.000Z'

/** Links as [path, target] pairs, in extraction order. */
const pairs = (record: unknown) => extractLinks(record).map((l) => [l.path, l.target])

describe('bsky records', () => {
  test('like', () => {
    const like = { $type: 'app.bsky.feed.like', createdAt: NOW, subject: { cid: CID, uri: POST } }
    assert.deepEqual(extractLinks(like), [{ path: '.subject.uri', target: POST }])
  })

  test('repost, with via', () => {
    const via = `at://${ALICE}/app.bsky.feed.repost/3mptbtxwtn32y`
    const repost = {
      $type: 'app.bsky.feed.repost',
      createdAt: NOW,
      subject: { cid: CID, uri: POST },
      via: { cid: CID, uri: via },
    }
    assert.deepEqual(pairs(repost), [
      ['.subject.uri', POST],
      ['.via.uri', via],
    ])
  })

  test('follow and block', () => {
    assert.deepEqual(pairs({ $type: 'app.bsky.graph.follow', createdAt: NOW, subject: BOB }), [['.subject', BOB]])
    assert.deepEqual(pairs({ $type: 'app.bsky.graph.block', createdAt: NOW, subject: 'did:web:example.com' }), [
      ['.subject', 'did:web:example.com'],
    ])
  })

  test('reply: parent and root (same target at two paths is kept twice)', () => {
    const reply = {
      $type: 'app.bsky.feed.post',
      createdAt: NOW,
      langs: ['en'],
      reply: { parent: { cid: CID, uri: POST }, root: { cid: CID, uri: ROOT } },
      text: 'Yup!',
    }
    assert.deepEqual(pairs(reply), [
      ['.reply.parent.uri', POST],
      ['.reply.root.uri', ROOT],
    ])
    const topLevelReply = { ...reply, reply: { parent: { cid: CID, uri: ROOT }, root: { cid: CID, uri: ROOT } } }
    assert.deepEqual(pairs(topLevelReply), [
      ['.reply.parent.uri', ROOT],
      ['.reply.root.uri', ROOT],
    ])
  })

  test('quote, and quote with media', () => {
    const quote = {
      $type: 'app.bsky.feed.post',
      createdAt: NOW,
      embed: { $type: 'app.bsky.embed.record', record: { cid: CID, uri: POST } },
      text: 'look',
    }
    assert.deepEqual(pairs(quote), [['.embed.record.uri', POST]])

    const quoteWithMedia = {
      $type: 'app.bsky.feed.post',
      createdAt: NOW,
      embed: {
        $type: 'app.bsky.embed.recordWithMedia',
        media: {
          $type: 'app.bsky.embed.images',
          images: [
            {
              alt: 'a cat, see https://example.com/cat',
              aspectRatio: { height: 600, width: 800 },
              image: { $type: 'blob', ref: { $link: CID }, mimeType: 'image/jpeg', size: 12345 },
            },
          ],
        },
        record: { $type: 'app.bsky.embed.record', record: { cid: CID, uri: POST } },
      },
      text: 'look',
    }
    assert.deepEqual(pairs(quoteWithMedia), [['.embed.record.record.uri', POST]])
  })

  test('mentions and link facets, several features in one facet', () => {
    const post = {
      $type: 'app.bsky.feed.post',
      createdAt: NOW,
      text: '@bob.test read https://example.com/a and #tag',
      facets: [
        {
          index: { byteStart: 0, byteEnd: 9 },
          features: [{ $type: 'app.bsky.richtext.facet#mention', did: BOB }],
        },
        {
          index: { byteStart: 15, byteEnd: 36 },
          features: [
            { $type: 'app.bsky.richtext.facet#link', uri: 'https://example.com/a' },
            { $type: 'app.bsky.richtext.facet#mention', did: ALICE },
            { $type: 'app.bsky.richtext.facet#tag', tag: 'tag' },
          ],
        },
      ],
    }
    assert.deepEqual(pairs(post), [
      ['.facets[].features[app.bsky.richtext.facet#mention].did', BOB],
      ['.facets[].features[app.bsky.richtext.facet#link].uri', 'https://example.com/a'],
      ['.facets[].features[app.bsky.richtext.facet#mention].did', ALICE],
    ])
  })

  test('external embed and link facet to the same URL', () => {
    const post = {
      $type: 'app.bsky.feed.post',
      createdAt: NOW,
      embed: {
        $type: 'app.bsky.embed.external',
        external: {
          description: 'YouTube video',
          thumb: { $type: 'blob', ref: { $link: CID }, mimeType: 'image/jpeg', size: 477460 },
          title: 'A video',
          uri: 'https://youtu.be/oKXm4szEP1Q?si=_0n_uPu4qNKokMnq',
        },
      },
      facets: [
        {
          features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://youtu.be/oKXm4szEP1Q?si=_0n_uPu4qNKokMnq' }],
          index: { byteEnd: 24, byteStart: 0 },
        },
      ],
      langs: ['en'],
      text: 'youtu.be/oKXm4szEP1Q?...',
    }
    assert.deepEqual(pairs(post), [
      ['.embed.external.uri', 'https://youtu.be/oKXm4szEP1Q?si=_0n_uPu4qNKokMnq'],
      ['.facets[].features[app.bsky.richtext.facet#link].uri', 'https://youtu.be/oKXm4szEP1Q?si=_0n_uPu4qNKokMnq'],
    ])
  })

  test('list and list item', () => {
    const list = {
      $type: 'app.bsky.graph.list',
      name: 'friends',
      purpose: 'app.bsky.graph.defs#curatelist',
      description: 'people I like',
      createdAt: NOW,
    }
    assert.deepEqual(extractLinks(list), [])
    const item = { $type: 'app.bsky.graph.listitem', subject: BOB, list: LIST, createdAt: NOW }
    assert.deepEqual(pairs(item), [
      ['.subject', BOB],
      ['.list', LIST],
    ])
  })

  test('threadgate with list rules', () => {
    const list2 = `at://${ALICE}/app.bsky.graph.list/3l7a7wbbv2f2s`
    const gate = {
      $type: 'app.bsky.feed.threadgate',
      post: POST,
      allow: [
        { $type: 'app.bsky.feed.threadgate#mentionRule' },
        { $type: 'app.bsky.feed.threadgate#listRule', list: LIST },
        { $type: 'app.bsky.feed.threadgate#listRule', list: list2 },
      ],
      hiddenReplies: [ROOT],
      createdAt: NOW,
    }
    assert.deepEqual(pairs(gate), [
      ['.post', POST],
      ['.allow[app.bsky.feed.threadgate#listRule].list', LIST],
      ['.allow[app.bsky.feed.threadgate#listRule].list', list2],
      ['.hiddenReplies[]', ROOT],
    ])
  })

  test('starter pack', () => {
    const feed = `at://${ALICE}/app.bsky.feed.generator/aaalpdtfsootk`
    const pack = {
      $type: 'app.bsky.graph.starterpack',
      name: 'Cool people',
      list: LIST,
      feeds: [{ uri: feed }],
      createdAt: NOW,
    }
    assert.deepEqual(pairs(pack), [
      ['.list', LIST],
      ['.feeds[].uri', feed],
    ])
  })

  test('profile pinnedPost', () => {
    const profile = {
      $type: 'app.bsky.actor.profile',
      displayName: 'Bob',
      description: 'I post at https://bob.example.com',
      avatar: { $type: 'blob', ref: { $link: CID }, mimeType: 'image/png', size: 1000 },
      pinnedPost: { cid: CID, uri: POST },
    }
    assert.deepEqual(pairs(profile), [['.pinnedPost.uri', POST]])
  })
})

describe('other lexicons', () => {
  test('nested unions and arrays of $typed objects', () => {
    const record = {
      $type: 'com.example.doc',
      author: { did: ALICE },
      blocks: [
        { $type: 'com.example.doc#paragraph', spans: [{ $type: 'com.example.doc#link', href: 'https://a.example/' }] },
        {
          $type: 'com.example.doc#embed',
          target: { $type: 'com.example.doc#strongRef', uri: POST, cid: CID },
          grid: [[ROOT, 'not a link'], ['ftp://files.example/x']],
        },
        { untyped: [BOB] },
        { $type: 42, uri: LIST },
      ],
    }
    assert.deepEqual(pairs(record), [
      ['.author.did', ALICE],
      ['.blocks[com.example.doc#paragraph].spans[com.example.doc#link].href', 'https://a.example/'],
      ['.blocks[com.example.doc#embed].target.uri', POST],
      ['.blocks[com.example.doc#embed].grid[][]', ROOT],
      ['.blocks[com.example.doc#embed].grid[][]', 'ftp://files.example/x'],
      ['.blocks[].untyped[]', BOB],
      ['.blocks[].uri', LIST], // a non-string $type does not name the item
    ])
  })

  test('keys are not escaped, $type and other fields are walked too', () => {
    const record = { 'a.b': { '[x]': 'mailto:x@example.com' }, $type: 'tag:example.com,2024:thing' }
    assert.deepEqual(pairs(record), [
      ['.a.b.[x]', 'mailto:x@example.com'],
      ['.$type', 'tag:example.com,2024:thing'],
    ])
  })
})

describe('deduplication', () => {
  test('the same target twice at the same path counts once', () => {
    const post = {
      facets: [
        { features: [{ $type: 'app.bsky.richtext.facet#mention', did: BOB }] },
        { features: [{ $type: 'app.bsky.richtext.facet#mention', did: BOB }] },
        { features: [{ $type: 'app.bsky.richtext.facet#mention', did: ALICE }] },
      ],
    }
    assert.deepEqual(pairs(post), [
      ['.facets[].features[app.bsky.richtext.facet#mention].did', BOB],
      ['.facets[].features[app.bsky.richtext.facet#mention].did', ALICE],
    ])
  })

  test('targets that normalize the same are one link', () => {
    const record = { refs: ['https://Example.com/a', 'HTTPS://example.com/%61', 'https://example.com/b/../a'] }
    assert.deepEqual(pairs(record), [['.refs[]', 'https://example.com/a']])
  })

  test('the same target at two paths is kept twice', () => {
    assert.deepEqual(pairs({ a: BOB, b: BOB }), [
      ['.a', BOB],
      ['.b', BOB],
    ])
  })
})

describe('normalizeLink', () => {
  test('at-uris', () => {
    const cases: [string, string][] = [
      [POST, POST],
      ['at://did:plc:asdf123', 'at://did:plc:asdf123'],
      ['AT://did:plc:asdf123/com.atproto.feed.post/abc', 'at://did:plc:asdf123/com.atproto.feed.post/abc'],
      ['at://Alice.Example.COM/app.bsky.feed.post/3k', 'at://alice.example.com/app.bsky.feed.post/3k'],
      // A DID authority keeps its case (DIDs are case-sensitive); the path too.
      ['at://did:plc:AbC/App.Bsky.Feed.Post/3K', 'at://did:plc:AbC/App.Bsky.Feed.Post/3K'],
      ['at://did:plc:asdf123/', 'at://did:plc:asdf123'],
      ['at://did:plc:asdf123/com.atproto.feed.post/record/', 'at://did:plc:asdf123/com.atproto.feed.post/record'],
      ['at://user.bsky.social//', 'at://user.bsky.social'],
      ['at://user.bsky.social//com.atproto.feed.post', 'at://user.bsky.social/com.atproto.feed.post'],
      ['at://bad-example.com/a/../b', 'at://bad-example.com/b'],
      ['at://bad-example.com/../', 'at://bad-example.com'],
      ['at://did:plc:asdf123/./com.atproto.feed.post/x/.', 'at://did:plc:asdf123/com.atproto.feed.post/x'],
      ['at://bad-example.com/%61/%62', 'at://bad-example.com/a/b'], // unreserved: decoded
      ['at://bad-example.com/%3a', 'at://bad-example.com/%3A'], // reserved: kept, hex uppercased
      ['at://did:plc:asdf123/com.atproto.feed.post/%23', 'at://did:plc:asdf123/com.atproto.feed.post/%23'],
      ['at://bad-example.com?q=z', 'at://bad-example.com?q=z'],
      ['at://did:plc:asdf123#/frag', 'at://did:plc:asdf123#/frag'],
      ['at://did:plc:asdf123/com.atproto.feed.post/record/#/frag', 'at://did:plc:asdf123/com.atproto.feed.post/record#/frag'],
    ]
    for (const [input, expected] of cases) assert.equal(normalizeLink(input), expected, input)
  })

  test('DIDs are kept as they are', () => {
    for (const did of [
      BOB,
      'did:web:example.com',
      'did:web:localhost%3A1234',
      'did:key:zQ3shZc2QzApp2oymGvQbzP8eKheVshBHbU4ZYjeXqwSKEn6N',
      'did:method:val:two',
      'did:m:v',
      'did:method::::val',
      'did:method:-:_:.',
    ]) {
      assert.equal(normalizeLink(did), did, did)
    }
  })

  test('generic RFC 3986 URIs', () => {
    const cases: [string, string][] = [
      ['https://example.com', 'https://example.com'],
      ['https://example.com/path?q=blah&yes=true#frag.123', 'https://example.com/path?q=blah&yes=true#frag.123'],
      ['HTTPS://WWW.Example.COM/Path/To', 'https://www.example.com/Path/To'], // path case kept
      ['HTTPS://example.com/../', 'https://example.com/'],
      ['http://a/b/c/./../../g', 'http://a/g'],
      ['http://a/b/c/%2E/%2E./%2e%2E/d', 'http://a/d'],
      ['https://example.com/%7euser/%41%2f%3f?q=%61%2B#%62', 'https://example.com/~user/A%2F%3F?q=a%2B#b'],
      ['https://ex%41mple.com/', 'https://example.com/'],
      ['http://example.com:/x', 'http://example.com/x'],
      ['http://User@Example.com:8080', 'http://User@example.com:8080'],
      ['http://[2001:DB8::1]:443/', 'http://[2001:db8::1]:443/'],
      ['http://[::ffff:192.0.2.1]/', 'http://[::ffff:192.0.2.1]/'],
      ['tel:5551234567', 'tel:5551234567'],
      ['dns:example.com', 'dns:example.com'],
      ['mailto:someone@example.com', 'mailto:someone@example.com'],
      ['content-type:text/plan', 'content-type:text/plan'],
      ['microsoft.windows.camera:thing', 'microsoft.windows.camera:thing'],
      ['go://?Mercedes%20Benz', 'go://?Mercedes%20Benz'],
      ['urn:isbn:0451450523', 'urn:isbn:0451450523'],
      ['file:///etc/hosts', 'file:///etc/hosts'],
      ['foo:a/../b', 'foo:a/../b'], // rootless path: dot segments kept
      ['wss://prod.example/xrpc/x?streamer=did%3Aplc%3Aabc', 'wss://prod.example/xrpc/x?streamer=did%3Aplc%3Aabc'],
    ]
    for (const [input, expected] of cases) assert.equal(normalizeLink(input), expected, input)
  })

  test('strings that are not links', () => {
    for (const s of [
      '',
      ' ',
      'hello',
      'check out https://example.com it is great', // a URL inside prose
      'https://example.com is great',
      ' https://example.com',
      'https://example.com/trailing-whitespace ',
      'https://example.com/path gap',
      'https:\\\\example.com',
      'https:\\example.com',
      'https://exa mple.com',
      'https://example.com/<script>',
      'https://例え.jp/',
      'https://example.com/ü',
      'https://example.com/%zz',
      'https://example.com/%2',
      'http://host:80a/',
      'http://a@b@c/',
      'http://[1::2::3]/',
      'http://[::1/',
      'http://[12345::]/',
      'example.com',
      '//example.com',
      '://example.com',
      '.http://example.com',
      '-http://example.com',
      '12345',
      '127.0.0.1',
      '12:30',
      CID,
      'bafkreias7oxbr6swsuggccmtnqpoeami4jza5x4w3urltn6gzhqf4k6k2e',
      '3jwdwj2ctlk26',
      'self',
      NOW,
      'app.bsky.feed.post',
      'app.bsky.richtext.facet#link',
      'image/jpeg',
      // DIDs: the did scheme must be a valid DID, not a generic URI
      'did:PLC:x',
      'did:plc:',
      'did:plc',
      'did:plc:abc:',
      'did:plc:abc%',
      'DID:plc:abc',
      'did:m123:val',
      'did:bad:z$z',
      'did:method:val/two',
      'did:method:val?two',
      'did:method:val#two',
      'did:plc:' + 'a'.repeat(2100),
      // at-uris: the at scheme must be an at-uri, not a generic URI
      'at://',
      'at:///did:plc:asdf123',
      'at:did:plc:asdf123',
      'at:/did:plc:asdf123',
      'at//did:plc:asdf123',
      'at://did:plc:asdf123 ',
      'at://did:plc:asdf123/com.atproto.feed.post#fr ag',
      'at://did:plc:asdf123/com.atproto.feed.post/%',
      'at://did:plc:asdf123/com.atproto.feed.post/%3',
      'at://did:plc:asdf123/com.atproto.feed.post/%zz',
      'at://did:plc:asdf123/com.atproto.feed.post/~\'sdf123")',
      'at://µcosm.example.com',
    ]) {
      assert.equal(normalizeLink(s), null, JSON.stringify(s))
    }
  })

  test('non-links in records: numbers, booleans, null, CIDs, empty strings', () => {
    const record = {
      count: 12,
      ok: true,
      nothing: null,
      empty: '',
      cid: CID,
      ref: { $link: CID },
      bytes: { $bytes: 'aGVsbG8=' },
      text: 'see https://example.com and did:plc:abc for details',
      list: [1, 2.5, false, null, '', 'did:plc:'],
    }
    assert.deepEqual(extractLinks(record), [])
  })

  test('strings longer than MAX_STRING_LENGTH are not links', () => {
    const long = 'https://example.com/' + 'x'.repeat(MAX_STRING_LENGTH)
    assert.equal(normalizeLink(long), null)
    const fits = 'https://example.com/' + 'x'.repeat(MAX_STRING_LENGTH - 20)
    assert.equal(normalizeLink(fits), fits)
  })
})

describe('record shapes', () => {
  test('non-object records give no links', () => {
    for (const r of [null, undefined, 1, 'at://did:plc:abc', true, [POST], [{ uri: POST }]]) {
      assert.deepEqual(extractLinks(r), [], String(r))
    }
  })

  test('non-plain objects (bytes, CID instances) are not walked', () => {
    class FakeCid {
      uri = POST
    }
    const record = { bytes: new Uint8Array(8), cid: new FakeCid(), subject: BOB }
    assert.deepEqual(pairs(record), [['.subject', BOB]])
  })

  test('links are in document order', () => {
    const record = { z: 'https://z.example', a: { m: 'https://m.example' }, b: ['https://b.example'] }
    assert.deepEqual(
      extractLinks(record).map((l) => l.target),
      ['https://z.example', 'https://m.example', 'https://b.example'],
    )
  })
})

describe('hostile records', () => {
  test('100,000 nested arrays do not overflow the stack', () => {
    let deep: unknown = POST
    for (let i = 0; i < 100_000; i++) deep = [deep]
    const record = { subject: BOB, deep }
    assert.deepEqual(pairs(record), [['.subject', BOB]]) // the link past MAX_DEPTH is ignored
  })

  test('links up to MAX_DEPTH are found, deeper ones are not', () => {
    // The root object is level 1; each wrapper array adds one level.
    const wrap = (levels: number) => {
      let v: unknown = POST
      for (let i = 0; i < levels; i++) v = [v]
      return { v }
    }
    assert.deepEqual(pairs(wrap(MAX_DEPTH - 1)), [['.v' + '[]'.repeat(MAX_DEPTH - 1), POST]])
    assert.deepEqual(pairs(wrap(MAX_DEPTH)), [])
  })

  test('100,000 nested objects do not overflow the stack', () => {
    let deep: Record<string, unknown> = { uri: POST }
    for (let i = 0; i < 100_000; i++) deep = { a: deep }
    assert.deepEqual(extractLinks(deep), [])
  })

  test('a 1,000,000-item array gives at most MAX_LINKS links', () => {
    const items = Array.from({ length: 1_000_000 }, (_, i) => `https://example.com/${i}`)
    const links = extractLinks({ items })
    assert.equal(links.length, MAX_LINKS)
    assert.deepEqual(links[0], { path: '.items[]', target: 'https://example.com/0' })
    assert.deepEqual(links[MAX_LINKS - 1], { path: '.items[]', target: `https://example.com/${MAX_LINKS - 1}` })
  })

  test('a 1,000,000-item array of non-links stops after MAX_VALUES', () => {
    const items: unknown[] = new Array(1_000_000).fill('not a link')
    items[999_999] = POST
    assert.deepEqual(extractLinks({ items }), [])
    // The items array itself is the first value visited, so items[MAX_VALUES - 2] is the last.
    items[MAX_VALUES - 2] = BOB
    items[MAX_VALUES - 1] = ALICE
    assert.deepEqual(pairs({ items }), [['.items[]', BOB]])
  })

  test('a 10 MB string is skipped quickly', () => {
    const huge = 'https://example.com/' + 'a'.repeat(10 * 1024 * 1024)
    assert.deepEqual(pairs({ huge, subject: BOB }), [['.subject', BOB]])
    assert.equal(normalizeLink(huge), null)
    // A huge non-link string fails fast too (no scheme).
    assert.equal(normalizeLink(' '.repeat(10 * 1024 * 1024)), null)
  })

  test('huge keys and $types: paths longer than MAX_PATH_LENGTH are skipped', () => {
    const bigKey = 'k'.repeat(MAX_PATH_LENGTH)
    const record = {
      [bigKey]: { uri: POST },
      items: [{ $type: 't'.repeat(10 * MAX_PATH_LENGTH), uri: POST }],
      ok: { uri: POST },
    }
    assert.deepEqual(pairs(record), [['.ok.uri', POST]])
  })

  test('pathological strings fail fast (no regex backtracking)', () => {
    for (const s of [
      'a'.repeat(8000) + '!',
      'a'.repeat(7999) + ':',
      'did:plc:' + 'a:'.repeat(1000) + '!',
      'at://' + 'a'.repeat(8000) + ' ',
      'http://' + '['.repeat(8000),
      'http://[' + '1:'.repeat(3000) + ']',
      'x:' + '%41'.repeat(2600) + '%',
    ]) {
      for (let i = 0; i < 100; i++) normalizeLink(s)
    }
  })
})
