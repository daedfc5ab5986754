/**
 * Peak resident memory of the service process (main thread and worker threads share it) per
 * benchmark phase: the kernel's high-water mark VmHWM, reset at the start of each phase by
 * writing 5 to /proc/<pid>/clear_refs, so a phase's peak is its own and not an earlier one's.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export class PeakRss {
  constructor(private readonly pid: number) {}

  /** Starts a phase: forgets earlier peaks. */
  reset(): void {
    writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
  }

  /** Peak RSS in bytes since the last reset. */
  peakBytes(): number {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    if (!kb) throw new Error(`no VmHWM in /proc/${this.pid}/status`);
    return Number(kb[1]) * 1024;
  }
}
