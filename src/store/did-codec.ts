import type Database from 'better-sqlite3'

// A did:plc is 24 base32 characters after its prefix: 120 bits, stored as its 15 bytes instead of
// 32 characters, in the `dids` row and again in its UNIQUE index (BENCHMARKS.md, "Compact DIDs").
// Any other DID (did:web, or a did:plc outside the canonical alphabet) is stored as text, so the
// stored form is a pure function of the string and every DID reads back exactly.
const PLC = /^did:plc:[a-z2-7]{24}$/
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'
const VALUE = new Int8Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i

export function encodeDid(did: string): Buffer | string {
  if (!PLC.test(did)) return did
  const out = Buffer.allocUnsafe(15)
  // 8 characters are 40 bits (exact in a double) and fill 5 bytes.
  for (let group = 0; group < 3; group++) {
    let bits = 0
    for (let i = 0; i < 8; i++) bits = bits * 32 + VALUE[did.charCodeAt(8 + group * 8 + i)]
    out.writeUIntBE(bits, group * 5, 5)
  }
  return out
}

export function decodeDid(stored: Uint8Array | string): string {
  if (typeof stored === 'string') return stored
  const bytes = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength)
  let out = 'did:plc:'
  for (let group = 0; group < 3; group++) {
    let bits = bytes.readUIntBE(group * 5, 5)
    let chars = ''
    for (let i = 0; i < 8; i++) {
      chars = ALPHABET[bits % 32] + chars
      bits = Math.floor(bits / 32)
    }
    out += chars
  }
  return out
}

/** did_bytes(text): encodeDid in SQL, for the migration that compacts existing rows. */
export function registerDidFunctions(sqlite: Database.Database): void {
  sqlite.function('did_bytes', { deterministic: true }, (did: unknown) => (typeof did === 'string' ? encodeDid(did) : did))
}
