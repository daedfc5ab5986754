import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

// Every option in one table: flag, environment variable, default, parser, help. The CLI, the
// help text and the effective-config log line all come from here.
export interface OptionSpec {
  env: string
  type: 'string' | 'boolean'
  default?: string | boolean
  help: string
  multiple?: boolean
}

export const OPTIONS = {
  db: { env: 'BACKLINKS_DB', type: 'string', default: './data/backlinks.sqlite', help: 'SQLite database file' },
  port: { env: 'BACKLINKS_PORT', type: 'string', default: '2584', help: 'HTTP port' },
  host: { env: 'BACKLINKS_HOST', type: 'string', default: '0.0.0.0', help: 'HTTP listen address' },
  replay: {
    env: 'BACKLINKS_REPLAY',
    type: 'string',
    help: 'Jetstream JSONL capture to ingest first (.gz/.zst allowed), then keep serving',
  },
  'read-only': { env: 'BACKLINKS_READ_ONLY', type: 'boolean', default: false, help: 'serve queries, ingest nothing' },
  'log-level': { env: 'BACKLINKS_LOG_LEVEL', type: 'string', default: 'info', help: 'trace|debug|info|warn|error' },
  jetstream: {
    env: 'BACKLINKS_JETSTREAM',
    type: 'string',
    default: [
      'wss://jetstream1.us-east.bsky.network',
      'wss://jetstream2.us-east.bsky.network',
      'wss://jetstream1.us-west.bsky.network',
      'wss://jetstream2.us-west.bsky.network',
    ].join(','),
    help: 'Jetstream URLs for live ingest, comma-separated, in failover order; "none" disables live ingest',
  },
  compress: { env: 'BACKLINKS_COMPRESS', type: 'string', default: 'zstd', help: 'Jetstream compression: zstd|deflate|none' },
  'zstd-dictionary': {
    env: 'BACKLINKS_ZSTD_DICTIONARY',
    type: 'string',
    help: 'zstd dictionary file (otherwise cached next to --db, downloaded and verified once)',
  },
  'zstd-dictionary-url': {
    env: 'BACKLINKS_ZSTD_DICTIONARY_URL',
    type: 'string',
    help: 'download source of the zstd dictionary (default the official one; its sha256 is checked)',
  },
  collections: {
    env: 'BACKLINKS_COLLECTIONS',
    type: 'string',
    help: 'live ingest only these collections: NSIDs or prefix.*, comma-separated (default all)',
  },
  'silence-timeout': {
    env: 'BACKLINKS_SILENCE_TIMEOUT',
    type: 'string',
    default: '30',
    help: 'seconds without a Jetstream message before reconnecting',
  },
  backfill: { env: 'BACKLINKS_BACKFILL', type: 'boolean', default: false, help: 'serve: also backfill whole repos (resumable) alongside live ingest' },
  relay: { env: 'BACKLINKS_RELAY', type: 'string', help: 'backfill: relay whose hosts are listed (default https://bsky.network)' },
  pds: { env: 'BACKLINKS_PDS', type: 'string', help: 'backfill: only the repos of this PDS' },
  did: { env: 'BACKLINKS_DID', type: 'string', help: 'backfill: fetch (repair) these DIDs, comma-separated' },
  plc: { env: 'BACKLINKS_PLC', type: 'string', help: 'backfill: PLC directory (default https://plc.directory)' },
  concurrency: { env: 'BACKLINKS_BACKFILL_CONCURRENCY', type: 'string', help: 'backfill: repos in flight (default 8)' },
  'retry-failed': { env: 'BACKLINKS_RETRY_FAILED', type: 'boolean', default: false, help: 'backfill: fetch failed repos again' },
  config: { env: 'BACKLINKS_CONFIG', type: 'string', help: 'JSON file of options ({"port": "8080", ...}); flags and env win' },
  'public-url': {
    env: 'BACKLINKS_PUBLIC_URL',
    type: 'string',
    help: 'https URL the service is reached at: serves /.well-known/did.json for its did:web',
  },
  'metrics-port': { env: 'BACKLINKS_METRICS_PORT', type: 'string', help: 'serve /metrics on this port only (default: on --port)' },
  'cache-max-age': { env: 'BACKLINKS_CACHE_MAX_AGE', type: 'string', default: '5', help: 'Cache-Control max-age of query responses, seconds' },
  'rate-limit': { env: 'BACKLINKS_RATE_LIMIT', type: 'string', default: '0', help: 'requests per minute per client IP (0 = no limit)' },
  'trust-proxy': {
    env: 'BACKLINKS_TRUST_PROXY',
    type: 'string',
    help: 'behind a reverse proxy: hops (1) or addresses (loopback) whose X-Forwarded-For is trusted',
  },
  'request-timeout': { env: 'BACKLINKS_REQUEST_TIMEOUT', type: 'string', default: '10', help: 'seconds a client has to send its request' },
  'commit-interval': {
    env: 'BACKLINKS_COMMIT_INTERVAL',
    type: 'string',
    default: '5',
    help: 'seconds ingest may keep batches uncommitted while behind (faster catch-up; 0: commit every batch)',
  },
  'max-lag': { env: 'BACKLINKS_MAX_LAG', type: 'string', default: '120', help: 'ingest counts as unhealthy past this many seconds of lag' },
  json: { env: 'BACKLINKS_JSON', type: 'boolean', default: false, help: 'print JSON instead of a table' },
  vacuum: { env: 'BACKLINKS_VACUUM', type: 'boolean', default: false, help: 'also VACUUM: rewrites the file, needs it to itself (stop serve first)' },
} satisfies Record<string, OptionSpec>

export type OptionName = keyof typeof OPTIONS

export type Config = {
  [K in OptionName]: (typeof OPTIONS)[K] extends { type: 'boolean' } ? boolean : string | undefined
}

export class ConfigError extends Error {}

function fromEnv(spec: OptionSpec, env: NodeJS.ProcessEnv): string | boolean | undefined {
  const raw = env[spec.env]
  if (raw === undefined || raw === '') return undefined
  if (spec.type === 'string') return raw
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new ConfigError(`${spec.env} must be true or false, got "${raw}"`)
}

/** Values of a --config JSON file, checked against the options table. */
function fromFile(path: string): Partial<Record<OptionName, string | boolean>> {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`config file ${path}: expected a JSON object`)
  const out: Partial<Record<OptionName, string | boolean>> = {}
  for (const [key, value] of Object.entries(raw)) {
    const spec: OptionSpec | undefined = key === 'config' ? undefined : OPTIONS[key as OptionName]
    if (!spec) throw new ConfigError(`config file ${path}: unknown option "${key}"`)
    if (spec.type === 'boolean' ? typeof value !== 'boolean' : typeof value !== 'string' && typeof value !== 'number') {
      throw new ConfigError(`config file ${path}: "${key}" must be a ${spec.type === 'boolean' ? 'boolean' : 'string or number'}`)
    }
    out[key as OptionName] = typeof value === 'number' ? String(value) : value
  }
  return out
}

function checkNumber(config: Record<string, unknown>, name: OptionName, min: number): void {
  const value = config[name]
  if (value !== undefined && !(Number(value) >= min)) throw new ConfigError(`--${name} must be a number >= ${min}, got "${value}"`)
}

/** Flags win over environment variables, then the --config file, then defaults. Returns positionals too. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): { config: Config; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries(OPTIONS).map(([name, spec]) => [name, { type: spec.type }]),
  ) as Record<string, { type: 'string' | 'boolean' }>
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const configFile = (parsed.values.config ?? fromEnv(OPTIONS.config, env)) as string | undefined
  const file = configFile ? fromFile(configFile) : {}
  const config: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(OPTIONS) as Array<[OptionName, OptionSpec]>) {
    config[name] = parsed.values[name] ?? fromEnv(spec, env) ?? file[name] ?? spec.default
  }
  const port = Number(config.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port must be 0..65535, got "${config.port}"`)
  if (!['zstd', 'deflate', 'none'].includes(config.compress as string)) {
    throw new ConfigError(`--compress must be zstd, deflate or none, got "${config.compress}"`)
  }
  if (!(Number(config['silence-timeout']) > 0)) {
    throw new ConfigError(`--silence-timeout must be a positive number of seconds, got "${config['silence-timeout']}"`)
  }
  for (const name of ['cache-max-age', 'rate-limit', 'max-lag', 'commit-interval'] as const) checkNumber(config, name, 0)
  checkNumber(config, 'request-timeout', 1)
  const metricsPort = config['metrics-port']
  if (metricsPort !== undefined && !/^\d{1,5}$/.test(String(metricsPort))) {
    throw new ConfigError(`--metrics-port must be a port number, got "${metricsPort}"`)
  }
  const publicUrl = config['public-url'] as string | undefined
  if (publicUrl !== undefined && !/^https:\/\/[^/?#@]+\/?$/.test(publicUrl)) {
    throw new ConfigError(`--public-url must be an https origin such as https://links.example.com, got "${publicUrl}"`)
  }
  return { config: config as Config, positionals: parsed.positionals }
}

export function optionsHelp(names: OptionName[]): string {
  return names
    .map((name) => {
      const spec: OptionSpec = OPTIONS[name]
      const arg = spec.type === 'string' ? ` <${name === 'port' ? 'n' : 'value'}>` : ''
      const def = spec.default !== undefined && spec.default !== false ? ` (default ${spec.default})` : ''
      return `  --${name}${arg} `.padEnd(28) + `${spec.help}${def} [${spec.env}]`
    })
    .join('\n')
}
