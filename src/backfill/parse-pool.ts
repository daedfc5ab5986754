import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import { BackfillError, StoppedError } from './errors.js'
import { parseRepo, type ParseEvent, type ParseJob } from './parse-job.js'
import type { FromParser, ToParser } from './parse-worker.js'

/** Called for each parse event, on the writer thread; the next slice comes after it returns. */
export type ParseHandler = (event: ParseEvent) => void

interface Running {
  id: number
  handler: ParseHandler
  resolve: () => void
  reject: (err: Error) => void
  /** Rejected early (stopped, or the handler threw): later events are ignored until the worker's 'end'. */
  settled: boolean
}

/**
 * Parse worker threads, one repo per worker at a time; with size 0 repos are parsed on the
 * calling thread, yielding to the event loop between slices.
 */
export class ParsePool {
  private idle: Worker[] = []
  private waiting: Array<(w: Worker) => void> = []
  private running = new Map<Worker, Running>()
  private nextId = 1
  private closed = false

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) this.idle.push(this.spawn())
  }

  async parse(job: ParseJob, handler: ParseHandler, signal: AbortSignal): Promise<void> {
    if (this.size === 0) return this.parseInline(job, handler, signal)
    const worker = this.idle.pop() ?? (await new Promise<Worker>((resolve) => this.waiting.push(resolve)))
    if (signal.aborted) {
      this.release(worker)
      throw new StoppedError()
    }
    const id = this.nextId++
    const done = new Promise<void>((resolve, reject) =>
      this.running.set(worker, { id, handler, resolve, reject, settled: false }),
    )
    const onAbort = () => this.cancel(worker, new StoppedError())
    signal.addEventListener('abort', onAbort, { once: true })
    // The CAR's memory moves to the worker; a view into a shared (pooled) buffer is copied first.
    const bytes = ownsBuffer(job.bytes) ? job.bytes : job.bytes.slice()
    worker.postMessage({ type: 'job', id, job: { ...job, bytes } } satisfies ToParser, [bytes.buffer as ArrayBuffer])
    try {
      await done
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  async close(): Promise<void> {
    this.closed = true
    const workers = [...this.idle, ...this.running.keys()]
    this.idle = []
    await Promise.all(workers.map((w) => w.terminate()))
  }

  private async parseInline(job: ParseJob, handler: ParseHandler, signal: AbortSignal): Promise<void> {
    for await (const event of parseRepo(job)) {
      handler(event)
      // The writer thread also commits live events and answers status: let them in between slices.
      await yieldToLoop()
      if (signal.aborted) throw new StoppedError()
    }
  }

  private spawn(): Worker {
    const worker = new Worker(new URL('./parse-worker.js', import.meta.url))
    worker.unref() // an idle pool never keeps the process alive
    worker.on('message', (m: FromParser) => this.onMessage(worker, m))
    worker.on('error', (err) => this.onCrash(worker, err))
    return worker
  }

  private onMessage(worker: Worker, m: FromParser): void {
    const job = this.running.get(worker)
    if (!job || job.id !== m.id) return
    if (m.type === 'end') {
      this.running.delete(worker)
      this.release(worker)
      if (m.error) job.reject(new BackfillError(m.error.message, m.error.outcome))
      else job.resolve()
      return
    }
    if (job.settled) return
    try {
      job.handler(m.event)
      worker.postMessage({ type: 'ack', id: m.id } satisfies ToParser)
    } catch (err) {
      this.cancel(worker, err as Error)
    }
  }

  /** Ends a job early; the worker is freed when its 'end' arrives. */
  private cancel(worker: Worker, err: Error): void {
    const job = this.running.get(worker)
    if (!job || job.settled) return
    job.settled = true
    worker.postMessage({ type: 'cancel', id: job.id } satisfies ToParser)
    job.reject(err)
  }

  /** A crashed worker (out of memory on a hostile CAR, a bug) fails its repo and is replaced. */
  private onCrash(worker: Worker, err: Error): void {
    const job = this.running.get(worker)
    this.running.delete(worker)
    job?.reject(new BackfillError(`parser crashed: ${err.message}`, 'fail'))
    void worker.terminate()
    if (!this.closed) this.release(this.spawn())
  }

  private release(worker: Worker): void {
    const next = this.waiting.shift()
    if (next) next(worker)
    else this.idle.push(worker)
  }
}

function ownsBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
}
