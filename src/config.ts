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

/** Flags win over environment variables, which win over defaults. Returns positionals too. */
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
  const config: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(OPTIONS) as Array<[OptionName, OptionSpec]>) {
    config[name] = parsed.values[name] ?? fromEnv(spec, env) ?? spec.default
  }
  const port = Number(config.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port must be 0..65535, got "${config.port}"`)
  if (!['zstd', 'deflate', 'none'].includes(config.compress as string)) {
    throw new ConfigError(`--compress must be zstd, deflate or none, got "${config.compress}"`)
  }
  if (!(Number(config['silence-timeout']) > 0)) {
    throw new ConfigError(`--silence-timeout must be a positive number of seconds, got "${config['silence-timeout']}"`)
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
