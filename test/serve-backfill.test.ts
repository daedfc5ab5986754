import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { xrpc } from '@atproto/lex'
import { loadConfig } from '../src/config.js'
import { com } from '../src/lexicons/index.js'
import { silentLogger } from '../src/logger.js'
import { startService } from '../src/service.js'
import { sampleRecords, testDid } from './helpers/backfill-records.js'
import { buildRepo, didDocument, TestPds } from './helpers/test-pds.js'

// serve --backfill: the repo is fetched in the writer thread beside (here disabled) live ingest,
// its progress shows in getStatus and its links answer queries.
test('serve --backfill --did fetches the repo and reports progress in getStatus', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'serve-backfill-'))
  const pds = await TestPds.start()
  const did = testDid(1)
  const followed = testDid(2)
  const repo = await buildRepo(did, sampleRecords(did, [followed, testDid(3)]))
  pds.put(repo)
  pds.didDocs.set(did, didDocument(did, pds.url, repo.keypair))
  const follows = [...repo.records.values()].filter((r) => r.collection === 'app.bsky.graph.follow' && r.record.subject === followed)
  assert.ok(follows.length > 0, 'the sample repo follows someone')

  const { config } = loadConfig([
    '--db', join(dir, 'db.sqlite'), '--port', '0', '--host', '127.0.0.1', '--jetstream', 'none',
    '--backfill', '--did', did, '--plc', pds.url,
  ])
  const service = await startService(config, silentLogger)
  try {
    let status
    for (let i = 0; i < 200; i++) {
      status = (await xrpc(service.url, com.example.links.getStatus, {})).body
      if ((status.backfill as { reposDone?: number } | undefined)?.reposDone === 1) break
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal((status!.backfill as { reposDone: number }).reposDone, 1)
    const counts = await xrpc(service.url, com.example.links.getCounts, {
      params: { subjects: [followed], sources: ['app.bsky.graph.follow:subject'] },
    })
    assert.equal(counts.body.subjects[0].sources[0].records, follows.length)
  } finally {
    await service.close()
    await pds.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
