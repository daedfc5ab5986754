// The benchmark's lazy Jetstream server: same events as the generator, resume from a cursor
// (inclusive), pacing, pause, and the cursor -> event count mapping the ingest rate relies on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { generateEvents } from '../bench/generate.js';
import { BenchStreamServer } from '../bench/stream-server.js';

const GEN = { seed: 5, accounts: 5000, posts: 500 };
const timeUs = (line: string) => (JSON.parse(line) as { time_us: number }).time_us;

/** Collects the messages of one connection. */
async function connect(server: BenchStreamServer, cursor?: number): Promise<{ ws: WebSocket; got: string[] }> {
  const url = `${server.url}/subscribe${cursor === undefined ? '' : `?cursor=${cursor}`}`;
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const got: string[] = [];
  ws.on('message', (data) => got.push(data.toString()));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, got };
}

async function until(pred: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pred(), 'timed out');
}

describe('bench stream server', () => {
  // Twice what the test waits for: pausing takes effect a poll later, and a loaded machine can
  // deliver many more events before it does.
  const expected = [...generateEvents({ ...GEN, count: 6000 })];
  let server: BenchStreamServer;
  before(async () => (server = await BenchStreamServer.start(GEN)));
  after(() => server.close());

  it('sends the generator events, resumes from a cursor inclusively, and maps cursors to counts', async () => {
    const first = await connect(server);
    server.pace(20_000);
    await until(() => first.got.length >= 2000);
    server.pause();
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(first.got.length <= expected.length, `${first.got.length} events before the pause`);
    assert.deepEqual(first.got, expected.slice(0, first.got.length));
    assert.equal(server.sent, first.got.length);
    assert.equal(server.lastSentTimeUs, timeUs(first.got.at(-1)!));
    for (const i of [0, 255, 256, 1000, first.got.length - 1]) {
      const n = server.eventsThrough(timeUs(expected[i]!));
      assert.ok(n >= i + 1 && n < i + 1 + 256, `event ${i}: ${n}`);
    }
    first.ws.terminate();

    // A reconnect at the cursor of event 1500 gets event 1500 again, then what follows.
    const second = await connect(server, timeUs(expected[1500]!));
    server.run();
    await until(() => second.got.length >= 1500);
    server.pause();
    assert.deepEqual(second.got.slice(0, 1500), expected.slice(1500, 3000));
    second.ws.terminate();
  });

  it('paces: about the asked rate, nothing while paused', async () => {
    const { ws, got } = await connect(server);
    server.pace(1000);
    await new Promise((r) => setTimeout(r, 500));
    server.pause();
    const sent = server.sent;
    // Loose bounds (no timing assertion): unpaced, the server sends tens of thousands in 0.5 s.
    assert.ok(sent > 0 && sent <= 2000, `${sent} events in 0.5 s at 1000/s`);
    // What was sent before the pause may still be in flight; nothing is sent after it.
    await until(() => got.length >= sent);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(server.sent, sent);
    assert.equal(got.length, sent);
    ws.terminate();
  });
});
