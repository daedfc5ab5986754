import type { Rkey } from './batch-buffer.js'
import { pushVarint, readVarint } from './varint.js'

const TWO_21 = 2 ** 21

/**
 * A TID's 64 bits as two float-safe numbers: the top 53 (the timestamp, to 2 us) and the low 11
 * (the rest of the timestamp and the clock id). TIDs are 63-bit by the spec, but the canonical
 * form's first character allows the 64th bit, and such keys are stored like any other TID.
 */
function tidParts(rkey: Buffer): [high: number, low: number] {
  const lo = rkey.readUInt32BE(4)
  return [rkey.readUInt32BE(0) * TWO_21 + Math.floor(lo / 2048), lo % 2048]
}

function tidFromParts(high: number, low: number): Buffer {
  const buf = Buffer.allocUnsafe(8)
  buf.writeUInt32BE(Math.floor(high / TWO_21), 0)
  buf.writeUInt32BE((high % TWO_21) * 2048 + low, 4)
  return buf
}

/**
 * Appends a stored rkey of an ascending run, coded against the previous one (undefined: none).
 * A TID (the usual key) is its low 11 bits with a 0 bit, then the distance of its top 53 from
 * the previous TID's (keys ascend, so it is never negative; from 0 after a text key or none);
 * any other key is its UTF-8 length with a 1 bit, then its bytes.
 */
export function pushRkey(out: number[], rkey: Rkey, previous: Rkey | undefined): void {
  if (typeof rkey === 'string') {
    const bytes = Buffer.from(rkey, 'utf8')
    pushVarint(out, bytes.length * 2 + 1)
    for (const b of bytes) out.push(b)
    return
  }
  const [high, low] = tidParts(rkey)
  pushVarint(out, low * 2)
  pushVarint(out, high - (previous === undefined || typeof previous === 'string' ? 0 : tidParts(previous)[0]))
}

/** Reads an rkey written by pushRkey at `pos[0]`, advancing it. */
export function readRkey(blob: Buffer, pos: [number], previous: Rkey | undefined): Rkey {
  const tag = readVarint(blob, pos)
  if (tag % 2 === 1) {
    const end = pos[0] + (tag - 1) / 2
    const text = blob.toString('utf8', pos[0], end)
    pos[0] = end
    return text
  }
  const base = previous === undefined || typeof previous === 'string' ? 0 : tidParts(previous)[0]
  return tidFromParts(base + readVarint(blob, pos), tag / 2)
}

/** Moves `pos[0]` past an rkey written by pushRkey, without reading it. */
export function skipRkey(blob: Buffer, pos: [number]): void {
  const tag = readVarint(blob, pos)
  if (tag % 2 === 1) pos[0] += (tag - 1) / 2
  else readVarint(blob, pos)
}
