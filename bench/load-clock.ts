/**
 * The load generator's clock, a worker thread: it sleeps with Atomics.wait (sub-millisecond,
 * no CPU) until each request's scheduled time and tells the main thread "send request i".
 * Node's timers only fire on whole milliseconds, which alone would add about half a millisecond
 * to every measured latency; this thread's lateness is about 0.1 ms on an idle machine.
 */
import { parentPort, workerData } from 'node:worker_threads';

export interface ClockPlan {
  /** Epoch milliseconds (performance.timeOrigin + performance.now()) of request 0. */
  start: number;
  interval: number;
  total: number;
}

export const epochNow = () => performance.timeOrigin + performance.now();

if (parentPort) {
  const { start, interval, total } = workerData as ClockPlan;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < total; i++) {
    const wait = start + i * interval - epochNow();
    if (wait > 0) Atomics.wait(sleeper, 0, 0, wait);
    parentPort.postMessage(i);
  }
}
