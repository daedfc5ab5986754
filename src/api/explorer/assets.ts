// Static files of the explorer, kept inline (small, no build step). Served from their own URLs so
// the pages' Content-Security-Policy can forbid inline scripts and styles.
export const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #57606a; --line: #d0d7de; --accent: #0b5cad; --warn: #8a1c1c; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #30363d; --accent: #58a6ff; --warn: #ff8182; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 68rem; padding: 0 1rem 2rem; font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .5rem; }
header { padding: 1rem 0; border-bottom: 1px solid var(--line); } header .home { font-weight: 700; font-size: 1.2rem; margin-right: .5rem; } header span { color: var(--muted); }
footer { margin-top: 3rem; border-top: 1px solid var(--line); color: var(--muted); font-size: .9rem; }
code { font: .9em ui-monospace, monospace; overflow-wrap: anywhere; }
.route { margin-top: -.5rem; color: var(--muted); } .badge { font-size: .75rem; border: 1px solid var(--line); border-radius: 1rem; padding: 0 .5rem; }
.stats { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: .5rem 1rem; }
.stats div { border: 1px solid var(--line); border-radius: .5rem; padding: .5rem .75rem; } .stats dt { color: var(--muted); font-size: .85rem; } .stats dd { margin: 0; font-weight: 600; }
.endpoint { border-top: 1px solid var(--line); margin-top: 1.5rem; }
form.query { display: grid; gap: .25rem; max-width: 48rem; } form.query p { margin: .25rem 0; }
form.query label { display: block; font-size: .9rem; color: var(--muted); } form.query .check label { display: inline; }
form.query input[type=text], form.query input[type=number] { width: 100%; padding: .4rem; font: inherit; border: 1px solid var(--line); border-radius: .3rem; background: var(--bg); color: var(--fg); }
fieldset { border: 1px solid var(--line); border-radius: .3rem; } legend { font-size: .9rem; color: var(--muted); }
fieldset label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; } /* the legend says it */
button { font: inherit; padding: .4rem 1rem; border-radius: .3rem; border: 1px solid var(--accent); background: var(--accent); color: var(--bg); cursor: pointer; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; } caption { text-align: left; color: var(--muted); padding-bottom: .25rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; } .num { text-align: right; font-variant-numeric: tabular-nums; }
.total strong { font-size: 2rem; } .error { border: 2px solid var(--warn); border-radius: .5rem; padding: 0 1rem; } .error h2 { color: var(--warn); }
pre { overflow-x: auto; padding: .75rem; border: 1px solid var(--line); border-radius: .3rem; }
`

// Refreshes the stats block from a server-rendered fragment (formatting lives on the server).
export const LIVE_JS = `
for (const el of document.querySelectorAll('[data-live]')) {
  const refresh = async () => {
    try {
      const res = await fetch(el.dataset.live, { headers: { Accept: 'text/html' } })
      if (res.ok) el.innerHTML = await res.text()
    } catch {}
  }
  setInterval(refresh, 5000)
}
`

// A ring of dots: links around a subject.
export const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="5" fill="#0b5cad"/><g fill="#58a6ff"><circle cx="16" cy="4" r="3"/><circle cx="28" cy="16" r="3"/><circle cx="16" cy="28" r="3"/><circle cx="4" cy="16" r="3"/></g></svg>`

// Crawlers may read the explorer's home page but not run queries.
export const ROBOTS = `User-agent: *
Disallow: /links
Disallow: /xrpc/
Disallow: /explorer/
`
