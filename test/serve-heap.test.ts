import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { SERVE_HEAP_FLAGS } from '../src/cli/heap-flags.js'
import { MAIN, waitFor } from './helpers/live-serve.js'

const dir = mkdtempSync(join(tmpdir(), 'backlinks-heap-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** Starts serve with the given NODE_OPTIONS; its command line and environment once it listens (same pid). */
async function serveCommandLine(name: string, nodeOptions: string): Promise<{ argv: string[]; env: string[] }> {
  const args = [MAIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--jetstream', 'none', '--db', join(dir, `${name}.sqlite`)]
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: nodeOptions }
  delete env.MALLOC_ARENA_MAX
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env })
  let log = ''
  proc.stderr.on('data', (d: Buffer) => (log += d.toString()))
  try {
    await waitFor('serve to listen', () => {
      if (proc.exitCode !== null) throw new Error(`serve exited:\n${log}`)
      return log.includes('"serving XRPC"')
    })
    const read = (what: string) => readFileSync(`/proc/${proc.pid}/${what}`, 'utf8').split('\0')
    return { argv: read('cmdline'), env: read('environ') }
  } finally {
    proc.kill('SIGTERM')
    await once(proc, 'exit')
  }
}

test('serve restarts itself in place with the heap limits of its HTTP thread', async () => {
  const { argv, env } = await serveCommandLine('default', '')
  for (const flag of SERVE_HEAP_FLAGS) assert.ok(argv.includes(flag), `${flag} in ${argv.join(' ')}`)
  assert.ok(argv.includes('serve'))
  assert.ok(env.includes('MALLOC_ARENA_MAX=2'))
})

test("an operator's own heap limit wins over the default one", async () => {
  const { argv } = await serveCommandLine('operator', '--max-old-space-size=300')
  assert.ok(argv.includes('--max-semi-space-size=2'))
  assert.ok(!argv.some((a) => a.startsWith('--max-old-space-size')), argv.join(' '))
})
