// Builders for Jetstream v1 events used across tests.
const S32 = '234567abcdefghijklmnopqrstuvwxyz'

/** A valid TID for a microsecond timestamp (clock id 0). */
export function tid(us: number): string {
  let n = BigInt(us) << 10n
  let out = ''
  for (let i = 0; i < 13; i++) {
    out = S32[Number(n & 31n)] + out
    n >>= 5n
  }
  return out
}

export function did(name: string): string {
  return `did:plc:${name.padEnd(24, 'a').slice(0, 24)}`
}

export function postUri(author: string, us: number): string {
  return `at://${author}/app.bsky.feed.post/${tid(us)}`
}

let clock = 1_780_000_000_000_000

/** Strictly increasing time_us values, like one Jetstream instance. */
export function nextTime(): number {
  clock += 1000
  return clock
}

export interface CommitOpts {
  rev?: string
  time?: number
}

export function create(author: string, collection: string, rkey: string, record: object, o: CommitOpts = {}) {
  const time = o.time ?? nextTime()
  return {
    did: author,
    time_us: time,
    kind: 'commit',
    commit: { rev: o.rev ?? tid(time), operation: 'create', collection, rkey, record: { $type: collection, ...record } },
  }
}

export function update(author: string, collection: string, rkey: string, record: object, o: CommitOpts = {}) {
  const e = create(author, collection, rkey, record, o)
  e.commit.operation = 'update'
  return e
}

export function del(author: string, collection: string, rkey: string, o: CommitOpts = {}) {
  const time = o.time ?? nextTime()
  return { did: author, time_us: time, kind: 'commit', commit: { rev: o.rev ?? tid(time), operation: 'delete', collection, rkey } }
}

export function like(author: string, subject: string, o: CommitOpts = {}) {
  const time = o.time ?? nextTime()
  return create(author, 'app.bsky.feed.like', tid(time), { subject: { uri: subject, cid: 'bafyreia' }, createdAt: new Date(time / 1000).toISOString() }, { ...o, time })
}

export function follow(author: string, subject: string, o: CommitOpts = {}) {
  const time = o.time ?? nextTime()
  return create(author, 'app.bsky.graph.follow', tid(time), { subject, createdAt: new Date(time / 1000).toISOString() }, { ...o, time })
}

export function account(author: string, active: boolean, status?: string) {
  return { did: author, time_us: nextTime(), kind: 'account', account: { did: author, active, ...(status ? { status } : {}), seq: 1, time: new Date().toISOString() } }
}

export function lines(events: object[]): string[] {
  return events.map((e) => JSON.stringify(e))
}
