import { pushVarint, readVarint } from './varint.js'

/** Position in a (rkey, did) ordered list: the last item of the previous page. */
export interface Position {
  rkey: Buffer | string
  didId: number
}

export class InvalidCursorError extends Error {
  constructor() {
    super('malformed cursor')
  }
}

// Opaque to clients: base64url of [kind 0 = TID bytes | 1 = text][varint did id][rkey bytes].
export function encodePosition(p: Position): string {
  const head: number[] = [typeof p.rkey === 'string' ? 1 : 0]
  pushVarint(head, p.didId)
  const rkey = typeof p.rkey === 'string' ? Buffer.from(p.rkey, 'utf8') : p.rkey
  return Buffer.concat([Buffer.from(head), rkey]).toString('base64url')
}

export function decodePosition(cursor: string): Position {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) throw new InvalidCursorError()
  const buf = Buffer.from(cursor, 'base64url')
  try {
    const pos: [number] = [1]
    const didId = readVarint(buf, pos)
    const rest = buf.subarray(pos[0])
    if (buf[0] === 0 && rest.length === 8) return { rkey: Buffer.from(rest), didId }
    if (buf[0] === 1 && rest.length > 0) return { rkey: rest.toString('utf8'), didId }
  } catch {
    // fall through
  }
  throw new InvalidCursorError()
}

/** SQLite's order for the rkey column: TEXT (binary) before BLOB (memcmp). */
export function compareRkey(a: Buffer | string, b: Buffer | string): number {
  if (typeof a === 'string') {
    if (typeof b !== 'string') return -1
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
  }
  if (typeof b === 'string') return 1
  return Buffer.compare(a, b)
}

export function comparePosition(a: Position, b: Position): number {
  return compareRkey(a.rkey, b.rkey) || a.didId - b.didId
}
