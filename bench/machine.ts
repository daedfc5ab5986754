/** What the figures were measured on: printed with them, since they mean little without it. */
import Database from 'better-sqlite3';
import { readFileSync, statfsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  kernel: string;
  /** Device, filesystem and size of the disk holding the database. */
  disk: string;
  node: string;
  sqlite: string;
  /** 1, 5 and 15 minute load averages when the run ended: on a shared machine, how busy it was. */
  loadAverage: number[];
}

export function describeMachine(dir: string): Machine {
  const db = new Database(':memory:');
  const sqlite = db.prepare('SELECT sqlite_version()').pluck().get() as string;
  db.close();
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    kernel: `Linux ${release()}`,
    disk: describeDisk(dir),
    node: process.version,
    sqlite,
    loadAverage: loadavg(),
  };
}

/** "/dev/vda ext4, 252 GB, rotational" from the mount holding `dir`. */
function describeDisk(dir: string): string {
  const mount = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter(([, point]) => point && (dir === point || dir.startsWith(point === '/' ? '/' : `${point}/`)))
    .sort((a, b) => b[1]!.length - a[1]!.length)[0];
  const fs = statfsSync(dir);
  const size = `${Math.round((fs.blocks * fs.bsize) / 1e9)} GB`;
  if (!mount) return size;
  const [device, , type] = mount;
  let kind = '';
  try {
    const rotational = readFileSync(`/sys/block/${device!.replace(/^\/dev\//, '')}/queue/rotational`, 'utf8').trim();
    kind = rotational === '1' ? ', reported rotational' : ', non-rotational';
  } catch {
    // not a whole block device (partition, overlay, tmpfs): nothing more to say
  }
  return `${device} ${type}, ${size}${kind}`;
}
