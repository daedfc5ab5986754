/**
 * The ingest phase: the stream server sends as fast as the service takes events; getStatus is
 * polled to see what is committed (links, and the cursor, which the server maps back to an event
 * count). The rate is reported per window of links so its decline as the database grows shows.
 *
 * At each milestone the server pauses, the service drains its queue, and the database size is
 * measured; that pause is excluded from the ingest time (the next window starts from the drained
 * state when sending resumes).
 */
import type { BenchOptions } from './options.js';
import { count } from './options.js';
import type { ProcStats } from './proc.js';
import type { ServiceProcess } from './service-process.js';
import { measureSize, type SizeReport } from './size.js';
import type { BenchStreamServer } from './stream-server.js';

export interface IngestWindow {
  /** Links stored at the window's start and end (as polled). */
  fromLinks: number;
  toLinks: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** CPU cores the service used (all threads): well under 1 with a slow rate means waiting on disk. */
  cpuCores: number;
  /** Service CPU time per event, in microseconds: what bounds the rate however busy the machine is. */
  cpuUsPerEvent: number;
}

export interface Milestone {
  /** The milestone asked for; `size.links` is what was actually stored when measured. */
  links: number;
  /** Events sent through this milestone. */
  events: number;
  /** Ingest time through this milestone, pauses excluded. */
  seconds: number;
  /** Average from an empty database to this milestone. */
  averageEventsPerSecond: number;
  /** The rate of the last window before the milestone: the rate at this size. */
  eventsPerSecond: number;
  /** Peak RSS of the service since the previous milestone. */
  peakRssBytes: number;
  size: SizeReport;
}

export interface IngestResult {
  windows: IngestWindow[];
  milestones: Milestone[];
}

interface Point {
  links: number;
  events: number;
  time: number; // ms of ingest time, pauses excluded
  cpu: number; // service CPU seconds, pauses excluded
}

const POLL_MS = 250;
const STALL_MS = 120_000;

export async function runIngest(
  server: BenchStreamServer,
  service: ServiceProcess,
  proc: ProcStats,
  opts: Pick<BenchOptions, 'milestones' | 'window'>,
  dbPath: string,
  progress: (line: string) => void,
): Promise<IngestResult> {
  const windows: IngestWindow[] = [];
  const milestones: Milestone[] = [];
  const boundaries = windowBoundaries(opts.milestones, opts.window);
  let ingestMs = 0; // ingest time before the current stretch of sending
  let cpuPaused = proc.cpuSeconds(); // service CPU spent outside ingest (start-up, drains)
  let start: Point = { links: 0, events: 0, time: 0, cpu: 0 };

  for (const milestone of opts.milestones) {
    proc.resetPeak();
    const resumed = performance.now();
    server.run();
    let lastProgress = performance.now();
    let lastLinks = start.links;
    for (;;) {
      await sleep(POLL_MS);
      const status = await service.status();
      const now: Point = {
        links: status.links,
        events: status.cursor === undefined ? 0 : server.eventsThrough(status.cursor),
        time: ingestMs + performance.now() - resumed,
        cpu: proc.cpuSeconds() - cpuPaused,
      };
      if (status.links > lastLinks) {
        lastLinks = status.links;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > STALL_MS) {
        throw new Error(`ingest stalled at ${status.links} links:\n${service.logTail()}`);
      }
      // One window however many boundaries this poll passed: a window needs time and events.
      if (now.links >= boundaries[0]! && now.events > start.events) {
        while (now.links >= boundaries[0]!) boundaries.shift();
        const w = windowOf(start, now);
        windows.push(w);
        progress(`ingest ${count(w.fromLinks)}-${count(w.toLinks)} links: ${Math.round(w.eventsPerSecond)} events/s`);
        start = now;
      }
      // Done once the window ending at the milestone is closed.
      if (boundaries.length === 0 || boundaries[0]! > milestone) break;
    }
    server.pause();
    ingestMs = start.time;
    const peakRssBytes = proc.peakRssBytes();
    const drained = await drain(server, service);
    progress(`measuring size at ${count(drained.links)} links`);
    const size = await measureSize(dbPath, drained.links);
    const last = windows[windows.length - 1]!;
    milestones.push({
      links: milestone,
      events: start.events,
      seconds: start.time / 1000,
      averageEventsPerSecond: start.events / (start.time / 1000),
      eventsPerSecond: last.eventsPerSecond,
      peakRssBytes,
      size,
    });
    // The next window starts from everything committed, at the current ingest time.
    cpuPaused = proc.cpuSeconds() - start.cpu;
    start = { ...start, links: drained.links, events: server.sent };
  }
  return { windows, milestones };
}

/** Window ends: every `window` links, and every milestone (where ingest pauses). */
function windowBoundaries(milestones: number[], window: number): number[] {
  const last = milestones[milestones.length - 1]!;
  const ends = new Set(milestones);
  for (let b = window; b < last; b += window) ends.add(b);
  return [...ends].sort((a, b) => a - b);
}

function windowOf(from: Point, to: Point): IngestWindow {
  const events = to.events - from.events;
  const seconds = (to.time - from.time) / 1000;
  const cpu = to.cpu - from.cpu;
  return {
    fromLinks: from.links,
    toLinks: to.links,
    events,
    seconds,
    eventsPerSecond: events / seconds,
    cpuCores: cpu / seconds,
    cpuUsPerEvent: (cpu / events) * 1e6,
  };
}

/** Waits until the service committed the last event the server sent and its account jobs. */
async function drain(server: BenchStreamServer, service: ServiceProcess): Promise<{ links: number }> {
  const deadline = Date.now() + STALL_MS;
  for (;;) {
    const status = await service.status();
    const committed = status.cursor !== undefined && status.cursor >= (server.lastSentTimeUs ?? 0);
    if (committed && !status.ingest?.pendingAccountJobs) return status;
    if (Date.now() > deadline) throw new Error(`service did not drain its queue:\n${service.logTail()}`);
    await sleep(POLL_MS);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
