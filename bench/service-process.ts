/**
 * The service under test: `backlinks serve` in a child process, live-ingesting from the bench
 * stream server, exactly as deployed (HTTP API on the main thread, writer worker thread).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';

const MAIN = join(import.meta.dirname, '../src/cli/main.js');

/** The getStatus fields the benchmark reads. */
export interface Status {
  links: number;
  cursor?: number;
  ingest?: { pendingAccountJobs?: number };
}

export class ServiceProcess {
  private constructor(
    private readonly proc: ChildProcess,
    readonly url: string,
    private readonly log: () => string,
  ) {}

  get pid(): number {
    return this.proc.pid!;
  }

  /** Starts the service on a free port and waits until it answers getStatus. */
  static async start(dbPath: string, jetstreamUrl: string): Promise<ServiceProcess> {
    const port = await freePort();
    const args = [MAIN, 'serve', '--db', dbPath, '--host', '127.0.0.1', '--port', String(port)];
    args.push('--jetstream', jetstreamUrl, '--compress', 'none', '--log-level', 'warn');
    // The stream pauses while sizes are measured (minutes at tens of millions of links): without
    // this the client would take the silence for a dead server and back off reconnecting.
    args.push('--silence-timeout', '3600');
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
    const service = new ServiceProcess(proc, `http://127.0.0.1:${port}`, () => log);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`service exited (${proc.exitCode}):\n${log}`);
      try {
        await service.status();
        return service;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`service did not answer: ${(err as Error).message}\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async get<T>(path: string): Promise<T> {
    const res = await fetch(this.url + path);
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  status(): Promise<Status> {
    return this.get<Status>('/xrpc/com.example.links.getStatus');
  }

  /** SIGTERM: the service commits its last batch and exits. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = once(this.proc, 'exit');
    this.proc.kill('SIGTERM');
    await exited;
    if (this.proc.exitCode !== 0) throw new Error(`service exited with ${this.proc.exitCode}:\n${this.log()}`);
  }

  /** The end of the service's log, for error messages. */
  logTail(): string {
    return this.log();
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}
