import { isValidDid } from '@atproto/syntax'
import { BackfillError } from './errors.js'
import { xrpcUrl, type HttpClient } from './http.js'

export interface ListedHost {
  /** Base URL (origin) of the host. */
  origin: string
  /** The relay's count of accounts on the host, when it says. */
  accountCount?: number
}

export interface ListedRepo {
  did: string
  rev?: string
  /** false with a status (deactivated, takendown, deleted...) means there is nothing to fetch. */
  active: boolean
  status?: string
}

/** Hosts the relay knows, minus those it reports banned or offline, biggest first. */
export async function listHosts(http: HttpClient, relay: string, hostUrl: (host: string) => string): Promise<ListedHost[]> {
  const hosts: ListedHost[] = []
  let cursor: string | undefined
  do {
    const page = await http.getJson<{ cursor?: string; hosts?: unknown[] }>(
      xrpcUrl(relay, 'com.atproto.sync.listHosts', { limit: '1000', cursor }),
    )
    if (!Array.isArray(page?.hosts)) throw new BackfillError(`listHosts on ${relay}: no hosts array`, 'fail')
    for (const h of page.hosts as Array<{ hostname?: unknown; accountCount?: unknown; status?: unknown }>) {
      if (typeof h?.hostname !== 'string' || h.status === 'banned' || h.status === 'offline') continue
      let origin: string
      try {
        origin = new URL(hostUrl(h.hostname)).origin
      } catch {
        continue
      }
      hosts.push({ origin, accountCount: typeof h.accountCount === 'number' ? h.accountCount : undefined })
    }
    cursor = nextCursor(cursor, page.cursor, page.hosts.length)
  } while (cursor)
  // Big hosts first: each gets only `perHost` requests at a time, so starting them late makes a long tail.
  return hosts.sort((a, b) => (b.accountCount ?? 0) - (a.accountCount ?? 0))
}

/** One page of a host's repos: the repos and the cursor of the next page (undefined at the end). */
export async function listReposPage(
  http: HttpClient,
  origin: string,
  cursor: string | undefined,
): Promise<{ repos: ListedRepo[]; cursor?: string }> {
  const page = await http.getJson<{ cursor?: string; repos?: unknown[] }>(
    xrpcUrl(origin, 'com.atproto.sync.listRepos', { limit: '1000', cursor }),
  )
  if (!Array.isArray(page?.repos)) throw new BackfillError(`listRepos on ${origin}: no repos array`, 'fail')
  const repos: ListedRepo[] = []
  for (const r of page.repos as Array<{ did?: unknown; rev?: unknown; active?: unknown; status?: unknown }>) {
    if (typeof r?.did !== 'string' || !isValidDid(r.did)) continue
    repos.push({
      did: r.did,
      rev: typeof r.rev === 'string' ? r.rev : undefined,
      active: r.active !== false,
      status: typeof r.status === 'string' ? r.status : undefined,
    })
  }
  return { repos, cursor: nextCursor(cursor, page.cursor, page.repos.length) }
}

/** A page's cursor, or undefined when listing is over (no cursor, an empty page, or a cursor that does not move). */
function nextCursor(previous: string | undefined, next: unknown, count: number): string | undefined {
  if (typeof next !== 'string' || next === '' || count === 0 || next === previous) return undefined
  return next
}
