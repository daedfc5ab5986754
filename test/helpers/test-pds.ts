// Real signed repos (@atproto/repo) served by a local PDS / relay / PLC directory on 127.0.0.1,
// with injectable faults: status codes (429 + Retry-After, 5xx, XRPC errors), slow responses,
// corrupt or chunked CARs.
import { getFullRepo, MemoryBlockstore, Repo, WriteOpAction, type RecordWriteOp } from '@atproto/repo'
import { Secp256k1Keypair } from '@atproto/crypto'
import type { LexMap } from '@atproto/lex'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordInput {
  collection: string
  rkey: string
  record: LexMap
}

export interface BuiltRepo {
  did: string
  rev: string
  car: Uint8Array
  /** The repo's records now, keyed `collection/rkey`. */
  records: Map<string, RecordInput>
  keypair: Secp256k1Keypair
  repo: Repo
}

export type RepoWrite =
  | { action: 'create' | 'update'; collection: string; rkey: string; record: LexMap }
  | { action: 'delete'; collection: string; rkey: string }

/** A repo with one signed commit holding `records`. */
export async function buildRepo(did: string, records: RecordInput[], keypair?: Secp256k1Keypair): Promise<BuiltRepo> {
  const key = keypair ?? (await Secp256k1Keypair.create())
  const storage = new MemoryBlockstore()
  const ops = records.map((r) => ({ action: WriteOpAction.Create, ...r }) as RecordWriteOp)
  const repo = await Repo.create(storage, did, key, ops as Extract<RecordWriteOp, { action: WriteOpAction.Create }>[])
  return exportRepo(repo, key, new Map(records.map((r) => [`${r.collection}/${r.rkey}`, r])))
}

/** The repo after one more commit (a newer rev). */
export async function writeRepo(built: BuiltRepo, writes: RepoWrite[]): Promise<BuiltRepo> {
  const ops = writes.map((w) => ({ ...w, action: w.action as WriteOpAction }) as RecordWriteOp)
  const repo = await built.repo.applyWrites(ops, built.keypair)
  const records = new Map(built.records)
  for (const w of writes) {
    if (w.action === 'delete') records.delete(`${w.collection}/${w.rkey}`)
    else records.set(`${w.collection}/${w.rkey}`, { collection: w.collection, rkey: w.rkey, record: w.record })
  }
  return exportRepo(repo, built.keypair, records)
}

async function exportRepo(repo: Repo, keypair: Secp256k1Keypair, records: Map<string, RecordInput>): Promise<BuiltRepo> {
  const chunks: Uint8Array[] = []
  for await (const chunk of getFullRepo(repo.storage, repo.cid)) chunks.push(chunk)
  return { did: repo.did, rev: repo.commit.rev, car: Buffer.concat(chunks), records, keypair, repo }
}

/** A DID document naming `pds` and the repo's signing key. */
export function didDocument(did: string, pds: string, keypair: Secp256k1Keypair): object {
  return {
    id: did,
    verificationMethod: [
      { id: `${did}#atproto`, type: 'Multikey', controller: did, publicKeyMultibase: keypair.did().slice('did:key:'.length) },
    ],
    service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: pds }],
  }
}

export type Fault = { times?: number } & (
  | { kind: 'status'; status: number; body?: object; headers?: Record<string, string> }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'corrupt' }
  | { kind: 'chunked' }
)

export interface HostedRepo {
  car: Uint8Array
  rev: string
  active?: boolean
  status?: string
}

export interface LoggedRequest {
  method: string
  params: URLSearchParams
  at: number
  status: number
}

/**
 * One local server playing a PDS (listRepos, getRepo), a relay (listHosts), a PLC directory
 * (GET /did:plc:...) and its own did:web host (/.well-known/did.json), on 127.0.0.1.
 */
export class TestPds {
  readonly repos = new Map<string, HostedRepo>()
  /** Keyed by DID (its getRepo) or by XRPC method name (every call of it). */
  readonly faults = new Map<string, Fault>()
  readonly didDocs = new Map<string, object>()
  readonly log: LoggedRequest[] = []
  /** What listHosts returns. */
  hosts: Array<{ hostname: string; accountCount?: number; status?: string }> = []
  /** Served at /.well-known/did.json. */
  webDidDoc: object | undefined
  pageSize = 2
  private timers = new Set<NodeJS.Timeout>()

  private constructor(
    private server: http.Server,
    readonly url: string,
    readonly host: string,
  ) {}

  static async start(): Promise<TestPds> {
    let pds!: TestPds
    const server = http.createServer((req, res) => void pds.handle(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    pds = new TestPds(server, `http://127.0.0.1:${port}`, `127.0.0.1:${port}`)
    return pds
  }

  /** did:web of this host (the port percent-encoded, as the did:web spec says). */
  get webDid(): string {
    return `did:web:${this.host.replace(':', '%3A')}`
  }

  put(built: BuiltRepo, extra: Partial<HostedRepo> = {}): void {
    this.repos.set(built.did, { car: built.car, rev: built.rev, ...extra })
  }

  requests(method: string): LoggedRequest[] {
    return this.log.filter((r) => r.method === method)
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url)
    const method = url.pathname.startsWith('/xrpc/') ? url.pathname.slice('/xrpc/'.length) : url.pathname
    const entry: LoggedRequest = { method, params: url.searchParams, at: Date.now(), status: 200 }
    this.log.push(entry)
    const send = (status: number, body: object | Uint8Array, headers: Record<string, string> = {}) => {
      entry.status = status
      const bytes = body instanceof Uint8Array ? body : Buffer.from(JSON.stringify(body))
      const type = body instanceof Uint8Array ? 'application/vnd.ipld.car' : 'application/json'
      res.writeHead(status, { 'content-type': type, 'content-length': String(bytes.byteLength), ...headers })
      res.end(bytes)
    }
    const did = url.searchParams.get('did') ?? ''
    const fault = this.takeFault(method === 'com.atproto.sync.getRepo' ? did : method)
    if (fault?.kind === 'slow') {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.timers.delete(t)
          resolve()
        }, fault.delayMs)
        this.timers.add(t)
      })
      if (res.destroyed) return
    }
    if (fault?.kind === 'status') return send(fault.status, fault.body ?? { error: 'TestFault' }, fault.headers)

    switch (method) {
      case 'com.atproto.sync.listHosts':
        return send(200, this.page(this.hosts, url, 'hosts'))
      case 'com.atproto.sync.listRepos': {
        const repos = [...this.repos].map(([d, r]) => ({
          did: d,
          head: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm',
          rev: r.rev,
          active: r.active ?? true,
          ...(r.status ? { status: r.status } : {}),
        }))
        return send(200, this.page(repos, url, 'repos'))
      }
      case 'com.atproto.sync.getRepo': {
        const repo = this.repos.get(did)
        if (!repo) return send(400, { error: 'RepoNotFound', message: `Could not find repo for DID: ${did}` })
        if (repo.active === false) {
          const error = repo.status === 'takendown' ? 'RepoTakendown' : 'RepoDeactivated'
          return send(400, { error, message: `Repo has been ${repo.status ?? 'deactivated'}` })
        }
        let car = repo.car
        if (fault?.kind === 'corrupt') {
          car = Buffer.from(car)
          car[car.length - 3] ^= 0xff // inside the last block: its hash no longer matches its CID
        }
        if (fault?.kind === 'chunked') {
          entry.status = 200
          res.writeHead(200, { 'content-type': 'application/vnd.ipld.car' }) // no length: chunked encoding
          for (let i = 0; i < car.length; i += 4096) res.write(car.subarray(i, i + 4096))
          res.end()
          return
        }
        return send(200, car)
      }
      case '/.well-known/did.json':
        return this.webDidDoc ? send(200, this.webDidDoc) : send(404, { error: 'NotFound' })
      default: {
        const doc = this.didDocs.get(decodeURIComponent(method.slice(1)))
        return doc ? send(200, doc) : send(404, { error: 'NotFound', message: `no route ${method}` })
      }
    }
  }

  /** Cursor pagination over a list: the cursor is the index of the next item. */
  private page<T>(items: T[], url: URL, name: string): object {
    const start = Number(url.searchParams.get('cursor') ?? 0)
    const limit = Math.min(this.pageSize, Number(url.searchParams.get('limit') ?? this.pageSize))
    const slice = items.slice(start, start + limit)
    const next = start + limit < items.length ? String(start + limit) : undefined
    return { [name]: slice, ...(next ? { cursor: next } : {}) }
  }

  private takeFault(key: string): Fault | undefined {
    const fault = this.faults.get(key)
    if (!fault) return undefined
    const left = (fault.times ?? Infinity) - 1
    if (left <= 0) this.faults.delete(key)
    else fault.times = left
    return fault
  }
}
