import { isValidDid } from '@atproto/syntax'
import { BackfillError } from './errors.js'
import type { HttpClient } from './http.js'

export interface ResolvedDid {
  /** Origin of the account's PDS (its #atproto_pds service endpoint). */
  pds: string
  /** The #atproto verification key as a did:key, when the document has a Multikey one. */
  signingKey?: string
}

interface DidDocument {
  id?: unknown
  service?: Array<{ id?: unknown; type?: unknown; serviceEndpoint?: unknown }>
  verificationMethod?: Array<{ id?: unknown; type?: unknown; publicKeyMultibase?: unknown }>
}

/** Resolves did:plc through a PLC directory and did:web through https://<host>/.well-known/did.json. */
export class DidResolver {
  constructor(
    private http: HttpClient,
    private plc: string,
    private hostUrl: (host: string) => string,
  ) {}

  async resolve(did: string): Promise<ResolvedDid> {
    const doc = await this.http.getJson<DidDocument>(this.documentUrl(did), 1024 * 1024)
    if (doc?.id !== did) throw new BackfillError(`DID document of ${did} names ${String(doc?.id)}`, 'fail')
    return { pds: pdsOf(doc, did), signingKey: signingKeyOf(doc, did) }
  }

  private documentUrl(did: string): URL {
    if (!isValidDid(did)) throw new BackfillError(`invalid DID ${did}`, 'fail')
    if (did.startsWith('did:plc:')) return new URL(`/${encodeURIComponent(did)}`, this.plc)
    if (did.startsWith('did:web:')) {
      const id = did.slice('did:web:'.length)
      // atproto allows host-level did:web only (no path); a port is percent-encoded (%3A).
      if (id.includes(':')) throw new BackfillError(`did:web with a path is not supported: ${did}`, 'fail')
      return new URL('/.well-known/did.json', this.hostUrl(decodeURIComponent(id)))
    }
    throw new BackfillError(`unsupported DID method: ${did}`, 'fail')
  }
}

/** Matches a fragment id written either as "#frag" or "<did>#frag". */
const isFragment = (id: unknown, did: string, frag: string) => id === `#${frag}` || id === `${did}#${frag}`

function pdsOf(doc: DidDocument, did: string): string {
  const service = doc.service?.find((s) => isFragment(s.id, did, 'atproto_pds'))
  if (typeof service?.serviceEndpoint !== 'string') throw new BackfillError(`${did} has no #atproto_pds service`, 'skip')
  try {
    const url = new URL(service.serviceEndpoint)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(url.protocol)
    return url.origin
  } catch {
    throw new BackfillError(`${did} has an invalid PDS endpoint ${service.serviceEndpoint}`, 'fail')
  }
}

function signingKeyOf(doc: DidDocument, did: string): string | undefined {
  const method = doc.verificationMethod?.find((m) => isFragment(m.id, did, 'atproto'))
  if (method?.type !== 'Multikey' || typeof method.publicKeyMultibase !== 'string') return undefined
  return `did:key:${method.publicKeyMultibase}`
}
