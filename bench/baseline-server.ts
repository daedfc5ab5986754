/**
 * The smallest Node HTTP server, in a process of its own: the load generator's latencies against
 * it are the floor this machine, Node's HTTP stack and the load generator set, against which
 * the service's read latencies can be judged.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';

export async function withBaselineServer<T>(use: (url: string, pid: number) => Promise<T>): Promise<T> {
  const child = fork(fileURLToPath(import.meta.url), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: number) => resolve(m));
      child.once('exit', (code) => reject(new Error(`baseline server exited with ${code}`)));
    });
    return await use(`http://127.0.0.1:${port}`, child.pid!);
  } finally {
    child.kill();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const body = JSON.stringify({ subjects: [] });
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as AddressInfo).port));
}
