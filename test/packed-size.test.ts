// bench/packed-size.ts on a real index: blocks per (target, source) and per (account, collection),
// and the packed time order far smaller than one row per link for a much-liked post.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { packedSize } from '../bench/packed-size.js'
import { Indexer } from '../src/indexer/indexer.js'
import { openStore } from '../src/store/open.js'
import { Writer } from '../src/store/writer.js'
import { did, like, lines, postUri } from './helpers/events.js'

test('packed-size: one block per 64 links of a subject, one per account and collection, smaller than a row per link', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-packed-'))
  try {
    const path = join(dir, 'index.sqlite')
    const store = await openStore(path)
    const indexer = new Indexer(new Writer(store))
    const author = did('author')
    const hot = postUri(author, 1_700_000_000_000_000)
    const likers = Array.from({ length: 5000 }, (_, i) => did(`l${String(i).padStart(5, '0')}`))
    // 5,000 likes of one post, then 50 of the likers each like a post of their own.
    const events = [...likers.map((l) => like(l, hot)), ...likers.slice(0, 50).map((l, i) => like(l, postUri(author, 1_700_000_000_000_001 + i)))]
    for (let i = 0; i < events.length; i += 1000) indexer.applyLines(lines(events.slice(i, i + 1000)))
    store.sqlite.pragma('wal_checkpoint(TRUNCATE)')
    await store.close()

    const r = packedSize(path, 64)
    assert.equal(r.links, 5050)
    const by = new Map(r.structures.map((s) => [s.table, s]))
    // The 50 one-link subjects keep their links in their counts rows (inline-links.ts), not as rows.
    assert.equal(by.get('links_by_time')!.blocks, Math.ceil(5000 / 64))
    // The index keeps the account order of large subjects only (did-order.ts): not the 50 one-link ones.
    assert.equal(by.get('links_by_did')!.blocks, Math.ceil(5000 / 64))
    assert.equal(by.get('records')!.blocks, 5000)
    assert.equal(by.get('links_by_did_large')!.blocks, Math.ceil(5000 / 64))
    assert.ok(r.packedLargeDidOrder <= r.packed)
    const time = by.get('links_by_time')!
    assert.ok(time.packed * 2 < time.today, `packed ${time.packed} vs ${time.today} bytes`)
    assert.ok(r.packed < r.today)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
