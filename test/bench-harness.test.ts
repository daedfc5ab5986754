// The benchmark harness on a tiny configuration: every figure is produced (no timing assertions,
// the machine is shared and noisy).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseCount } from '../bench/options.js';
import { checkTargets, formatTable, type BenchResult, type TargetCheck } from '../bench/report.js';

const RUN = join(import.meta.dirname, '../bench/run.js');
const KINDS = [
  'getCounts hot',
  'getCounts cold',
  'getBacklinks page 1',
  'getBacklinks later page',
  'getBacklinks did filter',
  'getBacklinkDids',
  'getCounts 100 subjects',
];

const finite = (n: number, what: string) => assert.ok(Number.isFinite(n) && n >= 0, `${what}: ${n}`);

describe('bench harness', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-harness-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs end to end and reports every figure, as JSON and as a table', async () => {
    const args = ['--links', '10k,20k', '--window', '4k', '--requests', '200', '--warmup', '20'];
    args.push('--read-rate', '200', '--many-rate', '50', '--dir', dir, '--json');
    // Commits every 0.2 s while behind (not 5 s): this tiny run ingests in a few seconds, and the
    // rate windows are read from committed progress.
    const env = { ...process.env, BACKLINKS_COMMIT_INTERVAL: '0.2' };
    const { stdout } = await promisify(execFile)(process.execPath, [RUN, ...args], { maxBuffer: 1 << 24, env });
    const out = JSON.parse(stdout) as BenchResult & { targets: TargetCheck[] };

    assert.match(out.command, /^npm run bench -- --links 10k,20k/);
    assert.match(out.commit, /^[0-9a-f]{7,}$/);
    assert.ok(out.machine.cpus > 0 && out.machine.memoryBytes > 0 && out.machine.sqlite && out.machine.node);
    assert.equal(out.machine.loadAverage.length, 3);

    // Ingest: windows of growing size, a rate and a size at each milestone.
    assert.ok(out.ingest.windows.length >= 3, 'several rate windows');
    // Deletes and account purges can make one small window's net link count shrink, so growth is
    // checked across the run; every window still needs events and time.
    const windows = out.ingest.windows
    assert.ok(windows[windows.length - 1]!.toLinks > windows[0]!.fromLinks, 'links grow over the run')
    for (const w of windows) {
      assert.ok(w.events > 0 && w.seconds > 0, `window ${w.fromLinks}-${w.toLinks} has events and time`);
      finite(w.eventsPerSecond, 'window rate');
      finite(w.cpuCores, 'window CPU');
      finite(w.cpuUsPerEvent, 'window CPU per event');
    }
    assert.deepEqual(out.ingest.milestones.map((m) => m.links), [10_000, 20_000]);
    for (const m of out.ingest.milestones) {
      assert.ok(m.eventsPerSecond > 0 && m.averageEventsPerSecond > 0 && m.peakRssBytes > 0);
      assert.ok(m.size.bytesPerLink > 0 && m.size.fileBytes > 0);
      const names = m.size.objects.map((o) => o.name);
      for (const table of ['links_by_time', 'records']) assert.ok(names.includes(table), `${table} in the size breakdown`);
      const sum = m.size.objects.reduce((s, o) => s + o.bytes, 0);
      assert.ok(sum <= m.size.fileBytes, 'tables and indexes fit in the file');
    }

    // Reads: every kind in both phases, all answered, none empty.
    assert.deepEqual(out.reads.phases.map((p) => p.name), ['idle', 'ingesting']);
    assert.ok(out.reads.context.hotPostLikes > 0, 'the hot post has likes');
    for (const phase of out.reads.phases) {
      assert.deepEqual(phase.queries.map((q) => q.name), KINDS);
      assert.ok(phase.peakRssBytes > 0);
      finite(phase.cpuCores, `${phase.name} CPU`);
      for (const q of phase.queries) {
        assert.equal(q.errors, 0, `${phase.name} ${q.name}: ${q.firstError}`);
        assert.equal(q.count, q.name === 'getCounts 100 subjects' ? 50 : 200);
        assert.ok(q.meanBytes > 20, `${q.name} returns a body`);
        for (const p of [q.p50, q.p90, q.p99, q.lateness.p99, q.cpuMsPerRequest]) finite(p, `${phase.name} ${q.name}`);
        assert.ok(q.p50 <= q.p90 && q.p90 <= q.p99);
      }
    }
    const floor = out.reads.baseline;
    assert.ok(floor.errors === 0 && floor.count === 200 && floor.p99 >= floor.p50, 'the empty-server floor');
    assert.ok(out.reads.phases[1]!.ingestEventsPerSecond > 0, 'ingest ran during the second phase');
    assert.equal(out.reads.phases[0]!.ingestEventsPerSecond, 0, 'and not during the first');

    // Targets: ingest, size, 7 read kinds, 4 memory phases; each PASS or MISS in the table.
    assert.deepEqual(out.targets, checkTargets(out));
    assert.equal(out.targets.length, 2 + KINDS.length + 4);
    const table = formatTable(out);
    for (const t of out.targets) {
      assert.match(table, new RegExp(`${escape(t.target)}\\s+(PASS|MISS)`), t.figure);
    }
    for (const section of ['INGEST', 'SIZE BY TABLE AND INDEX', 'READS idle', 'READS while ingesting', 'MEMORY']) {
      assert.ok(table.includes(section), section);
    }
    assert.deepEqual(readdirSync(dir), [], 'the database is removed afterwards');
  });

  it('parses counts with k and M suffixes', () => {
    assert.equal(parseCount('20k'), 20_000);
    assert.equal(parseCount('3M'), 3_000_000);
    assert.equal(parseCount('1.5M'), 1_500_000);
    assert.throws(() => parseCount('ten'));
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
