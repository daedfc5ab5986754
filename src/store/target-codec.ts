import { pushVarint, readVarint } from './varint.js'
import { encodeRkey, decodeRkey } from './tid.js'

// A target is stored as a short key blob instead of its string:
//   1 <did id> <collection id> <rkey>   at://<did>/<collection>/<rkey>  (rkey: 0x00 + 8 TID bytes, or utf8)
//   2 <did id>                          a bare DID
//   3 <utf8>                            any other URI, verbatim
// Each form rebuilds exactly the string it came from, so matching stays exact.
const AT_URI = 1
const DID = 2
const OTHER = 3

export interface IdLookup {
  didId(did: string): number | undefined
  collectionId(nsid: string): number | undefined
}

export interface IdNames {
  didName(id: number): string
  collectionName(id: number): string
}

interface AtParts {
  did: string
  collection: string
  rkey: string
}

function splitAtUri(target: string): AtParts | null {
  if (!target.startsWith('at://did:')) return null
  const parts = target.slice(5).split('/')
  if (parts.length !== 3 || !parts[1] || !parts[2]) return null
  if (/[?#]/.test(target)) return null
  return { did: parts[0], collection: parts[1], rkey: parts[2] }
}

/** The key blob of a target, or undefined when a DID or collection in it is unknown (lookup-only). */
export function encodeTarget(target: string, ids: IdLookup): Buffer | undefined {
  const at = splitAtUri(target)
  if (at) {
    const didId = ids.didId(at.did)
    const collectionId = ids.collectionId(at.collection)
    if (didId === undefined || collectionId === undefined) return undefined
    const out = [AT_URI]
    pushVarint(out, didId)
    pushVarint(out, collectionId)
    const rkey = encodeRkey(at.rkey)
    if (typeof rkey === 'string') return Buffer.concat([Buffer.from(out), Buffer.from(rkey, 'utf8')])
    out.push(0)
    return Buffer.concat([Buffer.from(out), rkey])
  }
  if (target.startsWith('did:') && !target.includes('/')) {
    const didId = ids.didId(target)
    if (didId === undefined) return undefined
    const out = [DID]
    pushVarint(out, didId)
    return Buffer.from(out)
  }
  return Buffer.concat([Buffer.from([OTHER]), Buffer.from(target, 'utf8')])
}

/** The DID and collection a target would need interned before encodeTarget can succeed. */
export function targetNames(target: string): { did?: string; collection?: string } {
  const at = splitAtUri(target)
  if (at) return { did: at.did, collection: at.collection }
  if (target.startsWith('did:') && !target.includes('/')) return { did: target }
  return {}
}

export function decodeTarget(key: Uint8Array, names: IdNames): string {
  const pos: [number] = [1]
  switch (key[0]) {
    case AT_URI: {
      const did = names.didName(readVarint(key, pos))
      const collection = names.collectionName(readVarint(key, pos))
      const rest = key.subarray(pos[0])
      const rkey = rest[0] === 0 ? decodeRkey(rest.subarray(1)) : Buffer.from(rest).toString('utf8')
      return `at://${did}/${collection}/${rkey}`
    }
    case DID:
      return names.didName(readVarint(key, pos))
    case OTHER:
      return Buffer.from(key.subarray(1)).toString('utf8')
    default:
      throw new Error(`unknown target key type ${key[0]}`)
  }
}
