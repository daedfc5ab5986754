import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { IngestLoop } from '../src/indexer/ingest-loop.js'
import { Indexer } from '../src/indexer/indexer.js'
import { silentLogger } from '../src/logger.js'
import { openStore } from '../src/store/open.js'
import { WalCheckpointer } from '../src/store/wal-checkpointer.js'
import { Writer } from '../src/store/writer.js'
import { did, like, lines, postUri } from './helpers/events.js'

// WAL checkpoints run on a thread of their own (src/store/wal-checkpointer.ts): committed pages
// reach the database file without the writer copying them, and the WAL stays bounded.

const dir = mkdtempSync(join(tmpdir(), 'backlinks-checkpoint-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const author = did('checkpoint-author')
const post = postUri(author, 1_700_000_000_000_000)
const likes = Array.from({ length: 50 }, (_, i) => like(did(`checkpoint-fan-${i}`), post))

let n = 0
const newPath = () => join(dir, `index-${n++}.sqlite`)

/** Links counted in the database file alone, as a copy without its WAL sees it. */
function linksInFile(path: string): number {
  const copy = `${path}.copy`
  copyFileSync(path, copy)
  const db = new Database(copy, { readonly: true })
  try {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'links'").pluck().get() as number | undefined
    return row ?? 0
  } finally {
    db.close()
    rmSync(copy, { force: true })
  }
}

async function waitFor(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (check()) return true
    await sleep(50)
  }
  return false
}

describe('WAL checkpoints on their own thread', () => {
  test('without the thread, a small commit stays in the WAL; with it, it reaches the database file', async () => {
    // The control: the writer alone checkpoints only at ~40 MB of WAL.
    const alonePath = newPath()
    const store = await openStore(alonePath)
    store.sqlite.pragma('wal_checkpoint(TRUNCATE)') // the schema in the file, the links not yet
    new Indexer(new Writer(store)).applyLines(lines(likes))
    await sleep(1500)
    assert.equal(linksInFile(alonePath), 0)
    await store.close()

    const path = newPath()
    const loop = await IngestLoop.open(path, silentLogger)
    loop.store.sqlite.pragma('wal_checkpoint(TRUNCATE)')
    assert.equal(linksInFile(path), 0)
    // The writer leaves checkpoints to the thread: its own threshold is raised far above this WAL.
    assert.equal(loop.store.sqlite.pragma('wal_autocheckpoint', { simple: true }), 100_000)
    loop.indexer.applyLines(lines(likes))
    assert.ok(await waitFor(() => linksInFile(path) === likes.length), 'the thread copied the commit into the file')
    await loop.close()
    // Closed cleanly: the last connection's own checkpoint removes the WAL.
    assert.equal(statSync(`${path}-wal`, { throwIfNoEntry: false }), undefined)
  })

  test('past its limit the WAL is checkpointed whole and truncated by the writer after its commit', async () => {
    for (const [limit, truncated] of [
      [1, true],
      [1e9, false],
    ] as const) {
      const path = newPath()
      const store = await openStore(path)
      store.sqlite.pragma('wal_checkpoint(TRUNCATE)')
      const checkpointer = WalCheckpointer.start(store.sqlite, silentLogger, { walLimitBytes: limit })
      const writer = new Writer(store, { afterCommit: () => checkpointer.limitWal() })
      new Indexer(writer).applyLines(lines(likes), { keepOpen: true })
      writer.commitSpan()
      const wal = statSync(`${path}-wal`).size
      assert.equal(wal === 0, truncated, `WAL of ${wal} bytes with a limit of ${limit}`)
      // Truncated or not, every link is in the file once the thread or the writer checkpointed.
      assert.ok(await waitFor(() => linksInFile(path) === likes.length))
      await checkpointer.stop()
      // Without the thread, the writer checkpoints at SQLite's usual threshold again.
      assert.equal(store.sqlite.pragma('wal_autocheckpoint', { simple: true }), 10_000)
      await store.close()
    }
  })

  test('stop is idempotent: a second stop returns at once', async () => {
    const store = await openStore(newPath())
    const checkpointer = WalCheckpointer.start(store.sqlite, silentLogger)
    await checkpointer.stop()
    await checkpointer.stop()
    await store.close()
  })
})
