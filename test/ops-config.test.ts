import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { ConfigError, loadConfig } from '../src/config.js'
import { opsOptions } from '../src/ops/index.js'

const dir = mkdtempSync(join(tmpdir(), 'backlinks-config-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function configFile(name: string, content: unknown): string {
  const path = join(dir, name)
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

test('a --config file sits between environment variables and defaults', () => {
  const file = configFile('all.json', { port: 8080, host: '127.0.0.1', 'rate-limit': '30', 'read-only': true, 'cache-max-age': 2 })
  const { config } = loadConfig(['--config', file, '--port', '9090'], { BACKLINKS_HOST: '::1' })
  assert.equal(config.port, '9090') // flag
  assert.equal(config.host, '::1') // environment
  assert.equal(config['rate-limit'], '30') // file
  assert.equal(config['read-only'], true) // file, boolean
  assert.equal(config['max-lag'], '120') // default
  assert.deepEqual(opsOptions(config), {
    cacheMaxAge: 2,
    rateLimit: 30,
    trustProxy: undefined,
    publicUrl: undefined,
    metricsPort: undefined,
    requestTimeout: 10,
  })
  // BACKLINKS_CONFIG names the file too.
  assert.equal(loadConfig([], { BACKLINKS_CONFIG: file }).config.port, '8080')
})

test('config mistakes are reported clearly', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ prot: 8080 }, /unknown option "prot"/],
    [{ 'read-only': 'yes' }, /"read-only" must be a boolean/],
    [{ port: [1] }, /"port" must be a string or number/],
    ['{"port": ', /config file .*JSON/],
    [[1, 2], /expected a JSON object/],
    [{ 'rate-limit': 'lots' }, /--rate-limit must be a number >= 0, got "lots"/],
    [{ 'request-timeout': 0 }, /--request-timeout must be a number >= 1/],
    [{ 'public-url': 'http://links.example.com' }, /--public-url must be an https origin/],
    [{ 'public-url': 'https://links.example.com/xrpc' }, /--public-url must be an https origin/],
    [{ 'metrics-port': 'x' }, /--metrics-port must be a port number/],
  ]
  cases.forEach(([content, message], i) => {
    const file = configFile(`bad${i}.json`, content)
    assert.throws(() => loadConfig(['--config', file], {}), (err: Error) => err instanceof ConfigError && message.test(err.message), String(message))
  })
  assert.throws(() => loadConfig(['--config', join(dir, 'missing.json')], {}), /config file .*missing\.json/)
})

test('trust-proxy: hop counts become numbers, other values pass through to express', () => {
  const trust = (value: string) => opsOptions(loadConfig(['--trust-proxy', value], {}).config).trustProxy
  assert.equal(trust('1'), 1)
  assert.equal(trust('true'), true)
  assert.equal(trust('false'), undefined)
  assert.equal(trust('loopback, 10.0.0.0/8'), 'loopback, 10.0.0.0/8')
})

test('the CLI reports a bad config file and exits 2', () => {
  const file = configFile('cli.json', { prot: 1 })
  const res = spawnSync(process.execPath, [join(import.meta.dirname, '../src/cli/main.js'), 'stats', '--config', file], { encoding: 'utf8' })
  assert.equal(res.status, 2)
  assert.match(res.stderr, /unknown option "prot"/)
})
