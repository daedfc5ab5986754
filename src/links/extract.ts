// Link extraction from a record's JSON, with Constellation's paths:
// ".key" per object key, "[]" per array item, "[$type]" for a $typed item.
import type { ExtractedLink } from './types.js'
import { MAX_LINK_LENGTH, parseLink } from './uri.js'

/** Deepest container nesting walked (real records nest < 10); deeper values are ignored. */
export const MAX_DEPTH = 32
/** Most links kept per record, so one record cannot flood the index. */
export const MAX_LINKS = 1000
/** Most values visited per record, bounding CPU whatever the record's shape. */
export const MAX_VALUES = 250_000
/** Longest path kept; a longer one (huge keys or $types) is skipped with its subtree. */
export const MAX_PATH_LENGTH = 1024
/** Longest string tested as a link (atproto's 8 KB cap on uri and at-uri). */
export const MAX_STRING_LENGTH = MAX_LINK_LENGTH

/** The normalized link form of a string, or null if it is not a link (same rules as extraction). */
export function normalizeLink(value: string): string | null {
  if (typeof value !== 'string' || value.length > MAX_STRING_LENGTH) return null
  return parseLink(value)
}

/** Only plain JSON objects are walked: not arrays, bytes or class instances (CIDs). */
function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/**
 * Every link in a record, deduplicated per (path, target), in document order.
 * Iterative walk with an explicit stack: no recursion, so no stack overflow.
 */
export function extractLinks(record: unknown): ExtractedLink[] {
  const found: ExtractedLink[] = []
  if (typeof record !== 'object' || record === null || Array.isArray(record) || !isPlainObject(record)) {
    return found
  }
  let seen: Set<string> | null = null

  // Stack of open containers, as parallel arrays (fewer allocations than frames).
  const containers: object[] = [record]
  const keys: (string[] | null)[] = [Object.keys(record)]
  const positions: number[] = [0]
  const paths: string[] = ['']
  let top = 0
  let budget = MAX_VALUES

  while (top >= 0) {
    const container = containers[top]!
    const i = positions[top]!
    const ks = keys[top]!
    const isArray = ks === null
    const len = isArray ? (container as unknown[]).length : ks.length
    if (i >= len) {
      top--
      continue
    }
    if (--budget < 0) break
    positions[top] = i + 1

    let child: unknown
    let key: string | null = null
    if (isArray) child = (container as unknown[])[i]
    else child = (container as Record<string, unknown>)[(key = ks[i]!)]

    if (typeof child === 'string') {
      if (child.length > MAX_STRING_LENGTH) continue
      const target = parseLink(child)
      if (target === null) continue
      const path = childPath(paths[top]!, key, child)
      if (path.length > MAX_PATH_LENGTH) continue
      // The target has no spaces (URI chars only), so this key is unambiguous.
      const id = target + ' ' + path
      if (seen === null) seen = new Set()
      if (seen.has(id)) continue
      seen.add(id)
      found.push({ path, target })
      if (found.length >= MAX_LINKS) break
    } else if (typeof child === 'object' && child !== null && top + 1 < MAX_DEPTH) {
      const childIsArray = Array.isArray(child)
      if (!childIsArray && !isPlainObject(child)) continue
      const path = childPath(paths[top]!, key, child)
      if (path.length > MAX_PATH_LENGTH) continue
      top++
      containers[top] = child
      keys[top] = childIsArray ? null : Object.keys(child)
      positions[top] = 0
      paths[top] = path
    }
  }
  return found
}

/** Path of a child: ".key" in an object (key given), "[]" or "[$type]" in an array. */
function childPath(parent: string, key: string | null, child: unknown): string {
  if (key !== null) return parent + '.' + key
  if (typeof child === 'object' && child !== null && !Array.isArray(child)) {
    const t = (child as { $type?: unknown }).$type
    if (typeof t === 'string') return parent + '[' + t + ']'
  }
  return parent + '[]'
}
