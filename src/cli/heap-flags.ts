/**
 * V8 heap limits for the serving process's main thread (the one answering HTTP). Node sizes the
 * heap from the machine's memory and lets garbage pile up before collecting: on a 24 GB machine
 * the main thread's heap reached ~200 MB under 1,000 requests/s, for a live set of ~25 MB; with
 * these limits it stays under ~40 MB at the same rate and CPU (BENCHMARKS.md). The old generation
 * leaves room for the largest bounded answers (many-to-many scans). The writer thread gets its
 * own limits (service.ts).
 */
export const SERVE_HEAP_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=96']

/**
 * glibc malloc arenas for the restarted process: by default up to 8 per core, each keeping freed
 * memory of the threads that used it (two JS threads, SQLite's page caches, libuv's pool); 2
 * took ~10 MB off the peak of a replay (BENCHMARKS.md). An operator's own value is kept.
 */
const MALLOC_ARENAS = '2'

/**
 * Restarts this process in place (same pid, via execve) with SERVE_HEAP_FLAGS, unless they are
 * already set on the command line or in NODE_OPTIONS (an operator's choice wins) or the platform
 * has no execve. Returns only when no restart happens.
 */
export function reexecWithHeapFlags(): void {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  const missing = SERVE_HEAP_FLAGS.filter((flag) => !given.some((a) => a.startsWith(flag.split('=')[0])))
  if (missing.length === 0 || typeof process.execve !== 'function') return
  const env = { MALLOC_ARENA_MAX: MALLOC_ARENAS, ...process.env }
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], env)
}
