// keyPages: a table read in key order a page at a time, as the migrations read the tables they rewrite.
import Database from 'better-sqlite3'
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { keyPages } from '../src/store/key-pages.js'

test('keyPages reads every row once, in key order, in pages of at most the size, mixed key types included', () => {
  const db = new Database(':memory:')
  db.exec('CREATE TABLE t (a INTEGER NOT NULL, b ANY NOT NULL, v TEXT, PRIMARY KEY (a, b)) STRICT, WITHOUT ROWID')
  const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?)')
  const rows: unknown[][] = []
  for (let a = 3; a >= 1; a--) {
    for (const b of [Buffer.from([a, 9]), 'x', `y${a}`, Buffer.from([0])]) rows.push([a, b, `${a}/${String(b)}`])
  }
  for (const r of rows) insert.run(...r)
  const want = db.prepare('SELECT a, b, v FROM t ORDER BY a, b').raw().all()
  const pages = [...keyPages(db, 't', ['a', 'b', 'v'], 2, 5)]
  assert.deepEqual(pages.map((p) => p.length), [5, 5, 2])
  assert.deepEqual(pages.flat(), want)
  assert.deepEqual([...keyPages(db, 't', ['a', 'b', 'v'], 2, 12)].map((p) => p.length), [12])
  db.exec('DELETE FROM t')
  assert.deepEqual([...keyPages(db, 't', ['a', 'b', 'v'], 2, 5)], [])
})
