import type { RequestHandler } from 'express'

/** Fragment and type of the service entry; clients proxy with `atproto-proxy: <did>#backlinks`. */
const SERVICE_ID = '#backlinks'
const SERVICE_TYPE = 'BacklinksIndex'

/** did:web of an https origin: the host, with a port's colon percent-encoded (did:web spec). */
export function didWebOf(publicUrl: string): string {
  return `did:web:${new URL(publicUrl).host.replace(':', '%3A')}`
}

/**
 * The DID document served at /.well-known/did.json, in the shape feed generators use, so that
 * AppViews and PDSes can resolve and proxy to this service by DID.
 */
function didDocument(publicUrl: string) {
  return {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: didWebOf(publicUrl),
    service: [{ id: SERVICE_ID, type: SERVICE_TYPE, serviceEndpoint: new URL(publicUrl).origin }],
  }
}

export function didDocumentHandler(publicUrl: string): RequestHandler {
  const doc = didDocument(publicUrl)
  return (_req, res) => {
    res.set('Cache-Control', 'public, max-age=3600').json(doc)
  }
}
