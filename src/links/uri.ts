// Link recognition and normalization, following Constellation's rules:
// an at-uri, else a DID, else any absolute RFC 3986 URI.
// Hand-written scanners (no WHATWG URL, no backtracking regex): this runs on
// every string of every ingested record, and most strings are not links.
import { isValidDid } from '@atproto/syntax'

/** Longest string considered (atproto caps `uri` and `at-uri` strings at 8 KB). */
export const MAX_LINK_LENGTH = 8192

// Character classes of RFC 3986, as bit flags over ASCII.
const SCHEME = 1 // ALPHA DIGIT + - .
const UNRESERVED = 2 // ALPHA DIGIT - . _ ~
const PCHAR = 4 // unreserved sub-delims : @
const QUERY = 8 // pchar / ?   (also fragment)
const USERINFO = 16 // unreserved sub-delims :
const REGNAME = 32 // unreserved sub-delims
const URIC = 64 // any character allowed somewhere in a URI (but %)
const HEX = 128

const CLASS = new Uint8Array(128)
{
  const add = (chars: string, flags: number) => {
    for (let i = 0; i < chars.length; i++) CLASS[chars.charCodeAt(i)] |= flags
  }
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
  const digit = '0123456789'
  const subDelims = "!$&'()*+,;="
  const unreserved = alpha + digit + '-._~'
  add(alpha + digit + '+-.', SCHEME)
  add(unreserved, UNRESERVED | PCHAR | QUERY | USERINFO | REGNAME | URIC)
  add(subDelims, PCHAR | QUERY | USERINFO | REGNAME | URIC)
  add(':', PCHAR | QUERY | USERINFO | URIC)
  add('@', PCHAR | QUERY | URIC)
  add('/?', QUERY | URIC)
  add('#[]', URIC)
  add('0123456789abcdefABCDEF', HEX)
}

const PERCENT = 37 // %
const SLASH = 47 // /
const QMARK = 63 // ?
const HASH = 35 // #
const COLON = 58 // :

function isHexAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i) // NaN past the end: fails the test below
  return c < 128 && (CLASS[c] & HEX) !== 0
}

/**
 * Scan s[from, to) for characters of class `flags` and valid %XX escapes.
 * Returns -1 if every character fits, else the index of the first that does not.
 */
function scan(s: string, from: number, to: number, flags: number): number {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c === PERCENT) {
      if (!isHexAt(s, i + 1) || !isHexAt(s, i + 2) || i + 2 >= to) return i
      i += 2
    } else if (c >= 128 || (CLASS[c] & flags) === 0) {
      return i
    }
  }
  return -1
}

function hexValue(c: number): number {
  return c <= 57 ? c - 48 : (c | 32) - 87
}

/**
 * RFC 3986 6.2.2.1-2: decode escapes of unreserved characters, uppercase the
 * hex of the others; with `lower`, also lowercase the rest (scheme, host).
 * Escapes must already be valid.
 */
function normalizeEscapes(s: string, lower: boolean): string {
  let out = ''
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === PERCENT) {
      const code = hexValue(s.charCodeAt(i + 1)) * 16 + hexValue(s.charCodeAt(i + 2))
      out += lower ? s.slice(start, i).toLowerCase() : s.slice(start, i)
      if (CLASS[code] & UNRESERVED) {
        const ch = String.fromCharCode(code)
        out += lower ? ch.toLowerCase() : ch
      } else {
        out += s.slice(i, i + 3).toUpperCase()
      }
      i += 2
      start = i + 1
    }
  }
  if (start === 0) return lower ? s.toLowerCase() : s
  return out + (lower ? s.slice(start).toLowerCase() : s.slice(start))
}

/** RFC 3986 5.2.4 remove_dot_segments, for a path starting with "/". */
export function removeDotSegments(path: string): string {
  if (path.indexOf('/.') === -1) return path
  const segs = path.split('/')
  const out: string[] = []
  const last = segs.length - 1
  for (let k = 1; k <= last; k++) {
    const seg = segs[k]!
    if (seg === '.') {
      if (k === last) out.push('')
    } else if (seg === '..') {
      out.pop()
      if (k === last) out.push('')
    } else {
      out.push(seg)
    }
  }
  return '/' + out.join('/')
}

function trimTrailingSlashes(s: string): string {
  let end = s.length
  while (end > 0 && s.charCodeAt(end - 1) === SLASH) end--
  return end === s.length ? s : s.slice(0, end)
}

/**
 * Index of the ":" ending a leading RFC 3986 scheme, or -1. This is the fast
 * reject for prose: it stops at the first character that is not a scheme char.
 */
export function schemeEnd(s: string): number {
  const c0 = s.charCodeAt(0)
  if (!((c0 >= 65 && c0 <= 90) || (c0 >= 97 && c0 <= 122))) return -1
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === COLON) return i
    if (c >= 128 || (CLASS[c] & SCHEME) === 0) return -1
  }
  return -1
}

/** End of the component starting at `from`: the first of `stops` (char codes), or s.length. */
function componentEnd(s: string, from: number, stop1: number, stop2: number, stop3: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === stop1 || c === stop2 || c === stop3) return i
  }
  return s.length
}

/**
 * Lenient at-uri (as Constellation): "at://" (any case), a non-empty authority,
 * then an optional path of RFC 3986 path chars, query and fragment (any URI
 * chars). Normalized: scheme lowercased, non-DID authority lowercased,
 * escapes normalized, dot segments removed, trailing "/" trimmed.
 */
export function parseAtUri(s: string): string | null {
  const n = s.length
  if (n <= 5 || n > MAX_LINK_LENGTH) return null
  if (s.charCodeAt(2) !== COLON || s.charCodeAt(3) !== SLASH || s.charCodeAt(4) !== SLASH) return null
  if ((s.charCodeAt(0) | 32) !== 97 || (s.charCodeAt(1) | 32) !== 116) return null

  const authEnd = componentEnd(s, 5, SLASH, QMARK, HASH)
  if (authEnd === 5 || scan(s, 5, authEnd, URIC) !== -1) return null
  let pathEnd = authEnd
  if (pathEnd < n && s.charCodeAt(pathEnd) === SLASH) {
    pathEnd = componentEnd(s, authEnd, QMARK, HASH, HASH)
    if (scan(s, authEnd, pathEnd, PCHAR | QUERY) !== -1) return null // pchar or "/" (no "?" here)
  }
  // Query and fragment: any URI character (the atproto fragment may hold "#").
  if (scan(s, pathEnd, n, URIC) !== -1) return null

  const hasEscape = s.indexOf('%') !== -1
  let authority = s.slice(5, authEnd)
  const isDid = authority.startsWith('did:') // DIDs are case-sensitive, handles are not
  if (hasEscape || !isDid) authority = normalizeEscapes(authority, !isDid)
  let path = ''
  if (pathEnd > authEnd) {
    let raw = s.slice(authEnd + 1, pathEnd)
    if (hasEscape) raw = normalizeEscapes(raw, false)
    // A leading "/" ("at://a//x") gives "/x", as in Constellation's path resolution.
    if (raw !== '') path = trimTrailingSlashes(removeDotSegments(raw.charCodeAt(0) === SLASH ? raw : '/' + raw))
  }
  let rest = s.slice(pathEnd)
  if (hasEscape) rest = normalizeEscapes(rest, false)
  const out = 'at://' + authority + path + rest
  return out === s ? s : out
}

/** atproto DID syntax: "did:" + lowercase method + ":" + id (not ending in ":" or "%"), at most 2 KB. */
export function parseDid(s: string): string | null {
  return isValidDid(s) ? s : null
}

/** IPv6address of RFC 3986 3.2.2 (the text between the brackets). */
function isIPv6(s: string): boolean {
  const dc = s.indexOf('::')
  if (dc === -1) return countGroups(s) === 8
  if (s.indexOf('::', dc + 1) !== -1) return false // one "::" at most (also rejects ":::")
  const head = countGroups(s.slice(0, dc))
  const tail = countGroups(s.slice(dc + 2))
  return head >= 0 && tail >= 0 && head + tail <= 7
}

/** Number of 16-bit groups in "h16:h16:...[:IPv4]", or -1 if malformed. */
function countGroups(s: string): number {
  if (s === '') return 0
  const parts = s.split(':')
  let count = 0
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k]!
    if (k === parts.length - 1 && p.indexOf('.') !== -1) {
      if (!isIPv4(p)) return -1
      count += 2
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(p)) {
      count++
    } else {
      return -1
    }
  }
  return count
}

function isIPv4(s: string): boolean {
  const parts = s.split('.')
  if (parts.length !== 4) return false
  for (const p of parts) {
    if (!/^(?:[0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$/.test(p)) return false
  }
  return true
}

/** IP-literal of RFC 3986 3.2.2, brackets included. */
function isIpLiteral(s: string): boolean {
  const inner = s.slice(1, -1)
  if (inner.charCodeAt(0) === 118 || inner.charCodeAt(0) === 86) {
    // IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
    return /^[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/.test(inner)
  }
  return isIPv6(inner)
}

/**
 * Absolute RFC 3986 URI (scheme ":" hier-part [ "?" query ] [ "#" fragment ]),
 * `colon` being the index of the scheme's ":". Normalized: scheme and host
 * lowercased, escapes normalized, empty port dropped, dot segments removed
 * from absolute paths.
 */
export function parseUri(s: string, colon: number = schemeEnd(s)): string | null {
  const n = s.length
  if (colon <= 0 || n > MAX_LINK_LENGTH) return null
  let i = colon + 1
  let authority: string | null = null
  if (s.charCodeAt(i) === SLASH && s.charCodeAt(i + 1) === SLASH) {
    const end = componentEnd(s, i + 2, SLASH, QMARK, HASH)
    authority = normalizeAuthority(s.slice(i + 2, end))
    if (authority === null) return null
    i = end
  }
  const pathEnd = componentEnd(s, i, QMARK, HASH, HASH)
  if (scan(s, i, pathEnd, PCHAR | QUERY) !== -1) return null // pchar or "/"
  let queryEnd = pathEnd
  if (pathEnd < n && s.charCodeAt(pathEnd) === QMARK) {
    queryEnd = componentEnd(s, pathEnd + 1, HASH, HASH, HASH)
    if (scan(s, pathEnd + 1, queryEnd, QUERY) !== -1) return null
  }
  if (queryEnd < n && scan(s, queryEnd + 1, n, QUERY) !== -1) return null // fragment

  const hasEscape = s.indexOf('%', i) !== -1
  let path = s.slice(i, pathEnd)
  if (hasEscape) path = normalizeEscapes(path, false)
  // rootless paths ("foo:a/../b") keep their dot segments, as in fluent-uri
  if (path.charCodeAt(0) === SLASH) path = removeDotSegments(path)
  let rest = s.slice(pathEnd)
  if (hasEscape) rest = normalizeEscapes(rest, false)
  const out = s.slice(0, colon).toLowerCase() + ':' + (authority === null ? '' : '//' + authority) + path + rest
  return out === s ? s : out
}

/** Validate and normalize an RFC 3986 authority; null if invalid. */
function normalizeAuthority(a: string): string | null {
  let userinfo = ''
  let hostStart = 0
  const at = a.indexOf('@')
  if (at !== -1) {
    if (scan(a, 0, at, USERINFO) !== -1) return null
    userinfo = a.slice(0, at + 1)
    if (userinfo.indexOf('%') !== -1) userinfo = normalizeEscapes(userinfo, false)
    hostStart = at + 1
  }
  let hostEnd: number
  let host: string
  if (a.charCodeAt(hostStart) === 91) {
    // "[" IP-literal "]"
    hostEnd = a.indexOf(']', hostStart) + 1
    if (hostEnd === 0) return null
    host = a.slice(hostStart, hostEnd)
    if (!isIpLiteral(host)) return null
    host = host.toLowerCase()
  } else {
    hostEnd = a.indexOf(':', hostStart)
    if (hostEnd === -1) hostEnd = a.length
    if (scan(a, hostStart, hostEnd, REGNAME) !== -1) return null
    host = normalizeEscapes(a.slice(hostStart, hostEnd), true)
  }
  let port = ''
  if (hostEnd < a.length) {
    if (a.charCodeAt(hostEnd) !== COLON) return null
    port = a.slice(hostEnd + 1)
    if (!/^[0-9]*$/.test(port)) return null
  }
  // An empty port ("host:") is the same as no port.
  return userinfo + host + (port === '' ? '' : ':' + port)
}

/**
 * The normalized link form of a string, or null if it is not a link.
 * Scheme `at` must be an at-uri and scheme `did` a DID: a malformed one is
 * not indexed as a generic URI (Constellation would, as e.g. "did:PLC:x").
 */
export function parseLink(s: string): string | null {
  if (s.length > MAX_LINK_LENGTH) return null
  const colon = schemeEnd(s)
  if (colon === -1) return null
  if (colon === 2 && (s.charCodeAt(0) | 32) === 97 && (s.charCodeAt(1) | 32) === 116) {
    return parseAtUri(s)
  }
  if (colon === 3 && (s.charCodeAt(0) | 32) === 100 && (s.charCodeAt(1) | 32) === 105 && (s.charCodeAt(2) | 32) === 100) {
    return parseDid(s)
  }
  return parseUri(s, colon)
}
