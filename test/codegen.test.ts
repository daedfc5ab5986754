import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { test } from 'node:test'

const root = new URL('../..', import.meta.url).pathname

function files(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    out.set(relative(dir, path), readFileSync(path, 'utf8'))
  }
  return out
}

test('generated code in src/lexicons matches the lexicons (run `npm run codegen` after editing lexicons/)', () => {
  const out = mkdtempSync(join(tmpdir(), 'backlinks-codegen-'))
  try {
    execFileSync('sh', ['codegen/generate.sh', out], { cwd: root, stdio: 'pipe' })
    const fresh = files(out)
    const committed = files(join(root, 'src/lexicons'))
    assert.deepEqual([...committed.keys()].sort(), [...fresh.keys()].sort())
    for (const [name, text] of fresh) assert.equal(committed.get(name), text, `${name} differs from a fresh codegen`)
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})
