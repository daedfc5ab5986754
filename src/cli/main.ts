#!/usr/bin/env node
import { ConfigError, loadConfig, optionsHelp, type OptionName } from '../config.js'
import { createLogger } from '../logger.js'
import { VERSION } from '../version.js'
import { runBackup } from './backup.js'
import { runCompact } from './compact.js'
import { reexecWithHeapFlags } from './heap-flags.js'
import { runBackfillCommand } from '../backfill/command.js'
import { runIngest } from './ingest.js'
import { runServe } from './serve.js'
import { runStats } from './stats.js'

interface Command {
  summary: string
  usage: string
  options: OptionName[]
  run: (args: { config: ReturnType<typeof loadConfig>['config']; positionals: string[] }) => Promise<number>
}

const COMMANDS: Record<string, Command> = {
  serve: {
    summary: 'serve the XRPC API and keep the index current',
    usage: 'backlinks serve [options]',
    options: [
      'db', 'port', 'host', 'replay', 'read-only', 'log-level',
      'jetstream', 'compress', 'zstd-dictionary', 'zstd-dictionary-url', 'collections', 'silence-timeout',
      'config', 'public-url', 'metrics-port', 'cache-max-age', 'rate-limit', 'trust-proxy', 'request-timeout', 'max-lag', 'commit-interval',
      'backfill', 'relay', 'pds', 'did', 'plc', 'concurrency', 'retry-failed',
    ],
    run: ({ config }) => runServe(config, createLogger(config['log-level'])),
  },
  ingest: {
    summary: 'apply Jetstream JSONL captures (.gz/.zst allowed) to the database and exit',
    usage: 'backlinks ingest [options] FILE...',
    options: ['db', 'log-level', 'commit-interval'],
    run: ({ config, positionals }) => runIngest(config, positionals, createLogger(config['log-level'])),
  },
  backfill: {
    summary: "fetch whole repos (a relay's hosts, one PDS, or given DIDs) into the index; resumable",
    usage: 'backlinks backfill [options] [DID...]   (never alongside a running serve: use serve --backfill)',
    options: ['db', 'relay', 'pds', 'did', 'plc', 'concurrency', 'retry-failed', 'log-level', 'config'],
    run: ({ config, positionals }) => runBackfillCommand(config, positionals, createLogger(config['log-level'])),
  },
  backup: {
    summary: 'write a consistent copy of the database, also while serve is running',
    usage: 'backlinks backup [options] DEST (a new file, or a directory for a timestamped file)',
    options: ['db', 'config'],
    run: ({ config, positionals }) => runBackup(config, positionals),
  },
  stats: {
    summary: 'print the index figures (records, links, accounts, cursor, file sizes)',
    usage: 'backlinks stats [options]',
    options: ['db', 'json', 'config'],
    run: ({ config }) => runStats(config),
  },
  compact: {
    summary: 'checkpoint and truncate the WAL; with --vacuum, also rewrite the file (service stopped)',
    usage: 'backlinks compact [options]',
    options: ['db', 'vacuum', 'config'],
    run: ({ config }) => runCompact(config),
  },
}

function mainHelp(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`)
  return `backlinks ${VERSION}: a backlink index for the AT Protocol\n\nUsage: backlinks <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "backlinks <command> --help" for the options of a command.`
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(mainHelp())
    return 0
  }
  if (name === '--version') {
    console.log(VERSION)
    return 0
  }
  const command = COMMANDS[name]
  if (!command) {
    console.error(`unknown command "${name}"\n\n${mainHelp()}`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`Usage: ${command.usage}\n\n${command.summary}\n\nOptions:\n${optionsHelp(command.options)}`)
    return 0
  }
  if (name === 'serve') reexecWithHeapFlags()
  try {
    return await command.run(loadConfig(rest))
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`backlinks ${name}: ${err.message}\nRun "backlinks ${name} --help" for the options.`)
      return 2
    }
    throw err
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: Error) => {
    console.error(`backlinks: ${err.stack ?? err.message}`)
    process.exitCode = 1
  },
)
