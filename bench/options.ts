import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Stored-link counts at which ingest pauses to measure size (ascending); the last is the final size. */
  milestones: number[];
  /** Links per ingest-rate window. */
  window: number;
  seed: number;
  /** Read requests per second of each single-subject query kind (open loop). */
  readRate: number;
  /** Requests per second of getCounts for 100 subjects. */
  manyRate: number;
  /** Measured requests per single-subject query kind and phase (scaled down with the rate for 100 subjects). */
  requests: number;
  /** Unmeasured requests per query kind first (scaled likewise). */
  warmup: number;
  /** Events per second the stream server sends during the "reads while ingesting" phase. */
  liveRate: number;
  /** Where the database goes; default a new temporary directory. Removed afterwards unless keep. */
  dir?: string;
  keep: boolean;
  json: boolean;
}

/** Fits a default run in under 10 minutes on the 2-core benchmark machine (see BENCHMARKS.md). */
export const DEFAULT_MILESTONES = [1_000_000, 2_000_000];
export const FULL_MILESTONES = [1_000_000, 10_000_000, 50_000_000];

export const USAGE = `usage: npm run bench -- [options]
  --links 1M,2M      stored-link counts at which size is measured; ingest stops at the last
                     (default ${DEFAULT_MILESTONES.map(count).join(',')})
  --full             --links ${FULL_MILESTONES.map(count).join(',')}
  --window N         links per ingest-rate window (default: last milestone / 10)
  --read-rate N      requests/s of each single-subject query kind, one kind at a time (default 1000)
  --many-rate N      requests/s of getCounts for 100 subjects (default 100)
  --requests N       measured requests per query kind and phase, at --read-rate (default 2000;
                     scaled to the same duration at --many-rate)
  --warmup N         unmeasured requests per query kind first (default 200, scaled likewise)
  --live-rate N      events/s streamed during the "reads while ingesting" phase (default 2000)
  --seed N           generator seed (default 1)
  --dir PATH         working directory for the database (default: a new one under ${tmpdir()})
  --keep             keep the database afterwards
  --json             print the figures as JSON instead of a table`;

/** "1M", "3m", "20k", "50000" -> number. */
export function parseCount(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  if (!m) throw new Error(`not a count: "${text}"`);
  const n = Number(m[1]) * ({ k: 1e3, m: 1e6 }[m[2]!.toLowerCase()] ?? 1);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`not a positive integer count: "${text}"`);
  return n;
}

/** 3000000 -> "3M", 1234567 -> "1.2M", 20000 -> "20k", 303712 -> "304k": for labels, not for figures. */
export function count(n: number): string {
  if (n >= 1e6) return `${Number((n / 1e6).toFixed(1))}M`;
  if (n >= 1e3) return `${Math.round(n / 1e3)}k`;
  return String(n);
}

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      links: { type: 'string' },
      full: { type: 'boolean', default: false },
      window: { type: 'string' },
      'read-rate': { type: 'string', default: '1000' },
      'many-rate': { type: 'string', default: '100' },
      requests: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '200' },
      'live-rate': { type: 'string', default: '2000' },
      seed: { type: 'string', default: '1' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (values.full && values.links) throw new Error('give --full or --links, not both');
  const milestones = values.links
    ? values.links.split(',').map(parseCount)
    : values.full
      ? FULL_MILESTONES
      : DEFAULT_MILESTONES;
  if (milestones.some((m, i) => i > 0 && m <= milestones[i - 1]!)) throw new Error('--links must be ascending');
  const last = milestones[milestones.length - 1]!;
  return {
    milestones,
    window: values.window ? parseCount(values.window) : Math.max(1, Math.round(last / 10)),
    seed: Number(values.seed),
    readRate: parseCount(values['read-rate']),
    manyRate: parseCount(values['many-rate']),
    requests: parseCount(values.requests),
    warmup: Number(values.warmup),
    liveRate: parseCount(values['live-rate']),
    dir: values.dir,
    keep: values.keep,
    json: values.json,
  };
}
