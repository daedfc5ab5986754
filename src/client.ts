// The typed client other apps install: `import { BacklinksClient } from 'atproto-backlinks/client'`.
// Requests and responses are checked against the same generated lexicon schemas the server uses.
import { Client, type Agent, type AgentOptions, type ClientOptions, type XrpcRequestParams, type XrpcResponseBody } from '@atproto/lex'
import { com } from './lexicons/index.js'

const links = com.example.links

export interface CallOptions {
  signal?: AbortSignal
}

export type GetBacklinksParams = XrpcRequestParams<typeof links.getBacklinks.main>
export type GetBacklinksOutput = XrpcResponseBody<typeof links.getBacklinks.main>
export type GetBacklinkDidsParams = XrpcRequestParams<typeof links.getBacklinkDids.main>
export type GetBacklinkDidsOutput = XrpcResponseBody<typeof links.getBacklinkDids.main>
export type GetCountsParams = XrpcRequestParams<typeof links.getCounts.main>
export type GetCountsOutput = XrpcResponseBody<typeof links.getCounts.main>
export type GetManyToManyParams = XrpcRequestParams<typeof links.getManyToMany.main>
export type GetManyToManyOutput = XrpcResponseBody<typeof links.getManyToMany.main>
export type GetManyToManyCountsParams = XrpcRequestParams<typeof links.getManyToManyCounts.main>
export type GetManyToManyCountsOutput = XrpcResponseBody<typeof links.getManyToManyCounts.main>
export type GetStatusOutput = XrpcResponseBody<typeof links.getStatus.main>

/**
 * A backlink index's XRPC API. `service` is the index's URL, or an authenticated agent plus
 * `{ service: 'did:web:links.example.com#backlinks' }` in `options` to go through a PDS's
 * service proxying. Failures throw the XrpcError of `@atproto/lex`.
 */
export class BacklinksClient {
  readonly client: Client

  constructor(service: Agent | AgentOptions, options?: ClientOptions) {
    this.client = new Client(service, options)
  }

  /** Records linking to `subject` from `source` (`collection:path`), newest first. */
  async getBacklinks(params: GetBacklinksParams, opts: CallOptions = {}): Promise<GetBacklinksOutput> {
    return (await this.client.xrpc(links.getBacklinks, { params, signal: opts.signal })).body
  }

  /** Distinct accounts linking to `subject` from `source`, most recent linker first. */
  async getBacklinkDids(params: GetBacklinkDidsParams, opts: CallOptions = {}): Promise<GetBacklinkDidsOutput> {
    return (await this.client.xrpc(links.getBacklinkDids, { params, signal: opts.signal })).body
  }

  /** Record and account counts for up to 100 subjects in one call, in the order asked. */
  async getCounts(params: GetCountsParams, opts: CallOptions = {}): Promise<GetCountsOutput> {
    return (await this.client.xrpc(links.getCounts, { params, signal: opts.signal })).body
  }

  async getManyToMany(params: GetManyToManyParams, opts: CallOptions = {}): Promise<GetManyToManyOutput> {
    return (await this.client.xrpc(links.getManyToMany, { params, signal: opts.signal })).body
  }

  async getManyToManyCounts(params: GetManyToManyCountsParams, opts: CallOptions = {}): Promise<GetManyToManyCountsOutput> {
    return (await this.client.xrpc(links.getManyToManyCounts, { params, signal: opts.signal })).body
  }

  /** Index size, ingest state (with `ingest.healthy`) and version. */
  async getStatus(opts: CallOptions = {}): Promise<GetStatusOutput> {
    return (await this.client.xrpc(links.getStatus, { signal: opts.signal })).body
  }
}
