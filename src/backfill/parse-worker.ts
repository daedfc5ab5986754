// A parse worker thread: CAR parsing, verification and record decoding run here so the writer
// thread spends its time on SQLite (the two together keep both cores of a small machine busy).
import { parentPort } from 'node:worker_threads'
import { BackfillError } from './errors.js'
import { parseRepo, type ParseEvent, type ParseJob } from './parse-job.js'

export type ToParser = { type: 'job'; id: number; job: ParseJob } | { type: 'ack' | 'cancel'; id: number }

export type FromParser =
  | { type: 'event'; id: number; event: ParseEvent }
  | { type: 'end'; id: number; error?: { message: string; outcome: 'retry' | 'fail' | 'skip' } }

/** Slices posted ahead of the writer: one being written, one ready. More would only use memory. */
const AHEAD = 2

const port = parentPort!
let current: { id: number; unacked: number; cancelled: boolean; wake?: () => void } | undefined

port.on('message', (m: ToParser) => {
  if (m.type === 'job') void run(m.id, m.job)
  else if (current?.id === m.id) {
    if (m.type === 'ack') current.unacked--
    else current.cancelled = true
    current.wake?.()
  }
})

async function run(id: number, job: ParseJob): Promise<void> {
  const state: NonNullable<typeof current> = { id, unacked: 0, cancelled: false }
  current = state
  let error: { message: string; outcome: 'retry' | 'fail' | 'skip' } | undefined
  try {
    for await (const event of parseRepo(job)) {
      port.postMessage({ type: 'event', id, event } satisfies FromParser)
      state.unacked++
      while (state.unacked >= AHEAD && !state.cancelled) await new Promise<void>((r) => (state.wake = r))
      if (state.cancelled) break
    }
  } catch (err) {
    error = { message: (err as Error).message, outcome: err instanceof BackfillError ? err.outcome : 'fail' }
  }
  current = undefined
  port.postMessage({ type: 'end', id, error } satisfies FromParser)
}
