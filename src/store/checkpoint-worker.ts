import Database from 'better-sqlite3'
import { parentPort, workerData } from 'node:worker_threads'

// The checkpoint thread (wal-checkpointer.ts): copies committed WAL frames into the database file
// on its own connection, so the writer thread never stops to do it.
export interface CheckpointWorkerData {
  path: string
  pollMs: number
}

export type FromCheckpointer = { type: 'stopped' } | { type: 'error'; message: string }

const { path, pollMs } = workerData as CheckpointWorkerData
const port = parentPort!
const db = new Database(path, { fileMustExist: true })
// A checkpoint copies frames page by page; it needs no page cache of its own.
db.pragma('cache_size = -1024')

const timer = setInterval(() => {
  try {
    // PASSIVE never waits for the writer or readers: it copies what no reader still needs, and
    // returns at once when every frame is already in the database file.
    db.pragma('wal_checkpoint(PASSIVE)')
  } catch (err) {
    port.postMessage({ type: 'error', message: (err as Error).message } satisfies FromCheckpointer)
  }
}, pollMs)

port.on('message', (m: { type: string }) => {
  if (m.type !== 'stop') return
  clearInterval(timer)
  db.close()
  port.postMessage({ type: 'stopped' } satisfies FromCheckpointer)
  port.close()
})
