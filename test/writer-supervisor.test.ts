import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { WriterSupervisor } from '../src/indexer/supervisor.js'
import { silentLogger } from '../src/logger.js'
import { waitFor } from './helpers/live-serve.js'

const dir = mkdtempSync(join(tmpdir(), 'backlinks-supervisor-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('a writer thread that fails is started again after a delay, and runs once the cause is gone', async () => {
  // The database's directory cannot be created while a file is in its way: the thread fails at start.
  const blocker = join(dir, 'data')
  writeFileSync(blocker, 'not a directory')
  const failures: Array<{ message: string; restartInMs: number }> = []
  let reports = 0
  const supervisor = new WriterSupervisor(
    { dbPath: join(blocker, 'index.sqlite'), replay: [], logLevel: 'silent', commitIntervalMs: 5000 },
    { maxOldGenerationSizeMb: 128 },
    silentLogger,
    {
      onReport: () => reports++,
      onReplayDone: () => {},
      onFailure: (message, restartInMs) => failures.push({ message, restartInMs }),
    },
  )
  supervisor.start()
  try {
    await waitFor('two failed starts', () => failures.length >= 2, 20_000)
    assert.match(failures[0]!.message, /EEXIST|ENOTDIR/)
    assert.deepEqual(failures.slice(0, 2).map((f) => f.restartInMs), [1000, 2000], 'the delay doubles')
    assert.equal(reports, 0)

    rmSync(blocker) // the cause goes away: the next start succeeds and reports
    await waitFor('a report from a restarted thread', () => reports > 0, 20_000)
    assert.ok(supervisor.restarts >= 2)
  } finally {
    await supervisor.stop()
  }
  const restarts = supervisor.restarts
  await new Promise((r) => setTimeout(r, 1500))
  assert.equal(supervisor.restarts, restarts, 'a stopped supervisor starts nothing')
})
