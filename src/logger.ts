import { pino, type Logger } from 'pino'

export type { Logger }

/** Structured JSON logs on stderr (stdout stays free for command output such as `stats`). */
export function createLogger(level = process.env.BACKLINKS_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'backlinks' } }, pino.destination(2))
}

export const silentLogger: Logger = pino({ level: 'silent' })
