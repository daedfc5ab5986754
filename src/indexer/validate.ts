import { isValidDid, isValidNsid, isValidRecordKey } from '@atproto/syntax'
import type { JetstreamEvent } from './events.js'

export type SkipReason =
  | 'bad-json'
  | 'not-object'
  | 'bad-did'
  | 'bad-time'
  | 'unknown-kind'
  | 'bad-commit'
  | 'bad-collection'
  | 'bad-rkey'
  | 'bad-rev'
  | 'bad-record'
  | 'bad-account'

export type Checked = { ok: true; event: JetstreamEvent } | { ok: false; reason: SkipReason; timeUs?: number }

// Revs are TIDs; any 13-char base32-sortable string still orders correctly, so accept those too.
const REV = /^[234567a-z]{13}$/

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Checks the shape of a Jetstream v1 event; anything malformed gets a reason and is skipped. */
export function checkEvent(value: unknown): Checked {
  if (!isObject(value)) return { ok: false, reason: 'not-object' }
  const timeUs = value.time_us
  if (typeof timeUs !== 'number' || !Number.isSafeInteger(timeUs) || timeUs <= 0) return { ok: false, reason: 'bad-time' }
  const fail = (reason: SkipReason): Checked => ({ ok: false, reason, timeUs })
  if (typeof value.did !== 'string' || !isValidDid(value.did)) return fail('bad-did')
  switch (value.kind) {
    case 'commit': {
      const c = value.commit
      if (!isObject(c)) return fail('bad-commit')
      if (c.operation !== 'create' && c.operation !== 'update' && c.operation !== 'delete') return fail('bad-commit')
      if (typeof c.rev !== 'string' || !REV.test(c.rev)) return fail('bad-rev')
      if (typeof c.collection !== 'string' || !isValidNsid(c.collection)) return fail('bad-collection')
      if (typeof c.rkey !== 'string' || !isValidRecordKey(c.rkey)) return fail('bad-rkey')
      if (c.operation !== 'delete' && !isObject(c.record)) return fail('bad-record')
      break
    }
    case 'account': {
      const a = value.account
      if (!isObject(a) || typeof a.active !== 'boolean') return fail('bad-account')
      if (a.status !== undefined && typeof a.status !== 'string') return fail('bad-account')
      break
    }
    case 'identity':
      break
    default:
      return fail('unknown-kind')
  }
  return { ok: true, event: value as unknown as JetstreamEvent }
}
