import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { create, did, postUri, tid } from './helpers/events.js'
import { JetstreamTestServer, type TestEvent } from './helpers/jetstream-server.js'
import { servedUrl, spawnServe, waitFor } from './helpers/live-serve.js'

const dir = mkdtempSync(join(tmpdir(), 'backlinks-backpressure-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** Peak resident set size of a process in MB (Linux). */
function peakRssMb(pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024
}

// 100,000 likes by 500 accounts over 10,000 records, moved around 50 posts: the store stays small,
// so what the service holds is the burst itself, not a growing index.
function burst(): TestEvent[] {
  const T0 = 1_780_000_000_000_000
  const authors = Array.from({ length: 500 }, (_, i) => did(`burst${i}`))
  const posts = Array.from({ length: 50 }, (_, i) => postUri(did(`poster${i}`), T0 + i))
  return Array.from({ length: 100_000 }, (_, i) => {
    const record = { subject: { uri: posts[i % 50]!, cid: 'bafyreia' }, createdAt: new Date(T0 / 1000).toISOString() }
    const e = create(authors[i % 500]!, 'app.bsky.feed.like', tid(T0 + (i % 10_000)), record, { time: T0 + 1000 + i * 100 })
    if (i >= 10_000) e.commit.operation = 'update'
    return e
  })
}

test('a burst of 100,000 events: bounded queue, RSS under 300 MB', { skip: !existsSync('/proc/self/status') && 'needs /proc' }, async (t) => {
  const events = burst()
  const last = events.at(-1)!.time_us
  const server = await JetstreamTestServer.start({ events, deflate: false })
  t.after(() => server.close())
  const child = spawnServe(['--db', join(dir, 'db.sqlite'), '--jetstream', server.url, '--compress', 'none', '--log-level', 'info'])
  t.after(() => child.proc.kill('SIGKILL'))
  const base = await servedUrl(child)

  // The writer commits slower than the server sends: the client must stop reading while the
  // queue (20,000 events by default) is full, instead of queueing the whole burst.
  let maxQueued = 0
  await waitFor(
    'all events to be applied',
    async () => {
      child.running()
      const status = await (await fetch(`${base}/xrpc/com.example.links.getStatus`)).json()
      maxQueued = Math.max(maxQueued, status.ingest?.queued ?? 0)
      return status.cursor === last
    },
    50_000,
    200,
  )
  const peak = peakRssMb(child.proc.pid!)
  t.diagnostic(`peak RSS ${peak.toFixed(0)} MB, most events queued ${maxQueued}`)
  assert.ok(maxQueued <= 15_000, `queued ${maxQueued} (the queue holds 10,000; frames already read may overshoot)`)
  assert.ok(peak < 300, `peak RSS ${peak.toFixed(0)} MB`)

  child.proc.kill('SIGTERM')
  assert.equal(await child.exited, 0, child.stderr())
})
