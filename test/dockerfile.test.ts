import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { after, describe, test } from 'node:test'
import { like, did, lines, postUri } from './helpers/events.js'

// No Docker engine here, and hadolint is neither in Debian nor on npm without a binary download:
// this test checks the Dockerfile's structure (the hadolint rules that apply, named below) and
// runs what the image runs, outside Docker, from this checkout (the image's /app).
const ROOT = join(import.meta.dirname, '../..')
const run = promisify(execFile)

interface Instruction {
  keyword: string
  /** Text after the keyword, flags included. */
  args: string
  /** The arguments of an exec-form (JSON array) instruction. */
  exec?: string[]
  flags: Record<string, string>
}

interface Stage {
  image: string
  name?: string
  instructions: Instruction[]
}

/** Dockerfile lines to instructions: continuations joined, comment lines dropped (also inside continuations). */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = []
  let current = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('#') || (line === '' && current === '')) continue
    current += (current ? ' ' : '') + line.replace(/\\$/, '').trim()
    if (!line.endsWith('\\')) {
      logical.push(current)
      current = ''
    }
  }
  assert.equal(current, '', 'unterminated line continuation')
  const stages: Stage[] = []
  for (const line of logical) {
    const [, keyword, rest] = /^(\w+)\s*(.*)$/.exec(line)!
    const flags: Record<string, string> = {}
    let args = rest
    for (let m; (m = /^--([\w-]+)=(\S+)\s*/.exec(args)); args = args.slice(m[0].length)) flags[m[1]] = m[2]
    const body = keyword.toUpperCase() === 'HEALTHCHECK' ? args.replace(/^CMD\s+/, '') : args
    const exec = body.startsWith('[') ? (JSON.parse(body) as string[]) : undefined
    const instruction = { keyword: keyword.toUpperCase(), args: rest, exec, flags }
    if (instruction.keyword === 'FROM') {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!
      stages.push({ image, name, instructions: [] })
    } else {
      assert.ok(stages.length, `${keyword} before FROM`)
      stages[stages.length - 1].instructions.push(instruction)
    }
  }
  return stages
}

const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))
const [build, final] = [stages[0], stages[stages.length - 1]]
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword)
const one = (stage: Stage, keyword: string) => {
  const found = all(stage, keyword)
  assert.equal(found.length, 1, `one ${keyword} in the stage`)
  return found[0]
}
const env: Record<string, string> = Object.fromEntries(
  all(final, 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])),
)
const buildRuns = all(build, 'RUN').map((i) => i.args)

describe('Dockerfile structure', () => {
  test('multi-stage on node:24-slim, explicit tags (DL3006, DL3007), no MAINTAINER (DL4000)', () => {
    assert.ok(stages.length >= 2)
    for (const stage of stages) assert.equal(stage.image, 'node:24-slim')
    assert.equal(build.name, 'build')
    assert.ok(!stages.some((s) => s.instructions.some((i) => i.keyword === 'MAINTAINER')))
  })

  test('instructions follow the usual rules: COPY not ADD (DL3020), absolute WORKDIR (DL3000), no pipes without pipefail (DL4006), no curl/wget', () => {
    for (const stage of stages) {
      assert.equal(all(stage, 'ADD').length, 0)
      for (const w of all(stage, 'WORKDIR')) assert.match(w.args, /^\//)
      for (const r of all(stage, 'RUN')) {
        assert.doesNotMatch(r.args, /(^|[^|])\|([^|]|$)/, 'a pipe hides failures without SHELL pipefail')
        assert.doesNotMatch(r.args, /\b(curl|wget|apt-get)\b/)
      }
    }
  })

  test('the build stage installs from the lockfile, builds, then drops dev dependencies', () => {
    const steps = buildRuns.join(' && ')
    const order = ['npm ci', 'npm run build', 'npm prune --omit=dev'].map((cmd) => steps.indexOf(cmd))
    assert.ok(order.every((i) => i >= 0), steps)
    assert.deepEqual([...order].sort((a, b) => a - b), order)
    assert.doesNotMatch(steps, /npm install/, 'npm ci, not npm install (DL3016)')
    // What it copies exists and is not hidden by .dockerignore.
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'))
    for (const copy of all(build, 'COPY')) {
      for (const source of copy.args.split(/\s+/).slice(0, -1)) {
        assert.ok(existsSync(join(ROOT, source)), source)
        assert.ok(!ignored.includes(source), `${source} is in .dockerignore`)
      }
    }
    for (const pattern of ['node_modules', 'dist', '.git', '*.sqlite']) assert.ok(ignored.includes(pattern), pattern)
  })

  test('the final stage: build output only, non-root (DL3002), /data volume, port, health check, exec form (DL3025)', () => {
    assert.equal(all(final, 'RUN').filter((r) => /\bnpm\b/.test(r.args)).length, 0)
    for (const copy of all(final, 'COPY')) assert.equal(copy.flags.from, 'build')
    const users = all(final, 'USER')
    assert.ok(users.length && !['root', '0'].includes(users[users.length - 1].args))
    assert.equal(env.BACKLINKS_DB, '/data/backlinks.sqlite')
    assert.equal(one(final, 'VOLUME').args, '/data')
    assert.equal(one(final, 'EXPOSE').args, env.BACKLINKS_PORT)
    assert.equal(env.BACKLINKS_PORT, '2584')
    const health = one(final, 'HEALTHCHECK')
    assert.equal(health.exec?.[0], 'node')
    assert.match(health.exec!.join(' '), /\/xrpc\/_health/)
    assert.deepEqual(one(final, 'ENTRYPOINT').exec, ['node', 'dist/src/cli/main.js'])
    assert.deepEqual(one(final, 'CMD').exec, ['serve'])
  })

  test('compose.yaml keeps the index in a named volume at /data', () => {
    const compose = readFileSync(join(ROOT, 'compose.yaml'), 'utf8')
    const mount = /^\s+- (\w[\w-]*):\/data\s*$/m.exec(compose)
    assert.ok(mount, 'a named volume mounted at /data')
    assert.match(compose, new RegExp(`^volumes:\\n\\s+${mount[1]}:`, 'm'))
    assert.match(compose, /^\s+build: \.$/m)
  })
})

describe('what the image runs, run outside Docker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backlinks-dockerfile-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('npm prune --omit=dev drops the compiler and keeps every runtime dependency', async () => {
    const prune = buildRuns.find((r) => r.startsWith('npm prune'))!
    const { stdout } = await run('sh', ['-c', `${prune} --dry-run`], { cwd: ROOT })
    const removed = [...stdout.matchAll(/^remove (\S+) /gm)].map((m) => m[1])
    assert.ok(removed.includes('typescript'), stdout)
    const deps = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies)
    assert.deepEqual(removed.filter((name) => deps.includes(name)), [])
  })

  test('the build stage smoke test passes', async () => {
    const trim = buildRuns.find((r) => r.startsWith('rm -rf'))!
    for (const command of trim.split(' && ').filter((c) => c.startsWith('node '))) await run('sh', ['-c', command], { cwd: ROOT })
  })

  test('ENTRYPOINT + CMD with the image ENV serve, pass the HEALTHCHECK, stop cleanly, and never load what the build removed', async () => {
    const port = await freePort()
    const resolved = join(dir, 'resolved.txt')
    const hooks = join(dir, 'hooks.mjs')
    // Records every module the service resolves, in the worker threads too (they inherit execArgv).
    writeFileSync(
      hooks,
      `import { registerHooks } from 'node:module'
import { appendFileSync } from 'node:fs'
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); appendFileSync(${JSON.stringify(resolved)}, r.url + '\\n'); return r } })
`,
    )
    const capture = join(dir, 'events.jsonl')
    const post = postUri(did('dockerauthor'), 1)
    writeFileSync(capture, lines([like(did('dockerfan1'), post), like(did('dockerfan2'), post)]).join('\n') + '\n')
    const runEnv = {
      ...process.env,
      ...env,
      BACKLINKS_DB: join(dir, 'data/backlinks.sqlite'), // the volume
      BACKLINKS_PORT: String(port),
      BACKLINKS_HOST: '127.0.0.1', // tests talk to loopback only
      BACKLINKS_JETSTREAM: 'none', // no public network
      BACKLINKS_REPLAY: capture, // so the writer thread runs and loads its modules
      BACKLINKS_LOG_LEVEL: 'warn',
    }
    const [cmd, ...args] = [...one(final, 'ENTRYPOINT').exec!, ...one(final, 'CMD').exec!]
    assert.equal(cmd, 'node')
    const server = spawn(process.execPath, ['--import', pathToFileURL(hooks).href, ...args], { cwd: ROOT, env: runEnv, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    server.stderr.on('data', (d) => (stderr += d))
    const health = one(final, 'HEALTHCHECK').exec!
    const healthcheck = () =>
      run(process.execPath, health.slice(1), { env: runEnv, timeout: 5000 }).then(
        () => true,
        () => false,
      )
    try {
      const deadline = Date.now() + 15_000
      while (!(await healthcheck())) {
        assert.ok(Date.now() < deadline && server.exitCode === null, `never healthy: ${stderr}`)
        await new Promise((r) => setTimeout(r, 100))
      }
      const res = await fetch(`http://127.0.0.1:${port}/xrpc/com.example.links.getCounts?subjects=${encodeURIComponent(post)}`)
      assert.equal(res.status, 200)
      for (let i = 0; i < 100 && (await (await fetch(`http://127.0.0.1:${port}/xrpc/com.example.links.getStatus`)).json()).records < 2; i++) {
        await new Promise((r) => setTimeout(r, 50))
      }
    } finally {
      server.kill('SIGTERM') // what docker stop sends
    }
    const [code] = await once(server, 'exit')
    assert.equal(code, 0, stderr)
    assert.equal(await healthcheck(), false)

    const urls = readFileSync(resolved, 'utf8').split('\n').filter(Boolean)
    assert.ok(urls.some((u) => u.includes('/dist/src/indexer/worker.js')), 'the writer thread was recorded')
    const trim = buildRuns.find((r) => r.startsWith('rm -rf'))!
    const removedPaths = trim.split(' && ')[0].split(/\s+/).filter((t) => t.startsWith('node_modules/'))
    assert.ok(removedPaths.length > 5)
    for (const path of removedPaths) {
      const hits = urls.filter((u) => u.includes(`/${path}/`))
      assert.deepEqual(hits, [], `${path} is removed from the image but was loaded`)
    }
    const prebuilds = new Set(urls.filter((u) => u.includes('/better-sqlite3/prebuilds/')).map((u) => u.split('/').pop()))
    assert.deepEqual([...prebuilds], [`linux-${process.arch}.node`])
  })
})

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}
