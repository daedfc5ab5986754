// Pages of the explorer: the home page (what this is, live stats, a form per query), result pages
// (the form again, a table, the next page, the raw JSON) and error pages.
import type { XRPCError } from '@atproto/xrpc-server'
import type { ApiContext } from '../context.js'
import { ENDPOINTS, type Endpoint, type Field } from '../constellation/endpoints.js'
import { html, type Html } from './html.js'
import { number, renderResult } from './views.js'

function layout(title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Backlinks</title>
<link rel="stylesheet" href="/explorer/style.css">
<link rel="icon" href="/explorer/icon.svg" type="image/svg+xml">
<script src="/explorer/live.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><a href="/" class="home">Backlinks</a> <span>a global backlink index for the AT Protocol</span></header>
<main id="main">
${body}
</main>
<footer><p>JSON for programs: the same URLs without <code>Accept: text/html</code>. <a href="/robots.txt">robots.txt</a></p></footer>
</body>
</html>
`
}

const slug = (path: string) => path.replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-|-$/g, '')

function input(id: string, field: Field, value: string | undefined, label: string): Html {
  const attrs = html` id="${id}" name="${field.name}"${field.example ? html` placeholder="${field.example}"` : ''}`
  if (field.type === 'number') {
    return html`<label for="${id}">${label}</label> <input type="number" min="1" max="1000"${attrs} value="${value ?? ''}">`
  }
  return html`<label for="${id}">${label}</label> <input type="text"${attrs}${field.required ? html` required` : ''} value="${value ?? ''}">`
}

/** A GET form for an endpoint, filled with the values of `query` (not its cursor: a new query starts over). */
function form(ep: Endpoint, query?: URLSearchParams): Html {
  const prefix = `f-${slug(ep.path)}`
  const rows = ep.fields.map((field) => {
    const id = `${prefix}-${field.name}`
    if (field.type === 'checkbox') {
      const checked = query?.get(field.name) === 'true'
      return html`<p class="check"><input type="checkbox" id="${id}" name="${field.name}" value="true"${checked ? html` checked` : ''}> <label for="${id}">${field.label}</label></p>`
    }
    if (field.repeatable) {
      // One input per value given, plus an empty one to add another; empty values are ignored.
      const values = [...(query?.getAll(field.name).filter((v) => v !== '') ?? []), '']
      return html`<fieldset><legend>${field.label}</legend>${values.map(
        (v, i) => html`<p>${input(`${id}-${i}`, { ...field, example: undefined }, v, `${field.label}, ${i + 1}`)}</p>`,
      )}</fieldset>`
    }
    return html`<p>${input(id, field, query?.get(field.name) ?? undefined, field.label)}</p>`
  })
  return html`<form action="${ep.path}" method="get" class="query">
${rows}
<p><button type="submit">Run query</button></p>
</form>`
}

function endpointHeading(ep: Endpoint, level: 'h1' | 'h3', id?: string): Html {
  const code = html`<code>GET ${ep.path}</code>${ep.deprecated ? html` <span class="badge">legacy</span>` : ''}`
  return level === 'h1'
    ? html`<h1>${ep.title}</h1><p class="route">${code}</p>`
    : html`<h3 id="${id}">${ep.title}</h3><p class="route">${code}</p>`
}

function duration(seconds: number): string {
  if (seconds < 120) return `${Math.max(0, Math.round(seconds))} s`
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`
  return `${Math.round(seconds / 86400)} days`
}

function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let i = 0
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000
    i++
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
}

/** The live numbers: a fragment the home page embeds and live.js refreshes. */
export function statsFragment(ctx: ApiContext): Html {
  const s = ctx.reader.stats()
  const rate = ctx.report().ingest?.eventsPerSecond
  const cursor = s.cursor === undefined ? undefined : new Date(s.cursor / 1000)
  const rows: Array<[string, string | Html]> = [
    ['Links', number.format(s.links)],
    ['Linking records', number.format(s.records)],
    ['Link targets', number.format(s.targets)],
    ['Accounts', number.format(s.dids)],
    [
      'Indexed up to',
      cursor
        ? html`<time datetime="${cursor.toISOString()}">${cursor.toISOString().replace('T', ' ').slice(0, 19)} UTC</time> (${duration((Date.now() - cursor.getTime()) / 1000)} behind)`
        : 'nothing yet',
    ],
    ['Events per second', typeof rate === 'number' ? number.format(rate) : 'n/a'],
    ['Index size', bytes(s.dbBytes)],
  ]
  return html`<dl class="stats">${rows.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`
}

export function homePage(ctx: ApiContext): Html {
  const groups: Array<[string, Endpoint[]]> = [
    ['XRPC queries', ENDPOINTS.filter((e) => e.xrpc)],
    ['REST queries', ENDPOINTS.filter((e) => !e.xrpc)],
  ]
  return layout(
    'Explorer',
    html`<h1>Backlinks explorer</h1>
<p>This service indexes every link between AT Protocol records as it happens: likes, reposts, replies,
quotes, follows, blocks, list memberships, mentions and any other record field that holds an at-uri,
a DID or a URI. Ask it who links to a post, an account or a web page. Its API is a drop-in for
<a href="https://constellation.microcosm.blue/">Constellation</a>'s, with the same routes and answers.</p>
<section aria-labelledby="stats-h">
<h2 id="stats-h">Index</h2>
<div id="stats" data-live="/explorer/stats" aria-live="polite">${statsFragment(ctx)}</div>
</section>
<nav aria-labelledby="toc-h"><h2 id="toc-h">Queries</h2>
${groups.map(
  ([name, eps]) => html`<p>${name}:</p><ul>${eps.map((e) => html`<li><a href="#q-${slug(e.path)}">${e.title}</a></li>`)}</ul>`,
)}
</nav>
${groups.map(
  ([name, eps]) => html`<section><h2>${name}</h2>
${eps.map((e) => html`<section class="endpoint">${endpointHeading(e, 'h3', `q-${slug(e.path)}`)}<p>${e.summary}</p>${form(e)}</section>\n`)}
</section>`,
)}`,
  )
}

function nextPage(ep: Endpoint, query: URLSearchParams, cursor: unknown): Html {
  if (typeof cursor !== 'string') return html`<p class="pager">No more pages.</p>`
  const next = new URLSearchParams(query)
  next.set('cursor', cursor)
  return html`<p class="pager"><a href="${`${ep.path}?${next}`}" rel="next">Next page</a></p>`
}

export function resultPage(ep: Endpoint, query: URLSearchParams, body: unknown): Html {
  const paged = typeof body === 'object' && body !== null && 'cursor' in body
  return layout(
    ep.title,
    html`${endpointHeading(ep, 'h1')}<p>${ep.summary}</p>
${form(ep, query)}
<section aria-labelledby="result-h">
<h2 id="result-h">Result</h2>
${renderResult(ep.view, body, query)}
${paged ? nextPage(ep, query, (body as { cursor: unknown }).cursor) : ''}
<details><summary>Raw JSON</summary><p><code>GET ${`${ep.path}?${query}`}</code></p><pre><code>${JSON.stringify(body, null, 2)}</code></pre></details>
</section>`,
  )
}

export function errorPage(ep: Endpoint, query: URLSearchParams, err: XRPCError): Html {
  return layout(
    ep.title,
    html`${endpointHeading(ep, 'h1')}
<div class="error" role="alert"><h2>${err.error ?? 'Error'}</h2><p>${err.errorMessage ?? 'The query failed.'}</p></div>
${form(ep, query)}`,
  )
}
