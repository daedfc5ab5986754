// The explorer: escaping by construction, and the page in a real browser (headless Debian
// chromium via playwright-core) submitting a form and reading the result table.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { html } from '../src/api/explorer/html.js'
import { subjectHref } from '../src/api/explorer/links.js'
import { corpus, get, LIKE, LISTITEM, startCorpusService, type CorpusService } from './helpers/corpus.js'

const { model, names: n } = corpus
const CHROMIUM = '/usr/bin/chromium'
const OUT = new URL('../../test-output/', import.meta.url).pathname
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
const XSS = '<script>alert(1)</script>"\'&'

test('html`` escapes every interpolated value; only http(s) subjects become links', () => {
  assert.equal(html`<p title="${XSS}">${XSS}</p>`.text, '<p title="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;">&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;</p>')
  assert.equal(html`<b>${html`<i>${'<'}</i>`}</b>`.text, '<b><i>&lt;</i></b>', 'Html values nest without double escaping')
  assert.equal(subjectHref('javascript:alert(1)'), undefined)
  assert.equal(subjectHref('data:text/html,hi'), undefined)
  assert.equal(subjectHref('https://example.com/a'), 'https://example.com/a')
  assert.equal(subjectHref(n.post), `https://bsky.app/profile/${n.alice}/post/${n.post.split('/').pop()}`)
  assert.equal(subjectHref(n.alice), `https://bsky.app/profile/${n.alice}`)
})

describe('explorer pages', () => {
  let s: CorpusService
  before(async () => {
    s = await startCorpusService()
  })
  after(async () => {
    await s?.close()
  })

  test('user input is escaped on result and error pages', async () => {
    const ok = await get(s.base, '/links', { target: XSS, collection: 'app.bsky.feed.like', path: '.subject.uri' }, BROWSER_ACCEPT)
    assert.equal(ok.status, 200)
    const bad = await get(s.base, '/links', { target: `${XSS} x`, collection: 'app.bsky.feed.like', path: '.subject.uri' }, BROWSER_ACCEPT)
    assert.equal(bad.status, 400)
    for (const page of [ok.text, bad.text]) {
      assert.ok(!page.includes('<script>alert'), 'no live script tag')
      assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;'))
    }
  })

  test('in a browser: home page, a many-to-many form, the result table and the next page', async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.skip(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the browser test`)
      return
    }
    const { chromium } = await import('playwright-core')
    const profile = mkdtempSync(join(tmpdir(), 'backlinks-chromium-'))
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })
    try {
      mkdirSync(OUT, { recursive: true })
      const page = await browser.newPage()
      const dialogs: string[] = []
      page.on('dialog', (d) => {
        dialogs.push(d.message())
        void d.dismiss()
      })
      const errors: string[] = []
      page.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} ${m.location().url}`))

      await page.goto(`${s.base}/`)
      assert.equal(await page.locator('h1').textContent(), 'Backlinks explorer')
      assert.match((await page.locator('#stats').textContent()) ?? '', /Links/)
      // Every visible form control has a label.
      const unlabelled = await page.$$eval('input, button', (els) =>
        els.filter((e) => e.tagName === 'INPUT' && (e as HTMLInputElement).labels?.length === 0).map((e) => e.id),
      )
      assert.deepEqual(unlabelled, [])
      await page.screenshot({ path: join(OUT, 'explorer-home.png'), fullPage: true })

      const form = page.locator('form[action="/xrpc/blue.microcosm.links.getManyToManyCounts"]')
      await form.getByLabel('Subject (at-uri, DID or URI)', { exact: true }).fill(n.list)
      await form.getByLabel('Source (collection:path)', { exact: true }).fill(LISTITEM)
      await form.getByLabel('Path to the other link', { exact: true }).fill('subject')
      await form.getByLabel('Page size', { exact: false }).fill('4')
      await Promise.all([page.waitForURL(/getManyToManyCounts\?/), form.getByRole('button', { name: 'Run query' }).click()])

      const expected = model.manyToManyCounts(n.list, LISTITEM, 'subject').map((c) => [c.subject, String(c.total), String(c.distinct)])
      const rows = () => page.$$eval('main table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent!.trim())))
      assert.deepEqual(await rows(), expected.slice(0, 4))
      assert.deepEqual(await page.$$eval('main table th', (ths) => ths.map((th) => th.getAttribute('scope'))), ['col', 'col', 'col'])
      // The form keeps what was asked; the raw JSON is the API's answer.
      assert.equal(await page.locator('form').getByLabel('Subject (at-uri, DID or URI)', { exact: true }).inputValue(), n.list)
      const raw = JSON.parse((await page.locator('details pre').textContent())!)
      assert.equal(raw.counts_by_other_subject.length, 4)
      await page.screenshot({ path: join(OUT, 'explorer-many-to-many.png'), fullPage: true })

      await Promise.all([page.waitForURL(/cursor=/), page.getByRole('link', { name: 'Next page' }).click()])
      assert.deepEqual(await rows(), expected.slice(4, 8))

      // Records link to bsky.app where it shows them; the at-uri is there too.
      await page.goto(`${s.base}/`)
      const links = page.locator('form[action="/links"]')
      await links.getByLabel('Target (at-uri, DID or URI)', { exact: true }).fill(n.post)
      await links.getByLabel('Collection', { exact: true }).fill('app.bsky.feed.like')
      await links.getByLabel('Path', { exact: true }).fill('.subject.uri')
      await Promise.all([page.waitForURL(/\/links\?/), links.getByRole('button', { name: 'Run query' }).click()])
      const first = model.backlinks(n.post, LIKE)[0]
      const cells = await page.$$eval('main table tbody tr:first-child td', (tds) => tds.map((td) => td.textContent!.trim()))
      assert.deepEqual(cells, [first.did, `at://${first.did}/${first.collection}/${first.rkey}`])
      assert.equal(await page.locator('main table tbody tr').count(), model.backlinks(n.post, LIKE).length)
      assert.match((await page.locator('.pager').textContent())!, /No more pages/)

      // A hostile subject typed into a form stays text.
      await page.goto(`${s.base}/`)
      await links.getByLabel('Target (at-uri, DID or URI)', { exact: true }).fill(XSS)
      await links.getByLabel('Collection', { exact: true }).fill('app.bsky.feed.like')
      await links.getByLabel('Path', { exact: true }).fill('.subject.uri')
      await Promise.all([page.waitForURL(/\/links\?/), links.getByRole('button', { name: 'Run query' }).click()])
      assert.equal(await page.locator('form').getByLabel('Target (at-uri, DID or URI)', { exact: true }).inputValue(), XSS)
      assert.deepEqual(dialogs, [])
      assert.deepEqual(errors, [])
    } finally {
      await browser.close()
      rmSync(profile, { recursive: true, force: true })
    }
  })
})
