// TID record keys (13 chars of base32-sortable = a 63-bit integer) are stored as 8-byte
// big-endian blobs: 9 bytes on disk instead of 14, and byte order equals time order.
const ALPHABET = '234567abcdefghijklmnopqrstuvwxyz'
const VALUE = new Int8Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i

/** The 8-byte form of a TID rkey, or null when the rkey is not a canonical TID. */
export function tidToBytes(rkey: string): Buffer | null {
  if (rkey.length !== 13) return null
  // 13 chars * 5 bits = 65 bits; the first char carries only the top 4 (its high bit must be 0).
  let hi = 0 // top 33 bits (as a float-safe integer)
  let lo = 0 // low 32 bits
  for (let i = 0; i < 13; i++) {
    const c = rkey.charCodeAt(i)
    const v = c < 128 ? VALUE[c] : -1
    if (v < 0 || (i === 0 && v > 15)) return null
    // shift (hi,lo) left by 5 and add v
    const carry = lo >>> 27
    lo = ((lo << 5) | v) >>> 0
    hi = hi * 32 + carry
  }
  const buf = Buffer.allocUnsafe(8)
  buf.writeUInt32BE(hi >>> 0, 0)
  buf.writeUInt32BE(lo, 4)
  return buf
}

export function bytesToTid(buf: Uint8Array): string {
  const hi = ((buf[0] << 24) | (buf[1] << 16) | (buf[2] << 8) | buf[3]) >>> 0
  const lo = ((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]) >>> 0
  return wordsToTid(hi, lo)
}

/** The TID of a 64-bit value given as its high and low 32 bits. */
function wordsToTid(hi: number, lo: number): string {
  let out = ''
  for (let i = 0; i < 13; i++) {
    out = ALPHABET[lo & 31] + out
    lo = ((lo >>> 5) | ((hi & 31) << 27)) >>> 0
    hi = hi >>> 5
  }
  return out
}

/** Whether a record key is a canonical TID, i.e. stored as 8 bytes (the check tidToBytes makes). */
export function isTid(rkey: string): boolean {
  return TID.test(rkey)
}
const TID = /^[2-7a-j][2-7a-z]{12}$/

/**
 * SQL reading a stored rkey as text: a TID as its 16 hex digits, any other key after a '!' (not
 * an rkey character). Reading the blob itself costs better-sqlite3 a Buffer per row, which was
 * several times the B-tree walk for a page of links. Alias it: an alias named rkey would make
 * ORDER BY rkey sort by this expression instead of walking the index.
 */
export const RKEY_AS_TEXT = "iif(typeof(rkey) = 'blob', hex(rkey), '!' || rkey)"

/** The record key, as clients see it, from a RKEY_AS_TEXT column. */
export function rkeyFromText(text: string): string {
  return text.charCodeAt(0) === 33 ? text.slice(1) : wordsToTid(parseInt(text.slice(0, 8), 16), parseInt(text.slice(8), 16))
}

/** The stored form of any record key. */
export function encodeRkey(rkey: string): Buffer | string {
  return tidToBytes(rkey) ?? rkey
}

export function decodeRkey(value: unknown): string {
  return typeof value === 'string' ? value : bytesToTid(value as Uint8Array)
}
