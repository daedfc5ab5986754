// Every Constellation endpoint, defined once: its parameters (validated by the lexicon of the
// matching blue.microcosm.links.* method), how it answers, and how the explorer shows it.
// The XRPC server answers the XRPC routes' JSON; the REST routes and every HTML view go through
// `answer`, so a query has one validation and one code path whichever route asks it.
import { l } from '@atproto/lex'
import { isValidNsid } from '@atproto/syntax'
import { InvalidRequestError, type Server } from '@atproto/xrpc-server'
import { parseSource } from '../../links/source.js'
import { blue } from '../../lexicons/index.js'
import type { ApiContext } from '../context.js'
import { invalidParam, parseError } from '../errors.js'
import { manyToManyQuery } from '../methods/getManyToMany.js'
import { requireSource, requireSubject } from '../params.js'
import { addQuery } from '../query.js'
import * as q from './queries.js'

/** How the explorer renders an endpoint's answer. */
export type ViewKind = 'records' | 'dids' | 'total' | 'sources' | 'sourceTotals' | 'otherCounts' | 'items'

/** A query parameter as the explorer's form shows it. */
export interface Field {
  name: string
  label: string
  example?: string
  required?: boolean
  repeatable?: boolean
  type?: 'number' | 'checkbox'
}

export interface Endpoint {
  path: string
  title: string
  summary: string
  fields: readonly Field[]
  view: ViewKind
  deprecated?: boolean
  /** JSON of this route is answered by the XRPC server (registered with `register`). */
  xrpc: boolean
  /** Answers a query string; throws an XRPC error that names a bad parameter. */
  answer(ctx: ApiContext, query: URLSearchParams): unknown
}

// --- form fields, shared by the routes that take them ---
const POST = 'at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3lgu4lg6j2k2v'
const LIST = 'at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.graph.list/3k4diugcw3k2p'
const f = {
  subject: { name: 'subject', label: 'Subject (at-uri, DID or URI)', example: POST, required: true },
  source: { name: 'source', label: 'Source (collection:path)', example: 'app.bsky.feed.like:subject.uri', required: true },
  listSubject: { name: 'subject', label: 'Subject (at-uri, DID or URI)', example: LIST, required: true },
  listSource: { name: 'source', label: 'Source (collection:path)', example: 'app.bsky.graph.listitem:list', required: true },
  pathToOther: { name: 'pathToOther', label: 'Path to the other link', example: 'subject', required: true },
  did: { name: 'did', label: 'Only from these accounts (DIDs)', repeatable: true },
  linkDid: { name: 'linkDid', label: 'Only from these accounts (DIDs)', repeatable: true },
  otherSubject: { name: 'otherSubject', label: 'Only these other subjects', repeatable: true },
  limit: { name: 'limit', label: 'Page size (1 to 1000, default 100)', type: 'number' },
  reverse: { name: 'reverse', label: 'Oldest first', type: 'checkbox' },
  target: { name: 'target', label: 'Target (at-uri, DID or URI)', example: POST, required: true },
  collection: { name: 'collection', label: 'Collection', example: 'app.bsky.feed.like', required: true },
  path: { name: 'path', label: 'Path', example: '.subject.uri', required: true },
} satisfies Record<string, Field>

type Def = Omit<Endpoint, 'answer' | 'xrpc' | 'path'>

/** Lexicon parameter validation, exactly as the XRPC server does it (errors name the parameter). */
function parseParams<M extends l.Query>(schema: M, query: URLSearchParams): l.InferMethodParams<M> {
  try {
    return schema.parameters.fromURLSearchParams(query) as l.InferMethodParams<M>
  } catch (cause) {
    throw parseError(new InvalidRequestError(String(cause), undefined, { cause }))
  }
}

interface Method<M extends l.Query> extends Endpoint {
  schema: M
  run(ctx: ApiContext, params: l.InferMethodParams<M>): l.InferMethodOutputBody<M>
}

function method<M extends l.Query>(
  ns: { main: M },
  def: Def & { run(ctx: ApiContext, params: l.InferMethodParams<M>): l.InferMethodOutputBody<M> },
): Method<M> {
  const schema = ns.main
  return { ...def, schema, path: `/xrpc/${schema.nsid}`, xrpc: true, answer: (ctx, query) => def.run(ctx, parseParams(schema, query)) }
}

/**
 * A REST route answered like an XRPC method: its parameters are renamed to the method's and
 * validated by its lexicon; error messages use the REST names again.
 */
function rest<M extends l.Query>(
  base: Method<M>,
  def: Def & {
    path: string
    rename: Record<string, string>
    translate(query: URLSearchParams): URLSearchParams
    run(ctx: ApiContext, params: l.InferMethodParams<M>): unknown
  },
): Endpoint {
  return {
    ...def,
    xrpc: false,
    answer(ctx, query) {
      try {
        return def.run(ctx, parseParams(base.schema, def.translate(query)))
      } catch (err) {
        if (!(err instanceof InvalidRequestError) || !err.errorMessage) throw err
        let message = err.errorMessage
        for (const [from, to] of Object.entries(def.rename)) message = message.replaceAll(`"${from}"`, `"${to}"`)
        throw new InvalidRequestError(message, err.customErrorName, { cause: err })
      }
    },
  }
}

function required(query: URLSearchParams, name: string): string {
  const values = query.getAll(name)
  if (values.length === 0) throw invalidParam(name, 'required')
  if (values.length > 1) throw invalidParam(name, 'given more than once')
  return values[0]
}

/** target, collection and path as subject and source; `also` names the other parameters kept. */
function legacyParams(query: URLSearchParams, also: string[]): URLSearchParams {
  const collection = required(query, 'collection')
  const path = required(query, 'path')
  if (!isValidNsid(collection)) throw invalidParam('collection', 'expected an NSID such as app.bsky.feed.like')
  if (!parseSource(`${collection}:${path}`)) throw invalidParam('path', 'expected a path such as .subject.uri')
  const out = new URLSearchParams({ subject: required(query, 'target'), source: `${collection}:${path}` })
  for (const name of also) for (const v of query.getAll(name)) out.append(name, v)
  return out
}

const keyOf = (ctx: ApiContext, p: { subject: string; source: string }) =>
  ctx.reader.key(requireSubject('subject', p.subject), requireSource('source', p.source))

// --- XRPC methods ---
const getBacklinks = method(blue.microcosm.links.getBacklinks, {
  title: 'Backlinks',
  summary: 'Records linking to a subject from one source, newest first.',
  fields: [f.subject, f.source, f.did, f.limit, f.reverse],
  view: 'records',
  run: (ctx, p) => q.backlinks(ctx, keyOf(ctx, p), { dids: q.cleanList(p.did), limit: p.limit, cursor: p.cursor, reverse: p.reverse }),
})

const getBacklinksCount = method(blue.microcosm.links.getBacklinksCount, {
  title: 'Backlink count',
  summary: 'How many records link to a subject from one source.',
  fields: [f.subject, f.source],
  view: 'total',
  run: (ctx, p) => q.linkCount(ctx, keyOf(ctx, p)),
})

const getBacklinkDids = method(blue.microcosm.links.getBacklinkDids, {
  title: 'Linking accounts',
  summary: 'Distinct accounts linking to a subject from one source, most recent first.',
  fields: [f.subject, f.source, f.limit],
  view: 'dids',
  run: (ctx, p) => q.backlinkDids(ctx, keyOf(ctx, p), { limit: p.limit, cursor: p.cursor }),
})

const getManyToManyCounts = method(blue.microcosm.links.getManyToManyCounts, {
  title: 'Many-to-many counts',
  summary:
    'Records linking to a subject, grouped by the other subject each links to at pathToOther (e.g. the members of a list), with record and account counts.',
  fields: [f.listSubject, f.listSource, f.pathToOther, f.did, f.otherSubject, f.limit],
  view: 'otherCounts',
  run: (ctx, p) =>
    q.manyToManyCounts(
      ctx,
      manyToManyQuery(ctx, { ...p, dids: q.cleanList(p.did), otherSubjects: q.cleanList(p.otherSubject) }),
      { limit: p.limit, cursor: p.cursor },
    ),
})

const getManyToMany = method(blue.microcosm.links.getManyToMany, {
  title: 'Many-to-many records',
  summary: 'Records linking to a subject, each with the other subject it links to at pathToOther, newest first.',
  fields: [f.listSubject, f.listSource, f.pathToOther, f.linkDid, f.otherSubject, f.limit],
  view: 'items',
  run: (ctx, p) =>
    q.manyToManyItems(
      ctx,
      manyToManyQuery(ctx, { ...p, dids: q.cleanList(p.linkDid), otherSubjects: q.cleanList(p.otherSubject) }),
      { limit: p.limit, cursor: p.cursor },
    ),
})

export const METHODS = [getBacklinks, getBacklinksCount, getBacklinkDids, getManyToManyCounts, getManyToMany]

/** Registers the blue.microcosm.links.* methods on the XRPC server. */
export function registerMethods(server: Server, ctx: ApiContext): void {
  for (const m of METHODS) {
    // Each entry pairs a schema with its own handler; the union loses that link for the compiler.
    const run = m.run as (ctx: ApiContext, params: unknown) => never
    addQuery(server, m.schema as l.Query, (params) => run(ctx, params))
  }
}

// --- REST routes (Constellation's first API, still used) ---
const LEGACY_NAMES = { subject: 'target', source: 'collection' }
const legacyKey = (ctx: ApiContext, p: { subject: string; source: string }) =>
  ctx.reader.key(requireSubject('target', p.subject), requireSource('collection', p.source))

export const REST: Endpoint[] = [
  rest(getBacklinks, {
    path: '/links',
    title: 'Links',
    summary: 'Records linking to a target from one collection and path (the REST form of getBacklinks).',
    fields: [f.target, f.collection, f.path, f.did, f.limit, f.reverse],
    view: 'records',
    deprecated: true,
    rename: { ...LEGACY_NAMES, did: 'did/from_dids' },
    translate(query) {
      const out = legacyParams(query, ['did', 'limit', 'cursor', 'reverse'])
      const fromDids = query.get('from_dids')
      if (fromDids !== null) {
        if (out.has('did')) throw invalidParam('from_dids', 'not allowed together with did')
        for (const d of fromDids.split(',')) out.append('did', d)
      }
      return out
    },
    run(ctx, p) {
      const page = q.backlinks(ctx, legacyKey(ctx, p), { dids: q.cleanList(p.did), limit: p.limit, cursor: p.cursor, reverse: p.reverse })
      return { total: page.total, linking_records: page.records, cursor: page.cursor }
    },
  }),
  rest(getBacklinksCount, {
    path: '/links/count',
    title: 'Link count',
    summary: 'How many records link to a target from one collection and path.',
    fields: [f.target, f.collection, f.path],
    view: 'total',
    rename: LEGACY_NAMES,
    translate: (query) => legacyParams(query, []),
    run: (ctx, p) => q.linkCount(ctx, legacyKey(ctx, p)),
  }),
  rest(getBacklinkDids, {
    path: '/links/distinct-dids',
    title: 'Distinct linking accounts',
    summary: 'Distinct accounts linking to a target from one collection and path, most recent first.',
    fields: [f.target, f.collection, f.path, f.limit],
    view: 'dids',
    deprecated: true,
    rename: LEGACY_NAMES,
    translate: (query) => legacyParams(query, ['limit', 'cursor']),
    run: (ctx, p) => q.backlinkDids(ctx, legacyKey(ctx, p), { limit: p.limit, cursor: p.cursor }),
  }),
  rest(getBacklinksCount, {
    path: '/links/count/distinct-dids',
    title: 'Distinct account count',
    summary: 'How many distinct accounts link to a target from one collection and path.',
    fields: [f.target, f.collection, f.path],
    view: 'total',
    rename: LEGACY_NAMES,
    translate: (query) => legacyParams(query, []),
    run: (ctx, p) => q.distinctDidCount(ctx, legacyKey(ctx, p)),
  }),
  {
    path: '/links/all',
    title: 'All links',
    summary: 'Every collection and path linking to a target, with record and distinct account counts.',
    fields: [f.target],
    view: 'sources',
    xrpc: false,
    answer: (ctx, query) => q.allLinks(ctx, required(query, 'target'), (c) => ({ records: c.records, distinct_dids: c.dids })),
  },
  {
    path: '/links/all/count',
    title: 'All link counts',
    summary: 'Every collection and path linking to a target, with record counts.',
    fields: [f.target],
    view: 'sourceTotals',
    deprecated: true,
    xrpc: false,
    answer: (ctx, query) => q.allLinks(ctx, required(query, 'target'), (c) => c.records),
  },
]

export const ENDPOINTS: Endpoint[] = [...METHODS, ...REST]
