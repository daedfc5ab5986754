/**
 * Open-loop HTTP load generator, run as a separate process (child_process.fork) so its CPU and
 * event loop are not the service's.
 *
 * Request i of a step is scheduled at start + i / rate whatever happened to earlier requests,
 * and its latency is measured from that scheduled time, not from when it was sent: a stalled
 * service shows up as the whole queue of requests it delayed (no coordinated omission). A clock
 * thread (load-clock.ts) keeps sending close to the schedule; its lateness is reported.
 *
 * Steps (one query kind each) run one after the other, so a slow kind cannot hide behind, or
 * inflate, the latencies of the others.
 *
 * Protocol: the parent sends one LoadPlan message, the child answers with one LoadResult and exits.
 */
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { epochNow, type ClockPlan } from './load-clock.js';
import { ProcStats } from './proc.js';
import { percentiles, type Percentiles } from './stats.js';

export interface LoadStep {
  name: string;
  /** Request paths (with query), used in turn. */
  paths: string[];
  /** Requests per second. */
  rate: number;
  /** Requests measured. */
  requests: number;
  /** Requests sent first, at the same rate, and not measured (JIT and caches warm up); the
   * measured run starts once they are all answered, so it does not inherit their backlog. */
  warmup: number;
}

export interface LoadPlan {
  baseUrl: string;
  /** Process id of the server, on this machine: its main thread's CPU time per request is measured. */
  serverPid: number;
  steps: LoadStep[];
}

export interface StepResult extends Percentiles {
  name: string;
  /** Requests per second asked for. */
  rate: number;
  /** Requests per second served: first schedule to last answer. */
  servedRate: number;
  errors: number;
  /** The first error message, if any. */
  firstError?: string;
  /** Mean response size, to show the queries returned something. */
  meanBytes: number;
  /** How late the load generator sent requests (ms after their scheduled time): part of the latencies. */
  lateness: Percentiles;
  /** CPU time of the server's main thread per request (ms): what bounds its request rate, however busy the machine. */
  cpuMsPerRequest: number;
}

export async function runLoad(plan: LoadPlan): Promise<StepResult[]> {
  // Idle sockets are dropped after 4 s, before Node's server closes them (keepAliveTimeout, 5 s):
  // a request written on a socket the server is closing fails with ECONNRESET (6 of 14,000 did
  // in one 10M run, on sockets left idle after a stall had opened more of them).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 4000 });
  const results: StepResult[] = [];
  const base = new URL(plan.baseUrl);
  const server = new ProcStats(plan.serverPid);
  for (const step of plan.steps) {
    if (step.warmup > 0) await runStep(base, agent, step, step.warmup);
    const cpuBefore = server.mainThreadCpuSeconds();
    const result = await runStep(base, agent, step, step.requests);
    const cpuMsPerRequest = ((server.mainThreadCpuSeconds() - cpuBefore) * 1000) / step.requests;
    results.push({ ...result, cpuMsPerRequest });
  }
  agent.destroy();
  return results;
}

function runStep(base: URL, agent: http.Agent, step: LoadStep, total: number): Promise<Omit<StepResult, 'cpuMsPerRequest'>> {
  const latency = new Float64Array(total);
  const lateness = new Float64Array(total);
  const clock: ClockPlan = { start: epochNow() + 20, interval: 1000 / step.rate, total };
  let errors = 0;
  let firstError: string | undefined;
  let bytes = 0;
  let done = 0;

  return new Promise((resolve) => {
    const fire = (i: number) => {
      const scheduled = clock.start + i * clock.interval;
      lateness[i] = epochNow() - scheduled;
      let finished = false; // a socket error after the answer must not count the request twice
      const finish = (error?: string, size = 0) => {
        if (finished) return;
        finished = true;
        latency[i] = epochNow() - scheduled;
        bytes += size;
        if (error !== undefined) {
          errors++;
          firstError ??= error;
        }
        if (++done < total) return;
        resolve({
          name: step.name,
          ...percentiles(latency),
          rate: step.rate,
          servedRate: total / ((epochNow() - clock.start) / 1000),
          errors,
          firstError,
          meanBytes: Math.round(bytes / total),
          lateness: percentiles(lateness),
        });
      };
      const req = http.get({ host: base.hostname, port: base.port, path: step.paths[i % step.paths.length], agent }, (res) => {
        let size = 0;
        res.on('data', (chunk: Buffer) => (size += chunk.length));
        res.on('end', () => finish(res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`, size));
        res.on('error', (err) => finish(err.message));
      });
      req.on('error', (err) => finish(err.message));
    };
    new Worker(new URL('./load-clock.js', import.meta.url), { workerData: clock }).on('message', fire);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.once('message', async (plan: LoadPlan) => {
    const result = await runLoad(plan);
    process.send!(result, () => process.exit(0));
  });
}
