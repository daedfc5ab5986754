// Result tables of the explorer, one per kind of answer (see ViewKind in constellation/endpoints).
import type { ViewKind } from '../constellation/endpoints.js'
import { html, type Html } from './html.js'
import { atUri, profileHref, recordHref, subjectHref } from './links.js'

interface RecordRef {
  did: string
  collection: string
  rkey: string
}

type Counts<T> = Record<string, Record<string, T>>

export const number = new Intl.NumberFormat('en-US')

function link(href: string | undefined, text: string | Html): Html {
  return href ? html`<a href="${href}">${text}</a>` : html`${text}`
}

function account(did: string): Html {
  return html`<a href="${profileHref(did)}">${did}</a>`
}

function record(r: RecordRef): Html {
  const href = recordHref(r.did, r.collection, r.rkey)
  return html`<code>${atUri(r.did, r.collection, r.rkey)}</code>${href ? html` <a href="${href}">open</a>` : ''}`
}

function subject(s: string): Html {
  return link(subjectHref(s), html`<code>${s}</code>`)
}

function table(caption: string, head: string[], rows: Html[][], numeric: number[] = []): Html {
  if (rows.length === 0) return html`<p class="empty">${caption}: nothing found.</p>`
  const cls = (i: number) => (numeric.includes(i) ? html` class="num"` : '')
  return html`<table>
<caption>${caption}</caption>
<thead><tr>${head.map((h, i) => html`<th scope="col"${cls(i)}>${h}</th>`)}</tr></thead>
<tbody>
${rows.map((cells) => html`<tr>${cells.map((c, i) => html`<td${cls(i)}>${c}</td>`)}</tr>\n`)}</tbody>
</table>`
}

function shown(n: number, total?: number): string {
  return total === undefined ? `${number.format(n)} shown` : `${number.format(n)} shown of ${number.format(total)}`
}

/** Rows of `{links: {collection: {path: …}}}`, with a link to list each source's records. */
function sourceRows<T>(links: Counts<T>, target: string, cells: (v: T) => Html[]): Html[][] {
  return Object.entries(links).flatMap(([collection, paths]) =>
    Object.entries(paths).map(([path, v]) => {
      const list = `/links?${new URLSearchParams({ target, collection, path })}`
      return [html`<code>${collection}</code>`, html`<a href="${list}"><code>${path}</code></a>`, ...cells(v)]
    }),
  )
}

/** Renders an endpoint's JSON answer; `query` is the request's query string (for links). */
export function renderResult(kind: ViewKind, body: any, query: URLSearchParams): Html {
  switch (kind) {
    case 'total':
      return html`<p class="total"><strong>${number.format(body.total)}</strong></p>`
    case 'records': {
      const records: RecordRef[] = body.records ?? body.linking_records
      return table(
        `Linking records, ${shown(records.length, body.total)}`,
        ['Account', 'Record'],
        records.map((r) => [account(r.did), record(r)]),
      )
    }
    case 'dids': {
      const dids: string[] = body.linking_dids
      return table(`Linking accounts, ${shown(dids.length, body.total)}`, ['Account'], dids.map((d) => [account(d)]))
    }
    case 'sources':
      return table(
        'Sources linking to the target',
        ['Collection', 'Path', 'Records', 'Accounts'],
        sourceRows(body.links as Counts<{ records: number; distinct_dids: number }>, query.get('target') ?? '', (c) => [
          html`${number.format(c.records)}`,
          html`${number.format(c.distinct_dids)}`,
        ]),
        [2, 3],
      )
    case 'sourceTotals':
      return table(
        'Sources linking to the target',
        ['Collection', 'Path', 'Records'],
        sourceRows(body.links as Counts<number>, query.get('target') ?? '', (n) => [html`${number.format(n)}`]),
        [2],
      )
    case 'otherCounts': {
      const counts: Array<{ subject: string; total: number; distinct: number }> = body.counts_by_other_subject
      return table(
        `Other subjects, ${shown(counts.length)}`,
        ['Other subject', 'Records', 'Accounts'],
        counts.map((c) => [subject(c.subject), html`${number.format(c.total)}`, html`${number.format(c.distinct)}`]),
        [1, 2],
      )
    }
    case 'items': {
      const items: Array<{ linkRecord: RecordRef; otherSubject: string }> = body.items
      return table(
        `Linking records, ${shown(items.length)}`,
        ['Account', 'Record', 'Other subject'],
        items.map((i) => [account(i.linkRecord.did), record(i.linkRecord), subject(i.otherSubject)]),
      )
    }
  }
}
