import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { comparePosition, decodePosition, encodePosition, type Position } from '../src/store/page-cursor.js'
import { encodeRkey, isTid, RKEY_AS_TEXT, rkeyFromText, tidToBytes } from '../src/store/tid.js'
import { tid } from './helpers/events.js'

// Record keys of every kind the store sees: TIDs (stored as 8 bytes) from the smallest to the
// largest, and other keys (stored as text), including ones that look almost like a TID.
const tids = ['2222222222222', 'jzzzzzzzzzzzz', tid(1_700_000_000_000_000), tid(1_700_000_000_000_001), tid(1_780_000_000_000_000)]
const texts = ['self', 'a', 'A', '3mpo66t3tsab', 'kzzzzzzzzzzzz', '3MPO66T3TSABS', 'x:y.z~_-', '0123456789ABCDEF', '!bang']

test('isTid agrees with the stored form: exactly the keys tidToBytes turns into 8 bytes', () => {
  for (const rkey of tids) assert.equal(isTid(rkey), true, rkey)
  for (const rkey of texts) assert.equal(isTid(rkey), false, rkey)
  for (const rkey of [...tids, ...texts]) assert.equal(isTid(rkey), tidToBytes(rkey) !== null, rkey)
})

test('keys read back as text from SQLite are the keys written, and positions sort as SQLite does', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-rkey-'))
  const db = new Database(join(dir, 'rkeys.sqlite'))
  try {
    db.exec('CREATE TABLE t (rkey ANY NOT NULL, did_id INTEGER NOT NULL, PRIMARY KEY (rkey, did_id)) STRICT, WITHOUT ROWID')
    const insert = db.prepare('INSERT INTO t VALUES (?, ?)')
    const positions: Position[] = []
    for (const rkey of [...tids, ...texts]) {
      for (const didId of [2, 1]) {
        insert.run(encodeRkey(rkey), didId)
        positions.push({ rkey, didId })
      }
    }
    const stored = db.prepare(`SELECT ${RKEY_AS_TEXT} AS k, did_id FROM t ORDER BY rkey, did_id`).raw().all() as Array<[string, number]>
    const fromSqlite = stored.map(([k, didId]) => ({ rkey: rkeyFromText(k), didId }))
    assert.deepEqual(fromSqlite, [...positions].sort(comparePosition))
    // Texts first (byte order), then TIDs in time order.
    assert.deepEqual(
      [...new Set(fromSqlite.map((p) => p.rkey))],
      [...[...texts].sort(), ...[...tids].sort()],
    )
  } finally {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('page cursors carry TID and text keys unchanged', () => {
  for (const rkey of [...tids, ...texts]) {
    const pos = { rkey, didId: 123_456 }
    assert.deepEqual(decodePosition(encodePosition(pos)), pos)
  }
})
