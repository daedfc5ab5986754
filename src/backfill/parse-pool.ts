import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import { BackfillError, StoppedError } from './errors.js'
import { parseRepo, type ParseJob, type ParsedSlice } from './parse-job.js'
import type { FromParser, ToParser } from './parse-worker.js'

/** Called for each slice of a repo, on the writer thread; the next slice comes after it returns. */
export type ParseHandler = (slice: ParsedSlice) => void

/**
 * Repos a worker holds at once: while the writer works through one repo's slices, the worker
 * already parses the next (with one, worker and writer would take turns instead of overlapping).
 */
const JOBS_PER_WORKER = 2

interface Slot {
  worker: Worker
  jobs: number
}

interface Running {
  slot: Slot
  handler: ParseHandler
  resolve: () => void
  reject: (err: Error) => void
  /** Rejected early (stopped, or the handler threw): later events are ignored until the worker's 'end'. */
  settled: boolean
}

/**
 * Parse worker threads; with size 0 repos are parsed on the calling thread, yielding to the
 * event loop between slices.
 */
export class ParsePool {
  private slots: Slot[] = []
  private waiting: Array<() => void> = []
  private running = new Map<number, Running>()
  private nextId = 1
  private closed = false

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) this.slots.push({ worker: this.spawn(), jobs: 0 })
  }

  async parse(job: ParseJob, handler: ParseHandler, signal: AbortSignal): Promise<void> {
    if (this.size === 0) return this.parseInline(job, handler, signal)
    const slot = await this.freeSlot()
    if (signal.aborted) {
      this.release(slot)
      throw new StoppedError()
    }
    const id = this.nextId++
    const done = new Promise<void>((resolve, reject) => this.running.set(id, { slot, handler, resolve, reject, settled: false }))
    const onAbort = () => this.cancel(id, new StoppedError())
    signal.addEventListener('abort', onAbort, { once: true })
    // The CAR's memory moves to the worker; a view into a shared (pooled) buffer is copied first.
    const bytes = ownsBuffer(job.bytes) ? job.bytes : job.bytes.slice()
    slot.worker.postMessage({ type: 'job', id, job: { ...job, bytes } } satisfies ToParser, [bytes.buffer as ArrayBuffer])
    try {
      await done
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  async close(): Promise<void> {
    this.closed = true
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
  }

  private async parseInline(job: ParseJob, handler: ParseHandler, signal: AbortSignal): Promise<void> {
    const slices = parseRepo(job)
    for (;;) {
      if (signal.aborted) throw new StoppedError()
      let next: IteratorResult<ParsedSlice>
      try {
        next = await slices.next()
      } catch (err) {
        // As from a worker: whatever goes wrong parsing fails the repo (the handler's errors do not).
        throw err instanceof BackfillError ? err : new BackfillError((err as Error).message, 'fail')
      }
      if (next.done) return
      handler(next.value)
      if (next.value.last) return
      // The writer thread also commits live events and answers status: let them in between slices.
      await yieldToLoop()
    }
  }

  /** The least busy worker with room for a job, waiting for one if all are full. */
  private async freeSlot(): Promise<Slot> {
    for (;;) {
      const slot = this.slots.reduce((a, b) => (b.jobs < a.jobs ? b : a))
      if (slot.jobs < JOBS_PER_WORKER) {
        slot.jobs++
        return slot
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    }
  }

  private release(slot: Slot): void {
    slot.jobs--
    this.waiting.shift()?.()
  }

  private spawn(): Worker {
    const worker = new Worker(new URL('./parse-worker.js', import.meta.url))
    worker.unref() // an idle pool never keeps the process alive
    worker.on('message', (m: FromParser) => this.onMessage(m))
    worker.on('error', (err) => this.onCrash(worker, err))
    return worker
  }

  private onMessage(m: FromParser): void {
    const job = this.running.get(m.id)
    if (!job) return
    if (m.type === 'end') {
      this.end(m.id, job)
      if (m.error) job.reject(new BackfillError(m.error.message, m.error.outcome))
      return
    }
    if (m.slice.last) this.end(m.id, job)
    if (job.settled) return
    try {
      job.handler(m.slice)
      if (m.slice.last) job.resolve()
      else job.slot.worker.postMessage({ type: 'ack', id: m.id } satisfies ToParser)
    } catch (err) {
      if (m.slice.last) job.reject(err as Error)
      else this.cancel(m.id, err as Error)
    }
  }

  /** The worker is done with a job (its last slice or 'end' arrived): its slot is free. */
  private end(id: number, job: Running): void {
    this.running.delete(id)
    this.release(job.slot)
  }

  /** Ends a job early; its worker slot is freed when the worker's 'end' (or last slice) arrives. */
  private cancel(id: number, err: Error): void {
    const job = this.running.get(id)
    if (!job || job.settled) return
    job.settled = true
    job.slot.worker.postMessage({ type: 'cancel', id } satisfies ToParser)
    job.reject(err)
  }

  /** A crashed worker (out of memory on a hostile CAR, a bug) fails its repos and is replaced. */
  private onCrash(worker: Worker, err: Error): void {
    const slot = this.slots.find((s) => s.worker === worker)!
    for (const [id, job] of this.running) {
      if (job.slot !== slot) continue
      this.running.delete(id)
      job.reject(new BackfillError(`parser crashed: ${err.message}`, 'fail'))
    }
    void worker.terminate()
    if (this.closed) return
    slot.worker = this.spawn()
    slot.jobs = 0
    for (let i = 0; i < JOBS_PER_WORKER; i++) this.waiting.shift()?.()
  }
}

function ownsBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
}
