import { isValidNsid } from '@atproto/syntax'

export interface Source {
  collection: string
  /** With its leading dot, as stored: ".subject.uri". */
  path: string
}

/** Parses `collection:path` (split at the first `:`; a leading dot on the path is tolerated). */
export function parseSource(source: string): Source | null {
  const i = source.indexOf(':')
  if (i <= 0 || i === source.length - 1) return null
  const collection = source.slice(0, i)
  if (!isValidNsid(collection)) return null
  const raw = source.slice(i + 1)
  const path = raw.startsWith('.') ? raw : `.${raw}`
  return path.length > 1 ? { collection, path } : null
}

/** The API spelling of a source: the path without its leading dot. */
export function formatSource(collection: string, path: string): string {
  return `${collection}:${path.startsWith('.') ? path.slice(1) : path}`
}
