import type { Config } from '../config.js'
import { IngestLoop } from '../indexer/ingest-loop.js'
import type { Logger } from '../logger.js'

export async function runIngest(config: Config, files: string[], log: Logger): Promise<number> {
  if (files.length === 0) {
    console.error('backlinks ingest: give at least one JSONL file')
    return 2
  }
  const loop = await IngestLoop.open(config.db!, log, { spanMaxMs: Number(config['commit-interval']) * 1000 })
  const abort = new AbortController()
  process.once('SIGINT', () => abort.abort())
  // A progress line on a terminal; logs only otherwise (no carriage-return noise in files).
  const tty = process.stderr.isTTY
  let last = 0
  await loop.replay(files, abort.signal, (line) => {
    if (!tty || Date.now() - last < 500) return
    last = Date.now()
    process.stderr.write(`\r${line}\x1b[K`)
  })
  if (tty) process.stderr.write('\n')
  const report = loop.report()
  await loop.close()
  console.log(JSON.stringify({ applied: report.applied, skipped: report.skipped }))
  return abort.signal.aborted ? 130 : 0
}
