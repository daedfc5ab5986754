import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { createGunzip, createZstdDecompress } from 'node:zlib'
import type { Readable } from 'node:stream'
import type { Batcher } from './batcher.js'

export interface ReplayProgress {
  file: string
  lines: number
  bytes: number
}

/** Opens a JSONL capture, decompressing `.gz` and `.zst` files on the fly. */
function openCapture(path: string): { stream: Readable; raw: Readable } {
  const raw = createReadStream(path, { highWaterMark: 64 * 1024 })
  if (path.endsWith('.gz')) return { stream: raw.pipe(createGunzip()), raw }
  if (path.endsWith('.zst')) return { stream: raw.pipe(createZstdDecompress()), raw }
  return { stream: raw, raw }
}

/** Feeds a capture's lines to the batcher, pausing the file while the queue is full. */
export async function replayFile(
  path: string,
  batcher: Batcher,
  onProgress?: (p: ReplayProgress) => void,
  signal?: AbortSignal,
): Promise<ReplayProgress> {
  const { stream, raw } = openCapture(path)
  const progress: ReplayProgress = { file: path, lines: 0, bytes: 0 }
  raw.on('data', (chunk: Buffer) => {
    progress.bytes += chunk.length
  })
  const lines = createInterface({ input: stream, crlfDelay: Infinity })
  for await (const line of lines) {
    if (signal?.aborted) break
    progress.lines++
    if (!batcher.push(line)) {
      await batcher.drained()
      onProgress?.(progress)
    }
  }
  lines.close()
  raw.destroy()
  return progress
}
