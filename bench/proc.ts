/**
 * The service process seen from /proc (main and worker threads are one process):
 * - peak resident memory per phase: the kernel's high-water mark VmHWM, reset at the start of
 *   each phase by writing 5 to /proc/<pid>/clear_refs, so a phase's peak is its own;
 * - CPU time (user + system), of all threads, to tell a CPU-bound phase from one waiting on the
 *   disk, or of the main thread alone (the one answering HTTP), to learn what a request costs.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

export class ProcStats {
  constructor(private readonly pid: number) {}

  /** Starts a phase: forgets earlier peaks. */
  resetPeak(): void {
    writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
  }

  /** Peak RSS in bytes since the last reset. */
  peakRssBytes(): number {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    if (!kb) throw new Error(`no VmHWM in /proc/${this.pid}/status`);
    return Number(kb[1]) * 1024;
  }

  /** CPU seconds used so far by the whole process. */
  cpuSeconds(): number {
    return this.stat(`/proc/${this.pid}/stat`);
  }

  /** CPU seconds used so far by the main thread (its thread id is the process id). */
  mainThreadCpuSeconds(): number {
    return this.stat(`/proc/${this.pid}/task/${this.pid}/stat`);
  }

  private stat(path: string): number {
    const stat = readFileSync(path, 'utf8');
    // Fields after the command name (which may contain spaces): state is [0], utime [11], stime [12].
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  }
}
