/**
 * The read phases: which requests are sent (hot and cold subjects the generator makes by
 * construction) and the load-generating child process that sends them.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { JetstreamGenerator, hotTargets, type GenerateOptions } from './generate.js';
import type { LoadPlan, LoadStep, StepResult } from './load.js';
import type { BenchOptions } from './options.js';
import type { ServiceProcess } from './service-process.js';

const LIKES = 'app.bsky.feed.like:subject.uri';
const PAGE = 100;
/** Later pages: pages 2..(1 + LATER_PAGES) of each hot post. */
const LATER_PAGES = 4;
const MANY_SUBJECTS = 100;

/** The one kind that asks about many subjects; the others have the single-subject targets. */
export const MANY_SUBJECTS_KIND = `getCounts ${MANY_SUBJECTS} subjects`;

type GeneratorOptions = Omit<GenerateOptions, 'count'>;

interface BacklinksPage {
  total: number;
  records: Array<{ did: string }>;
  cursor?: string;
}

export interface ReadContext {
  /** Likes of the most liked post, to show the hot queries are not empty. */
  hotPostLikes: number;
  hotPost: string;
  coldPost: string;
}

/**
 * The query kinds, each a load step of its own, built from the database as it is now (cursors
 * and DIDs come from real pages). Single-subject kinds run at `readRate`; the 100-subject one,
 * about a hundred times the work per request, at `manyRate`, for the same duration.
 */
export async function buildQueries(
  service: ServiceProcess,
  gen: GeneratorOptions,
  opts: Pick<BenchOptions, 'readRate' | 'manyRate' | 'requests' | 'warmup'>,
): Promise<{ steps: LoadStep[]; context: ReadContext }> {
  const hot = hotTargets({ ...gen, count: Number.MAX_SAFE_INTEGER });
  const coldPost = hot.coldPost!;
  const counts = (subjects: string[]) => xrpc('getCounts', subjects.map((s) => ['subjects', s]));
  const backlinks = (subject: string, extra: Array<[string, string]> = []) =>
    xrpc('getBacklinks', [['subject', subject], ['source', LIKES], ['limit', String(PAGE)], ...extra]);

  const laterPages: string[] = [];
  const didFiltered: string[] = [];
  for (const post of hot.hotPosts) {
    let page = await service.get<BacklinksPage>(backlinks(post));
    // Five accounts that liked the post and five (almost certainly) unrelated ones.
    const dids = [...page.records.slice(0, 5).map((r) => r.did), ...hot.hotAccounts.slice(5)];
    didFiltered.push(backlinks(post, dids.map((d) => ['did', d])));
    for (let p = 0; p < LATER_PAGES && page.cursor; p++) {
      const path = backlinks(post, [['cursor', page.cursor]]);
      laterPages.push(path);
      page = await service.get<BacklinksPage>(path);
    }
  }
  if (laterPages.length === 0) throw new Error('no hot post has a second page of likes: ingest more events');
  const top = await service.get<BacklinksPage>(backlinks(hot.hotPosts[0]!));

  const kinds: Array<Pick<LoadStep, 'name' | 'paths'>> = [
    { name: 'getCounts hot', paths: hot.hotPosts.map((s) => counts([s])) },
    { name: 'getCounts cold', paths: [counts([coldPost]), counts([hot.coldAccount])] },
    { name: 'getBacklinks page 1', paths: hot.hotPosts.map((s) => backlinks(s)) },
    { name: 'getBacklinks later page', paths: laterPages },
    { name: 'getBacklinks did filter', paths: didFiltered },
    {
      name: 'getBacklinkDids',
      paths: hot.hotPosts.map((s) => xrpc('getBacklinkDids', [['subject', s], ['source', LIKES], ['limit', String(PAGE)]])),
    },
    { name: MANY_SUBJECTS_KIND, paths: [counts(popularPosts(gen, MANY_SUBJECTS))] },
  ];
  const steps = kinds.map((k): LoadStep => {
    const scale = k.name === MANY_SUBJECTS_KIND ? opts.manyRate / opts.readRate : 1;
    const rate = opts.readRate * scale;
    return { ...k, rate, requests: Math.ceil(opts.requests * scale), warmup: Math.ceil(opts.warmup * scale) };
  });
  return { steps, context: { hotPostLikes: top.total, hotPost: hot.hotPosts[0]!, coldPost } };
}

/** The `n` most linked posts of the stream, most linked first (a feed page asking for its counts). */
function popularPosts(gen: GeneratorOptions, n: number): string[] {
  const g = new JetstreamGenerator(gen);
  while (g.headCount < n) g.next();
  return Array.from({ length: n }, (_, k) => g.headPostUri(k)!);
}

function xrpc(method: string, params: Array<[string, string]>): string {
  return `/xrpc/com.example.links.${method}?${new URLSearchParams(params)}`;
}

/** Runs the plan in a separate process (bench/load.ts) and returns its result. */
export function runLoadProcess(plan: LoadPlan): Promise<StepResult[]> {
  const child = fork(join(import.meta.dirname, 'load.js'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let answer: StepResult[] | undefined;
    child.once('message', (m: StepResult[]) => (answer = m));
    child.once('exit', (code) => (answer ? resolve(answer) : reject(new Error(`load generator exited with ${code}`))));
    child.send(plan);
  });
}
