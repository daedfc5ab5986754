// Reading a repo CAR (com.atproto.sync.getRepo) without @atproto/repo's async block-by-block
// path, which is ~10x slower: the whole CAR is in memory anyway, so everything here is synchronous.
import { isCid, lexToJson, type Cid, type LexValue } from '@atproto/lex'
import { cborToLex, mstUtil, verifyCommitSig, type Commit } from '@atproto/repo'
import { isValidNsid, isValidRecordKey, isValidTid } from '@atproto/syntax'
import { hash } from 'node:crypto'
import { extractLinks } from '../links/extract.js'
import type { RepoRecord } from '../indexer/indexer.js'
import { BackfillError } from './errors.js'

const SHA2_256 = 0x12
/** 256 hash bits in 2-bit layers: no valid MST is deeper; a deeper chain is hostile input. */
const MAX_MST_DEPTH = 130

/** A verified repo: its commit, and the MST's leaves (record keys and record block keys) in key order. */
export interface RepoSnapshot {
  did: string
  rev: string
  commit: Commit
  blocks: Map<string, Uint8Array>
  keys: string[]
  recordCids: string[]
}

export interface RecordSlice {
  /** Records that have links, in the JSON form Jetstream delivers. */
  records: RepoRecord[]
  /** Records walked for this slice, with or without links. */
  walked: number
  /** Records skipped as live ingest would skip them (undecodable, not an object, bad collection or rkey). */
  invalid: number
}

const corrupt = (why: string) => new BackfillError(`corrupt repo: ${why}`, 'fail')

/**
 * Parses and verifies a repo CAR: every block's sha-256 matches its CID, the root is a v3 commit
 * for `did`, and the MST is well formed (sorted keys, each key at the layer its hash gives, every
 * node and record block present). Throws BackfillError('fail') on anything else.
 */
export function readRepoCar(bytes: Uint8Array, did: string): RepoSnapshot {
  const { root, blocks } = parseCar(bytes)
  const commit = decodeBlock(blocks, root, 'commit') as Partial<Commit> | null
  if (typeof commit !== 'object' || commit === null) throw corrupt('commit is not an object')
  if (commit.version !== 3) throw corrupt(`unsupported commit version ${String(commit.version)}`)
  if (commit.did !== did) throw corrupt(`commit is for ${String(commit.did)}, not ${did}`)
  if (typeof commit.rev !== 'string' || !isValidTid(commit.rev)) throw corrupt(`bad rev ${String(commit.rev)}`)
  if (!isCid(commit.data) || !(commit.sig instanceof Uint8Array)) throw corrupt('commit lacks data or sig')
  const keys: string[] = []
  const recordCids: string[] = []
  new MstWalk(blocks, keys, recordCids).visit(cidKey(commit.data), null, 0)
  return { did, rev: commit.rev, commit: commit as Commit, blocks, keys, recordCids }
}

/** Checks the commit's signature against a did:key (the #atproto key of the DID document). */
export async function verifySignature(repo: RepoSnapshot, didKey: string | undefined): Promise<void> {
  if (!didKey) throw new BackfillError(`no #atproto Multikey in the DID document of ${repo.did}`, 'fail')
  if (!(await verifyCommitSig(repo.commit, didKey))) throw new BackfillError('commit signature does not verify', 'fail')
}

/**
 * The repo's records in key order, in slices of at most `size` records with links (records
 * without links are counted but not returned: the index keeps none, and the writer's
 * finishRepo removes any indexed record missing from the slices).
 */
export function* recordSlices(repo: RepoSnapshot, size: number): Generator<RecordSlice> {
  let slice: RecordSlice = { records: [], walked: 0, invalid: 0 }
  for (let i = 0; i < repo.keys.length; i++) {
    const key = repo.keys[i]
    const slash = key.indexOf('/')
    const collection = key.slice(0, slash)
    const rkey = key.slice(slash + 1)
    const record = isValidNsid(collection) && isValidRecordKey(rkey) ? decodeRecord(repo.blocks.get(repo.recordCids[i])!) : null
    slice.walked++
    if (record === null) slice.invalid++
    else if (extractLinks(record).length > 0) slice.records.push({ collection, rkey, record })
    // Link-less records cost little, but bound them too so a slice never runs unbounded.
    if (slice.records.length >= size || slice.walked >= size * 4) {
      yield slice
      slice = { records: [], walked: 0, invalid: 0 }
    }
  }
  if (slice.walked > 0) yield slice
}

/** A record block as JSON (CIDs as {$link}, bytes as {$bytes}), or null if it is not a CBOR map. */
function decodeRecord(bytes: Uint8Array): object | null {
  try {
    const value = lexToJson(cborToLex(bytes))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : null
  } catch {
    return null
  }
}

/** The key a block is stored under: its CID's bytes as a latin1 string. */
function cidKey(cid: Cid): string {
  return Buffer.from(cid.bytes.buffer, cid.bytes.byteOffset, cid.bytes.byteLength).toString('latin1')
}

function decodeBlock(blocks: Map<string, Uint8Array>, key: string, what: string): LexValue {
  const bytes = blocks.get(key)
  if (!bytes) throw corrupt(`missing ${what} block`)
  try {
    return cborToLex(bytes)
  } catch (err) {
    throw corrupt(`undecodable ${what} block: ${(err as Error).message}`)
  }
}

class MstWalk {
  private last = ''

  constructor(
    private blocks: Map<string, Uint8Array>,
    private keys: string[],
    private recordCids: string[],
  ) {}

  /** In-order walk of the node at `key`; `layer` is the layer its keys must have (null: not known yet). */
  visit(key: string, layer: number | null, depth: number): void {
    if (depth > MAX_MST_DEPTH) throw corrupt('MST too deep')
    const node = decodeBlock(this.blocks, key, 'MST node') as { l?: unknown; e?: unknown }
    if (typeof node !== 'object' || node === null || !Array.isArray(node.e)) throw corrupt('bad MST node')
    const left = node.l ?? null
    if (left !== null && !isCid(left)) throw corrupt('bad MST left pointer')
    const entries: Array<{ key: string; value: string; tree: string | null }> = []
    let prev = ''
    for (const e of node.e as Array<{ p?: unknown; k?: unknown; v?: unknown; t?: unknown }>) {
      const p = e?.p
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > prev.length) throw corrupt('bad MST prefix')
      if (!(e.k instanceof Uint8Array) || !isCid(e.v) || (e.t != null && !isCid(e.t))) throw corrupt('bad MST entry')
      prev = prev.slice(0, p) + Buffer.from(e.k).toString('latin1')
      const keyLayer = layerOf(prev)
      if (layer === null) layer = keyLayer
      else if (keyLayer !== layer) throw corrupt(`key ${prev} at layer ${layer}, its hash says ${keyLayer}`)
      entries.push({ key: prev, value: cidKey(e.v), tree: e.t == null ? null : cidKey(e.t as Cid) })
    }
    if (layer === 0 && (left !== null || entries.some((e) => e.tree !== null))) throw corrupt('MST subtree below layer 0')
    const below = layer === null ? null : layer - 1
    if (left !== null) this.visit(cidKey(left), below, depth + 1)
    for (const e of entries) {
      this.leaf(e.key, e.value)
      if (e.tree !== null) this.visit(e.tree, below, depth + 1)
    }
  }

  private leaf(key: string, value: string): void {
    if (key <= this.last) throw corrupt(`MST keys out of order at ${key}`)
    if (!mstUtil.isValidMstKey(key)) throw corrupt(`invalid MST key ${key}`)
    if (!this.blocks.has(value)) throw corrupt(`missing record block for ${key}`)
    this.last = key
    this.keys.push(key)
    this.recordCids.push(value)
  }
}

/** A key's MST layer: the number of leading zero 2-bit groups of its sha-256. */
function layerOf(key: string): number {
  const digest = hash('sha256', Buffer.from(key, 'latin1'), 'buffer')
  let zeros = 0
  for (const byte of digest) {
    if (byte === 0) {
      zeros += 4
      continue
    }
    if (byte < 4) zeros += 3
    else if (byte < 16) zeros += 2
    else if (byte < 64) zeros += 1
    break
  }
  return zeros
}

/** CAR v1: a varint-prefixed CBOR header naming one root, then varint-prefixed (CID, bytes) blocks. */
function parseCar(bytes: Uint8Array): { root: string; blocks: Map<string, Uint8Array> } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = 0
  const varint = (): number => {
    let value = 0
    for (let shift = 0; ; shift += 7) {
      if (pos >= buf.length) throw corrupt('truncated CAR')
      if (shift > 49) throw corrupt('varint too long')
      const b = buf[pos++]
      value += (b & 0x7f) * 2 ** shift
      if (b < 0x80) return value
    }
  }
  const headerLength = varint()
  if (pos + headerLength > buf.length) throw corrupt('truncated CAR header')
  let header: { version?: unknown; roots?: unknown }
  try {
    header = cborToLex(buf.subarray(pos, pos + headerLength)) as typeof header
  } catch {
    throw corrupt('undecodable CAR header')
  }
  pos += headerLength
  if (header?.version !== 1 || !Array.isArray(header.roots) || header.roots.length !== 1 || !isCid(header.roots[0])) {
    throw corrupt('CAR header must be v1 with one root')
  }
  const blocks = new Map<string, Uint8Array>()
  while (pos < buf.length) {
    const end = varint() + pos
    if (end > buf.length) throw corrupt('truncated CAR block')
    const cidStart = pos
    if (varint() !== 1) throw corrupt('only CIDv1 blocks are supported')
    varint() // codec (dag-cbor for nodes and records, raw for blobs): any is fine here
    if (varint() !== SHA2_256) throw corrupt('only sha-256 CIDs are supported')
    const digestLength = varint()
    const dataStart = pos + digestLength
    if (digestLength !== 32 || dataStart > end) throw corrupt('bad CID digest')
    const data = buf.subarray(dataStart, end)
    if (!hash('sha256', data, 'buffer').equals(buf.subarray(pos, dataStart))) throw corrupt('block does not match its CID')
    blocks.set(buf.toString('latin1', cidStart, dataStart), data)
    pos = end
  }
  return { root: cidKey(header.roots[0] as Cid), blocks }
}
