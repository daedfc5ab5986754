// Unsigned LEB128 varints: the compact packing used by target keys and the forward index.
export function pushVarint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
}

/** Reads a varint at `pos[0]` and advances it. */
export function readVarint(buf: Uint8Array, pos: [number]): number {
  let n = 0
  let mul = 1
  for (;;) {
    const b = buf[pos[0]++]
    if (b === undefined) throw new Error('truncated varint')
    n += (b & 0x7f) * mul
    if (b < 0x80) return n
    mul *= 0x80
  }
}

export function packPairs(pairs: ReadonlyArray<readonly [number, number]>): Buffer {
  const out: number[] = []
  for (const [a, b] of pairs) {
    pushVarint(out, a)
    pushVarint(out, b)
  }
  return Buffer.from(out)
}

export function unpackPairs(buf: Uint8Array): Array<[number, number]> {
  const pos: [number] = [0]
  const pairs: Array<[number, number]> = []
  while (pos[0] < buf.length) pairs.push([readVarint(buf, pos), readVarint(buf, pos)])
  return pairs
}
