// Where a person can look at a record or subject. bsky.app shows posts, lists, feeds and starter
// packs; any other record is shown by its at-uri, with a link to its author's profile.
const BSKY = 'https://bsky.app'

/** DIDs and record keys are used in URL paths as they are when they only hold safe characters. */
function segment(s: string): string {
  return /^[A-Za-z0-9._:~-]+$/.test(s) ? s : encodeURIComponent(s)
}

export function profileHref(did: string): string {
  return `${BSKY}/profile/${segment(did)}`
}

const RECORD_PAGES: Record<string, (did: string, rkey: string) => string> = {
  'app.bsky.feed.post': (did, rkey) => `${BSKY}/profile/${did}/post/${rkey}`,
  'app.bsky.graph.list': (did, rkey) => `${BSKY}/profile/${did}/lists/${rkey}`,
  'app.bsky.feed.generator': (did, rkey) => `${BSKY}/profile/${did}/feed/${rkey}`,
  'app.bsky.graph.starterpack': (did, rkey) => `${BSKY}/starter-pack/${did}/${rkey}`,
}

export function recordHref(did: string, collection: string, rkey: string): string | undefined {
  return RECORD_PAGES[collection]?.(segment(did), segment(rkey))
}

export function atUri(did: string, collection: string, rkey: string): string {
  return `at://${did}/${collection}/${rkey}`
}

/** A page for a subject string: a record, a profile, or the URL itself when it is http(s). */
export function subjectHref(subject: string): string | undefined {
  const at = /^at:\/\/(did:[^/]+)(?:\/([^/]+)\/([^/?#]+))?$/.exec(subject)
  if (at) return at[2] ? recordHref(at[1], at[2], at[3]) : profileHref(at[1])
  if (subject.startsWith('did:')) return profileHref(subject)
  // Only http(s) URLs become links: never javascript: or data: from a subject string.
  return /^https?:\/\/[^\s]+$/i.test(subject) ? subject : undefined
}
