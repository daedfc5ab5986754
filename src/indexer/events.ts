// Jetstream v1 wire events (see README "Data model"). v2 servers add a top-level `cursor`, ignored.
export interface CommitEvent {
  did: string
  time_us: number
  kind: 'commit'
  commit: {
    rev: string
    operation: 'create' | 'update' | 'delete'
    collection: string
    rkey: string
    record?: unknown
    cid?: string
  }
}

export interface AccountEvent {
  did: string
  time_us: number
  kind: 'account'
  account: { did: string; active: boolean; status?: string; seq?: number; time?: string }
}

export interface IdentityEvent {
  did: string
  time_us: number
  kind: 'identity'
  identity: { did: string; handle?: string; seq?: number; time?: string }
}

export type JetstreamEvent = CommitEvent | AccountEvent | IdentityEvent
