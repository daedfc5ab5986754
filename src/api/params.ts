import { parseSource, type Source } from '../links/source.js'
import { InvalidCursorError } from '../store/page-cursor.js'
import { invalidCursor, invalidParam } from './errors.js'

export function requireSource(name: string, value: string): Source {
  const source = parseSource(value)
  if (!source) throw invalidParam(name, 'expected collection:path, e.g. app.bsky.feed.like:subject.uri')
  return source
}

/** Subjects are strings without control characters; the lexicon caps the length. */
export function requireSubject(name: string, value: string): string {
  if (value.length === 0 || /[\u0000-\u001f\s]/.test(value)) throw invalidParam(name, 'expected an at-uri, DID or URI')
  return value
}

/** Runs a store read, turning a malformed page cursor into the XRPC InvalidCursor error. */
export function withCursor<T>(read: () => T): T {
  try {
    return read()
  } catch (err) {
    if (err instanceof InvalidCursorError) throw invalidCursor()
    throw err
  }
}
