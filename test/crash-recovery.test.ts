import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { JetstreamTestServer } from './helpers/jetstream-server.js'
import { dbState, realisticEvents, replayInto, snapshot, spawnServe, waitFor, type SpawnedServe } from './helpers/live-serve.js'

const dir = mkdtempSync(join(tmpdir(), 'backlinks-crash-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('SIGKILL during live ingest, then restarts: the same index as an uninterrupted run', async (t) => {
  const events = realisticEvents(60_000, 11)
  const times = events.map((e) => e.time_us)
  const server = await JetstreamTestServer.start({ events, deflate: false })
  t.after(() => server.close())
  const db = join(dir, 'db.sqlite')
  // Commits every 0.3 s while behind (not 5 s), so the kills land between commits of this short stream.
  const args = ['--db', db, '--jetstream', server.url, '--compress', 'none', '--log-level', 'warn', '--commit-interval', '0.3']
  const children: SpawnedServe[] = []
  t.after(() => children.forEach((c) => c.proc.kill('SIGKILL')))
  const serve = () => children[children.push(spawnServe(args)) - 1]!

  // Killed at three points along the stream, each time after the previous cursor moved on.
  const cursors: number[] = []
  for (const at of [0.1, 0.35, 0.6]) {
    const child = serve()
    await waitFor(`the cursor to pass ${at * 100}%`, () => child.running() && (dbState(db).cursor ?? 0) >= times[Math.floor(at * times.length)]!)
    child.proc.kill('SIGKILL')
    assert.equal(await child.exited, null, 'killed by the signal')
    cursors.push(dbState(db).cursor!)
  }
  assert.ok(cursors[2]! < times.at(-1)!, 'the last kill interrupted ingest')
  assert.ok(server.connections.slice(1).every((c, i) => c.cursor === cursors[i]), 'each restart resumes at the stored cursor')

  const child = serve()
  await waitFor('ingest to finish', () => {
    const s = child.running() && dbState(db)
    return s.cursor === times.at(-1) && s.jobs === 0
  })
  child.proc.kill('SIGTERM')
  assert.equal(await child.exited, 0, child.stderr())

  const file = join(dir, 'events.jsonl')
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n')
  await replayInto(join(dir, 'reference.sqlite'), file)
  assert.deepEqual(await snapshot(db), await snapshot(join(dir, 'reference.sqlite')))
})
