import { bytesToTid, encodeRkey, isTid } from './tid.js'
import { pushVarint, readVarint } from './varint.js'

/** Position in a (rkey, did) ordered list: the last item of the previous page. */
export interface Position {
  rkey: string // as clients see it; encodeRkey gives the stored form
  didId: number
}

export class InvalidCursorError extends Error {
  constructor() {
    super('malformed cursor')
  }
}

// Opaque to clients: base64url of [kind 0 = TID bytes | 1 = text][varint did id][rkey bytes].
export function encodePosition(p: Position): string {
  const stored = encodeRkey(p.rkey)
  const head: number[] = [typeof stored === 'string' ? 1 : 0]
  pushVarint(head, p.didId)
  const rkey = typeof stored === 'string' ? Buffer.from(stored, 'utf8') : stored
  return Buffer.concat([Buffer.from(head), rkey]).toString('base64url')
}

export function decodePosition(cursor: string): Position {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) throw new InvalidCursorError()
  const buf = Buffer.from(cursor, 'base64url')
  try {
    const pos: [number] = [1]
    const didId = readVarint(buf, pos)
    const rest = buf.subarray(pos[0])
    if (buf[0] === 0 && rest.length === 8) return { rkey: bytesToTid(rest), didId }
    if (buf[0] === 1 && rest.length > 0) return { rkey: rest.toString('utf8'), didId }
  } catch {
    // fall through
  }
  throw new InvalidCursorError()
}

/**
 * SQLite's order of the stored keys, on record keys as clients see them: other keys (TEXT, in
 * byte order: rkeys are ASCII) before TIDs (BLOB; base32-sortable strings sort like their bytes).
 */
function compareRkey(a: string, b: string): number {
  const tidA = isTid(a)
  if (tidA !== isTid(b)) return tidA ? 1 : -1
  return a < b ? -1 : a > b ? 1 : 0
}

export function comparePosition(a: Position, b: Position): number {
  return compareRkey(a.rkey, b.rkey) || a.didId - b.didId
}
