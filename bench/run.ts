/**
 * `npm run bench`: ingest, size, read-latency and memory figures of the service, in one table.
 *
 *   bench server (this process)  --ws-->  backlinks serve (child)  <--HTTP--  load generator (child)
 *
 * The service runs exactly as deployed. This process generates the Jetstream events, watches
 * progress through getStatus, measures the database between phases and samples the service's
 * memory; the load generator is a process of its own so its CPU is not counted as the service's.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { withBaselineServer } from './baseline-server.js';
import type { GenerateOptions } from './generate.js';
import { runIngest, sleep } from './ingest.js';
import type { LoadStep } from './load.js';
import { describeMachine } from './machine.js';
import { parseOptions, USAGE, type BenchOptions } from './options.js';
import { buildQueries, runLoadProcess } from './reads.js';
import { checkTargets, formatTable, type BenchResult, type ReadPhase } from './report.js';
import { ProcStats } from './proc.js';
import { ServiceProcess } from './service-process.js';
import { BenchStreamServer } from './stream-server.js';

/** Lets the paced stream reach a steady state before reads are measured against it. */
const SETTLE_MS = 2000;

export async function runBenchmark(
  opts: BenchOptions,
  command: string,
  progress: (line: string) => void = () => {},
): Promise<BenchResult> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'backlinks-bench-'));
  mkdirSync(dir, { recursive: true });
  const dbPath = join(dir, 'bench.sqlite');
  if (existsSync(dbPath)) throw new Error(`${dbPath} exists: the benchmark starts from an empty database`);
  const revision = commit(); // at the start: the code under test is what was built before the run
  const gen: Omit<GenerateOptions, 'count'> = { seed: opts.seed };
  const server = await BenchStreamServer.start(gen);
  let service: ServiceProcess | undefined;
  try {
    service = await ServiceProcess.start(dbPath, server.url);
    const proc = new ProcStats(service.pid);
    const ingest = await runIngest(server, service, proc, opts, dbPath, progress);

    const { steps, context } = await buildQueries(service, gen, opts);
    progress('reads, baseline: an empty HTTP server');
    const [baseline] = await withBaselineServer((baseUrl, serverPid) =>
      runLoadProcess({ baseUrl, serverPid, steps: [{ ...steps[0]!, name: 'empty HTTP server' }] }),
    );
    const phases: ReadPhase[] = [];
    progress('reads, idle');
    phases.push(await readPhase('idle', steps, service, server, proc));
    progress(`reads while ingesting ${opts.liveRate} events/s`);
    server.pace(opts.liveRate);
    await sleep(SETTLE_MS);
    phases.push(await readPhase('ingesting', steps, service, server, proc));
    server.pause();

    const reads = { context, baseline: baseline!, phases };
    return { machine: describeMachine(dir), command, commit: revision, seed: opts.seed, ingest, reads };
  } finally {
    await service?.stop();
    await server.close();
    if (opts.keep) progress(`database kept: ${dbPath}`);
    else if (opts.dir) for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** One load run, with the service's ingest rate, CPU use and peak memory over the same time. */
async function readPhase(
  name: ReadPhase['name'],
  steps: LoadStep[],
  service: ServiceProcess,
  server: BenchStreamServer,
  proc: ProcStats,
): Promise<ReadPhase> {
  const eventsNow = async () => {
    const { cursor } = await service.status();
    return cursor === undefined ? 0 : server.eventsThrough(cursor);
  };
  const before = await eventsNow();
  const started = performance.now();
  const cpuBefore = proc.cpuSeconds();
  proc.resetPeak();
  const queries = await runLoadProcess({ baseUrl: service.url, serverPid: service.pid, steps });
  const peakRssBytes = proc.peakRssBytes();
  const seconds = (performance.now() - started) / 1000;
  const cpuCores = (proc.cpuSeconds() - cpuBefore) / seconds;
  const ingestEventsPerSecond = ((await eventsNow()) - before) / seconds;
  return { name, ingestEventsPerSecond, queries, peakRssBytes, cpuCores };
}

/** The checked-out commit, so figures can be tied to the code they measured. */
function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: import.meta.dirname, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) return console.log(USAGE);
  const opts = parseOptions(argv);
  const command = ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' ');
  const result = await runBenchmark(opts, command, (line) => console.error(`[bench] ${line}`));
  if (opts.json) console.log(JSON.stringify({ ...result, targets: checkTargets(result) }, null, 2));
  else console.log(formatTable(result));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
