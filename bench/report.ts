/** The benchmark's figures, the targets they are held against, and the one summary table. */
import type { IngestResult, Milestone } from './ingest.js';
import type { StepResult } from './load.js';
import type { Machine } from './machine.js';
import { count } from './options.js';
import { MANY_SUBJECTS_KIND, type ReadContext } from './reads.js';
import type { Percentiles } from './stats.js';

export interface ReadPhase {
  name: 'idle' | 'ingesting';
  /** Events per second the service committed during the phase. */
  ingestEventsPerSecond: number;
  queries: StepResult[];
  peakRssBytes: number;
  /** CPU cores the service used during the phase, all threads. */
  cpuCores: number;
}

export interface BenchResult {
  machine: Machine;
  command: string;
  commit: string;
  seed: number;
  ingest: IngestResult;
  reads: {
    context: ReadContext;
    /** The same load against an empty HTTP server: the floor set by the machine and the load generator. */
    baseline: StepResult;
    phases: ReadPhase[];
  };
}

export interface TargetCheck {
  figure: string;
  target: string;
  measured: string;
  pass: boolean;
  /** A caveat: measured below the size the target is defined at, or requests failed. */
  note?: string;
}

const TARGET_LINKS = 10_000_000;
const MIN_EVENTS_PER_SECOND = 30_000;
const MAX_BYTES_PER_LINK = 60;
const SINGLE_P50_MS = 1;
const SINGLE_P99_MS = 10;
const MANY_P50_MS = 5;
const MAX_RSS_BYTES = 300 * 1024 * 1024;

/** The milestone where the ingest and size targets are judged: 10M links, else the largest measured. */
function targetMilestone(result: BenchResult): { m: Milestone; note?: string } {
  const all = result.ingest.milestones;
  const m = all.find((x) => x.links === TARGET_LINKS) ?? all[all.length - 1]!;
  return m.links === TARGET_LINKS ? { m } : { m, note: `measured at ${count(m.links)} links, target is at 10M` };
}

function memoryPhases(result: BenchResult): Array<{ phase: string; peakRssBytes: number }> {
  const all = result.ingest.milestones;
  return [
    ...all.map((m, i) => ({
      phase: `ingest ${count(i === 0 ? 0 : all[i - 1]!.links)}-${count(m.links)} links`,
      peakRssBytes: m.peakRssBytes,
    })),
    ...result.reads.phases.map((p) => ({ phase: `reads ${p.name}`, peakRssBytes: p.peakRssBytes })),
  ];
}

export function checkTargets(result: BenchResult): TargetCheck[] {
  const { m, note } = targetMilestone(result);
  const checks: TargetCheck[] = [
    {
      figure: `ingest events/s at ${count(m.links)} links`,
      target: `>= ${MIN_EVENTS_PER_SECOND.toLocaleString('en')} at 10M`,
      measured: Math.round(m.eventsPerSecond).toLocaleString('en'),
      pass: m.eventsPerSecond >= MIN_EVENTS_PER_SECOND,
      ...(note && { note }),
    },
    {
      figure: `bytes/link at ${count(m.links)} links`,
      target: `<= ${MAX_BYTES_PER_LINK} at 10M`,
      measured: m.size.bytesPerLink.toFixed(1),
      pass: m.size.bytesPerLink <= MAX_BYTES_PER_LINK,
      ...(note && { note }),
    },
  ];
  const live = result.reads.phases.find((p) => p.name === 'ingesting');
  for (const k of live?.queries ?? []) {
    const many = k.name === MANY_SUBJECTS_KIND;
    checks.push({
      figure: `${k.name} while ingesting`,
      target: many ? `p50 < ${MANY_P50_MS} ms` : `p50 < ${SINGLE_P50_MS} ms, p99 < ${SINGLE_P99_MS} ms`,
      measured: many ? `p50 ${ms(k.p50)}` : `p50 ${ms(k.p50)}, p99 ${ms(k.p99)}`,
      pass: k.errors === 0 && (many ? k.p50 < MANY_P50_MS : k.p50 < SINGLE_P50_MS && k.p99 < SINGLE_P99_MS),
      ...(k.errors > 0 && { note: `${k.errors} errors` }),
    });
  }
  for (const p of memoryPhases(result)) {
    checks.push({
      figure: `peak RSS, ${p.phase}`,
      target: `< ${mb(MAX_RSS_BYTES)}`,
      measured: mb(p.peakRssBytes),
      pass: p.peakRssBytes < MAX_RSS_BYTES,
    });
  }
  return checks;
}

// ---------------------------------------------------------------------------------------------
// The summary table

type Row = [figure: string, value: string, target?: string, result?: string] | { section: string };
type Verdict = (figure: string) => [target: string, result: string];
const NONE: [string, string] = ['', ''];

export function formatTable(result: BenchResult): string {
  const checks = new Map(checkTargets(result).map((c) => [c.figure, c]));
  const verdict: Verdict = (figure) => {
    const c = checks.get(figure);
    return c ? [c.target, (c.pass ? 'PASS' : 'MISS') + (c.note ? ` (${c.note})` : '')] : NONE;
  };
  const mc = result.machine;
  const ctx = result.reads.context;
  return [
    `backlinks benchmark: ${result.command}   (commit ${result.commit}, seed ${result.seed})`,
    `machine: ${mc.cpus} x ${mc.cpuModel}, ${gb(mc.memoryBytes)} RAM, ${mc.disk}, ${mc.kernel}, Node ${mc.node}, SQLite ${mc.sqlite}`,
    `load average at the end (1/5/15 min): ${mc.loadAverage.map((l) => l.toFixed(1)).join(' / ')} (the benchmark's own processes: about 1.5)`,
    `hot post: ${ctx.hotPost} (${int(ctx.hotPostLikes)} likes); cold post: ${ctx.coldPost}`,
    '',
    render([...ingestRows(result, verdict), ...sizeRows(result, verdict), ...readRows(result, verdict), ...memoryRows(result, verdict)]),
  ].join('\n');
}

function ingestRows(result: BenchResult, verdict: Verdict): Row[] {
  const { m: judged } = targetMilestone(result);
  const rows: Row[] = [{ section: 'INGEST  events/s, JSON line -> websocket client -> indexer -> committed SQLite, per window of links' }];
  for (const w of result.ingest.windows) {
    const cpu = `service CPU ${w.cpuCores.toFixed(2)} cores, ${Math.round(w.cpuUsPerEvent)} us/event`;
    rows.push([`  ${count(w.fromLinks)}-${count(w.toLinks)} links (${cpu})`, int(w.eventsPerSecond)]);
  }
  for (const m of result.ingest.milestones) {
    rows.push([`  average 0-${count(m.links)} links (${Math.round(m.seconds)} s)`, int(m.averageEventsPerSecond)]);
    const judgement = m === judged ? verdict(`ingest events/s at ${count(m.links)} links`) : NONE;
    rows.push([`  at ${count(m.links)} links (last window)`, int(m.eventsPerSecond), ...judgement]);
  }
  return rows;
}

function sizeRows(result: BenchResult, verdict: Verdict): Row[] {
  const { m: judged } = targetMilestone(result);
  const milestones = result.ingest.milestones;
  const rows: Row[] = [{ section: 'SIZE  bytes per link on disk, all files, after wal_checkpoint(TRUNCATE)' }];
  for (const m of milestones) {
    const judgement = m === judged ? verdict(`bytes/link at ${count(m.links)} links`) : NONE;
    rows.push([`  at ${count(m.links)} links (${mb(m.size.fileBytes)} / ${int(m.size.links)} links)`, m.size.bytesPerLink.toFixed(1), ...judgement]);
  }
  const { links, fileBytes, objects } = milestones[milestones.length - 1]!.size;
  rows.push({ section: `SIZE BY TABLE AND INDEX  bytes per link at ${count(links)} links (dbstat), share of the file` });
  const small = objects.filter((o) => o.bytes < SMALL_SHARE * fileBytes);
  for (const o of objects.filter((o) => !small.includes(o))) {
    const what = o.kind === 'index' ? `  ${o.name} (index on ${o.table})` : `  ${o.name}`;
    rows.push([what, o.bytesPerLink.toFixed(1), percent(o.bytes / fileBytes)]);
  }
  if (small.length) {
    const bytes = small.reduce((sum, o) => sum + o.bytes, 0);
    rows.push([`  ${small.length} small tables and indexes`, (bytes / links).toFixed(1), percent(bytes / fileBytes)]);
  }
  return rows;
}

function readRows(result: BenchResult, verdict: Verdict): Row[] {
  const rows: Row[] = [];
  for (const phase of result.reads.phases) {
    const during = phase.name === 'idle' ? 'idle' : `while ingesting ${int(phase.ingestEventsPerSecond)} events/s`;
    rows.push({
      section:
        `READS ${during} (service CPU ${phase.cpuCores.toFixed(2)} cores)  ms p50 / p90 / p99 from scheduled time; ` +
        'open loop, one kind at a time, from another process; main-thread CPU per request',
    });
    for (const q of phase.queries) {
      // Served below the asked rate: the service could not keep up, and the queue is in the latencies.
      const served = q.servedRate < 0.98 * q.rate ? `, served ${int(q.servedRate)}/s` : '';
      const what = `  ${q.name} (${int(q.rate)}/s${served}${q.errors ? `, ${q.errors} ERRORS` : ''}; ${cpu(q)})`;
      rows.push([what, triple(q), ...(phase.name === 'ingesting' ? verdict(`${q.name} while ingesting`) : NONE)]);
    }
    if (phase.name === 'idle') {
      const b = result.reads.baseline;
      rows.push([`  (floor: ${b.name} in another process, ${int(b.rate)}/s; ${cpu(b)})`, triple(b)]);
    }
    // Included in the figures above: how far behind schedule the load generator itself sent.
    const worst = (f: (p: Percentiles) => number) => Math.max(...phase.queries.map((q) => f(q.lateness)));
    const lateness = { p50: worst((p) => p.p50), p90: worst((p) => p.p90), p99: worst((p) => p.p99) };
    rows.push(['  (sending lateness of the load generator, worst kind)', triple(lateness)]);
  }
  return rows;
}

function memoryRows(result: BenchResult, verdict: Verdict): Row[] {
  return [
    { section: 'MEMORY  peak RSS of the service process (main + worker threads)' },
    ...memoryPhases(result).map((p): Row => [`  ${p.phase}`, mb(p.peakRssBytes), ...verdict(`peak RSS, ${p.phase}`)]),
  ];
}

function render(rows: Row[]): string {
  const cells = rows.filter((r): r is Exclude<Row, { section: string }> => Array.isArray(r));
  const width = (i: number) => Math.max(...cells.map((r) => (r[i] ?? '').length));
  const [w0, w1, w2] = [width(0), width(1), width(2)];
  return rows
    .map((r) =>
      Array.isArray(r)
        ? [r[0].padEnd(w0), r[1].padStart(w1), (r[2] ?? '').padEnd(w2), r[3] ?? ''].join('   ').trimEnd()
        : r.section,
    )
    .join('\n');
}

/** Tables and indexes under this share of the file are summed in one row. */
const SMALL_SHARE = 0.001;

const triple = (p: Pick<Percentiles, 'p50' | 'p90' | 'p99'>) => `${ms(p.p50)} / ${ms(p.p90)} / ${ms(p.p99)}`;
const cpu = (q: StepResult) => `${q.cpuMsPerRequest.toFixed(2)} ms CPU/req`;
const percent = (share: number) => `${(100 * share).toFixed(1)}%`;
const int = (n: number) => Math.round(n).toLocaleString('en');
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(0));
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const gb = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
