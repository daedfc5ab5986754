// A parse worker thread: CAR parsing, verification and record decoding run here so the writer
// thread spends its time on SQLite (the two together keep both cores of a small machine busy).
import { parentPort } from 'node:worker_threads'
import { BackfillError, type Outcome } from './errors.js'
import { parseRepo, type ParseJob, type ParsedSlice } from './parse-job.js'

export type ToParser = { type: 'job'; id: number; job: ParseJob } | { type: 'ack' | 'cancel'; id: number }

/** A job ends with its last slice, or with 'end' (cancelled, or failed with `error`). */
export type FromParser =
  | { type: 'slice'; id: number; slice: ParsedSlice }
  | { type: 'end'; id: number; error?: { message: string; outcome: Outcome } }

/** Slices posted ahead of the writer per job: one being written, one ready. More would only use memory. */
const AHEAD = 2

interface JobState {
  unacked: number
  cancelled: boolean
  wake?: () => void
}

const port = parentPort!
// Several jobs run interleaved: while one waits for the writer, the next repo is being parsed.
const jobs = new Map<number, JobState>()

port.on('message', (m: ToParser) => {
  if (m.type === 'job') return void run(m.id, m.job)
  const state = jobs.get(m.id)
  if (!state) return
  if (m.type === 'ack') state.unacked--
  else state.cancelled = true
  state.wake?.()
})

async function run(id: number, job: ParseJob): Promise<void> {
  const state: JobState = { unacked: 0, cancelled: false }
  jobs.set(id, state)
  try {
    for await (const slice of parseRepo(job)) {
      port.postMessage({ type: 'slice', id, slice } satisfies FromParser)
      if (slice.last) return
      state.unacked++
      while (state.unacked >= AHEAD && !state.cancelled) await new Promise<void>((r) => (state.wake = r))
      if (state.cancelled) return port.postMessage({ type: 'end', id } satisfies FromParser)
    }
  } catch (err) {
    const outcome = err instanceof BackfillError ? err.outcome : 'fail'
    port.postMessage({ type: 'end', id, error: { message: (err as Error).message, outcome } } satisfies FromParser)
  } finally {
    jobs.delete(id)
  }
}
