import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { loadConfig } from '../src/config.js'
import { silentLogger } from '../src/logger.js'
import { startService, type Service } from '../src/service.js'
import { create, did, like, lines, postUri, tid } from './helpers/events.js'

// Another app's view of the package: a project of its own that depends on atproto-backlinks
// (linked into its node_modules, as `npm install file:...` does), type-checks against the
// published types and asks a running index for like and repost counts of 100 posts at once.
const ROOT = join(import.meta.dirname, '../..')

const FEED_TS = `import { BacklinksClient } from 'atproto-backlinks/client'
import { readFileSync } from 'node:fs'

const LIKE = 'app.bsky.feed.like:subject.uri'
const REPOST = 'app.bsky.feed.repost:subject.uri'

export interface Engagement {
  likes: number
  reposts: number
}

/** A feed page's counts: up to 100 posts in one request. */
export async function engagement(service: string, posts: string[]): Promise<Record<string, Engagement>> {
  const client = new BacklinksClient(service)
  const { subjects } = await client.getCounts({ subjects: posts, sources: [LIKE, REPOST] })
  const count = (sources: { source: string; records: number }[], source: string) => sources.find((s) => s.source === source)?.records ?? 0
  return Object.fromEntries(subjects.map((s) => [s.subject, { likes: count(s.sources, LIKE), reposts: count(s.sources, REPOST) }]))
}

const [service, postsFile] = process.argv.slice(2)
console.log(JSON.stringify(await engagement(service, JSON.parse(readFileSync(postsFile, 'utf8')))))
`

// Mistakes the published types must catch.
const WRONG_TS = `import { BacklinksClient } from 'atproto-backlinks/client'
const client = new BacklinksClient('http://127.0.0.1:1')
await client.getCounts({ subject: 'at://x' })
const status = await client.getStatus()
const n: string = status.records
`

const author = did('feedauthor')
const posts = Array.from({ length: 100 }, (_, i) => postUri(author, 1_700_000_000_000_000 + i * 1000))
const likesOf = (i: number) => i % 7
const repostsOf = (i: number) => i % 3

let dir: string
let service: Service

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'backlinks-client-'))
  const events: object[] = []
  posts.forEach((post, i) => {
    for (let n = 0; n < likesOf(i); n++) events.push(like(did(`fan${n}`), post))
    for (let n = 0; n < repostsOf(i); n++) {
      const us = 1_781_000_000_000_000 + i * 10 + n
      events.push(create(did(`booster${n}`), 'app.bsky.feed.repost', tid(us), { subject: { uri: post, cid: 'bafyreia' }, createdAt: '2026-01-01T00:00:00Z' }, { time: us }))
    }
  })
  writeFileSync(join(dir, 'events.jsonl'), lines(events).join('\n') + '\n')
  const args = ['--db', join(dir, 'db.sqlite'), '--port', '0', '--host', '127.0.0.1', '--jetstream', 'none', '--replay', join(dir, 'events.jsonl'), '--log-level', 'silent']
  service = await startService(loadConfig(args, {}).config, silentLogger)
  await service.replayDone

  const app = join(dir, 'feedgen')
  mkdirSync(join(app, 'node_modules'), { recursive: true })
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'feedgen', private: true, type: 'module', dependencies: { 'atproto-backlinks': `file:${ROOT}` } }))
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', target: 'es2023', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] } }),
  )
  symlinkSync(ROOT, join(app, 'node_modules/atproto-backlinks'))
  symlinkSync(join(ROOT, 'node_modules/@types'), join(app, 'node_modules/@types'))
  writeFileSync(join(app, 'feed.ts'), FEED_TS)
  writeFileSync(join(app, 'posts.json'), JSON.stringify(posts))
})

after(async () => {
  await service.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Type-checks every .ts file of the project. */
function tsc(app: string) {
  return spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(app, 'tsconfig.json')], { cwd: app, encoding: 'utf8' })
}

test('the package type-checks in another project, and its types catch mistakes', () => {
  const app = join(dir, 'feedgen')
  const ok = tsc(app)
  assert.equal(ok.status, 0, ok.stdout + ok.stderr)

  writeFileSync(join(app, 'wrong.ts'), WRONG_TS)
  try {
    const wrong = tsc(app)
    assert.notEqual(wrong.status, 0)
    assert.match(wrong.stdout, /wrong\.ts.*'subject' does not exist|wrong\.ts[\s\S]*subjects/)
    assert.match(wrong.stdout, /wrong\.ts.*number.*not assignable to type 'string'/)
  } finally {
    rmSync(join(app, 'wrong.ts'))
  }
})

test('a feed generator gets like and repost counts for 100 posts in one call', async () => {
  // Asynchronously: the service answering it runs in this process.
  const run = await promisify(execFile)(process.execPath, ['feed.ts', service.url, 'posts.json'], { cwd: join(dir, 'feedgen'), timeout: 20_000 })
  const counts = JSON.parse(run.stdout)
  assert.deepEqual(Object.keys(counts), posts)
  posts.forEach((post, i) => assert.deepEqual(counts[post], { likes: likesOf(i), reposts: repostsOf(i) }, post))
})
