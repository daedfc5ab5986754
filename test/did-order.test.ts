// Where a pair keeps its links by size: in its counts row up to INLINE_MAX, in links_by_time blocks
// above, and also in account order (links_by_did) above DID_ORDER_ABOVE. A subject whose links
// cross both lines in both directions, against a model of its links.
import Database from 'better-sqlite3'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Sfc32 } from '../bench/generate.js'
import { Indexer } from '../src/indexer/indexer.js'
import { parseSource } from '../src/links/source.js'
import { DID_ORDER_ABOVE } from '../src/store/did-order.js'
import { INLINE_MAX } from '../src/store/inline-links.js'
import { DID_ORDER, TIME_ORDER, type LinkOrder } from '../src/store/link-blocks.js'
import { openStore, type StoreHandle } from '../src/store/open.js'
import { Reader, type LinkKey } from '../src/store/reader.js'
import { Writer } from '../src/store/writer.js'
import { account, del, did, follow, lines } from './helpers/events.js'
import { blockLinks, pairLinkCount, timeLinks, toLinkRows } from './helpers/index-tables.js'

const FOLLOW = parseSource('app.bsky.graph.follow:subject')!

interface Link {
  did: string
  rkey: string
}

/** Every listing of the subject agrees with the model, and links_by_did holds it only when large. */
function check(store: StoreHandle, reader: Reader, key: LinkKey, model: Link[], accounts: string[], label: string) {
  const links = (order: LinkOrder) => pairLinkCount(store.sqlite, order, key.targetId!, key.sourceId!)
  assert.equal(links(DID_ORDER), model.length > DID_ORDER_ABOVE ? model.length : 0, `${label}: links in links_by_did`)
  assert.equal(links(TIME_ORDER), model.length > INLINE_MAX ? model.length : 0, `${label}: links in links_by_time`)
  const linkers = new Set(model.map((l) => l.did))
  assert.deepEqual(reader.counts(key), { records: model.length, dids: linkers.size }, `${label}: counts`)

  // Newest first: rkeys are TIDs of increasing time, so the model's order is the rkey order.
  const newest = [...model].sort((a, b) => (a.rkey < b.rkey ? 1 : a.rkey > b.rkey ? -1 : 0))
  const asked = accounts.slice(0, 3)
  for (const reverse of [false, true]) {
    const want = newest.filter((l) => asked.includes(l.did)).map((l) => `${l.did}/${l.rkey}`)
    if (reverse) want.reverse()
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = reader.backlinks(key, { limit: 4, cursor, reverse, dids: asked })
      assert.equal(page.total, want.length, `${label}: filtered total`)
      seen.push(...page.items.map((r) => `${r.did}/${r.rkey}`))
      cursor = page.cursor
    } while (cursor)
    assert.deepEqual(seen, want, `${label}: filtered backlinks, reverse ${reverse}`)
  }

  const distinct: string[] = []
  for (const l of newest) if (!distinct.includes(l.did)) distinct.push(l.did)
  const listed: string[] = []
  let cursor: string | undefined
  do {
    const page = reader.linkingDids(key, { limit: 2, cursor })
    listed.push(...page.items)
    cursor = page.cursor
  } while (cursor)
  assert.deepEqual(listed, distinct, `${label}: distinct accounts`)
}

test('a subject crossing the account-order threshold both ways keeps every listing and count exact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-did-order-'))
  try {
    const path = join(dir, 'index.sqlite')
    const store = await openStore(path)
    const readStore = await openStore(path, { readOnly: true })
    const indexer = new Indexer(new Writer(store))
    const reader = new Reader(readStore)
    const subject = did('subject')
    const accounts = Array.from({ length: 12 }, (_, i) => did(`acct${i}`))
    const rng = new Sfc32(7)
    let model: Link[] = []
    const key = () => reader.key(subject, FOLLOW)
    // Up past the line, down below it, and up again; each batch both adds and removes.
    for (const goal of [90, 40, 70, 10, 66, 64, 65, 16, 17, 3, 80, 0, 5]) {
      while (model.length !== goal) {
        const events: object[] = []
        const size = 1 + Math.floor(rng.float() * Math.min(20, Math.abs(goal - model.length) + 2))
        for (let i = 0; i < size; i++) {
          const grow = model.length < goal ? rng.float() < 0.85 : rng.float() < 0.15
          if (grow || model.length === 0) {
            const e = follow(accounts[rng.below(accounts.length)]!, subject)
            model.push({ did: e.did, rkey: e.commit.rkey })
            events.push(e)
          } else {
            const [gone] = model.splice(rng.below(model.length), 1)
            events.push(del(gone!.did, 'app.bsky.graph.follow', gone!.rkey))
          }
        }
        indexer.applyLines(lines(events))
        check(store, reader, key(), model, accounts, `at ${model.length} links`)
      }
    }

    // Hiding an account removes its links from both orders; showing it brings them back.
    const hidden = accounts[0]!
    indexer.applyLines(lines([account(hidden, false, 'deactivated')]))
    indexer.runAccountJobs()
    check(store, reader, key(), model.filter((l) => l.did !== hidden), accounts, 'one account hidden')
    indexer.applyLines(lines([account(hidden, true)]))
    indexer.runAccountJobs()
    check(store, reader, key(), model, accounts, 'shown again')
    await readStore.close()
    await store.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('migration 004 keeps the account order of large subjects only, and reads agree before and after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-did-order-'))
  try {
    const path = join(dir, 'index.sqlite')
    let store = await openStore(path)
    const big = did('big')
    const small = did('small')
    const accounts = Array.from({ length: DID_ORDER_ABOVE + 6 }, (_, i) => did(`f${i}`))
    new Indexer(new Writer(store)).applyLines(
      lines([...accounts.map((a) => follow(a, big)), ...accounts.slice(0, 5).map((a) => follow(a, small))]),
    )
    const links = timeLinks(store.sqlite)
    await store.close()

    // The previous version kept every pair in account order, a row per link.
    const raw = new Database(path)
    toLinkRows(raw)
    const insert = raw.prepare('INSERT OR IGNORE INTO links_by_did VALUES (?, ?, ?, ?)')
    for (const [targetId, sourceId, rkey, didId] of links) insert.run(targetId, sourceId, didId, rkey)
    raw.exec("DELETE FROM kysely_migration WHERE name >= '2026-11-27-004'")
    const all = raw.prepare('SELECT count(*) FROM links_by_did').pluck().get()
    assert.equal(all, accounts.length + 5)
    raw.close()

    const reported: unknown[] = []
    store = await openStore(path, { onMigration: (e) => reported.push('pending' in e ? e.pending : e.done) })
    // What runs is reported before and after (the service logs it: an upgrade can take minutes).
    const upgraded = [
      '2026-11-27-004-account-order-for-large-subjects',
      '2026-11-27-005-record-blocks',
      '2026-11-27-006-inline-links',
      '2026-12-07-007-link-blocks',
    ]
    assert.deepEqual(reported, [upgraded, upgraded])
    const reader = new Reader(store)
    assert.equal(blockLinks(store.sqlite, DID_ORDER).length, accounts.length, 'only the large pair keeps its account order')
    for (const [subject, n] of [[big, accounts.length], [small, 5]] as const) {
      const key = reader.key(subject, FOLLOW)
      assert.deepEqual(reader.counts(key), { records: n, dids: n })
      const page = reader.backlinks(key, { limit: 10, dids: [accounts[1]!, accounts[3]!] })
      assert.deepEqual(page.items.map((r) => r.did), [accounts[3], accounts[1]])
    }
    await store.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
