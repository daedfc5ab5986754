import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { JetstreamClient, type JetstreamClientOptions, subscribeUrl } from '../src/firehose/jetstream-client.js';
import { JetstreamTestServer, type TestEvent } from './helpers/jetstream-server.js';

const T0 = 1_780_000_000_000_000;
const COLLECTIONS = ['app.bsky.feed.like', 'app.bsky.graph.follow', 'app.bsky.feed.post'];

function makeEvents(n: number, start = T0, stepUs = 1_000, recordBytes = 40): TestEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    did: `did:plc:user${i % 17}`,
    time_us: start + i * stepUs,
    kind: 'commit',
    commit: {
      rev: `3mp${i}`,
      operation: 'create',
      collection: COLLECTIONS[i % COLLECTIONS.length],
      rkey: `3k${i}`,
      record: { text: 'x'.repeat(recordBytes) },
    },
  }));
}

// Any bytes serve as a raw-content zstd dictionary.
const testDictionary = Buffer.from(JSON.stringify(makeEvents(30)));

/** A consumer that applies each event at once: its cursor is the last delivered time_us. */
function consumer() {
  const delivered: number[] = [];
  const texts: string[] = [];
  let cursor: number | undefined;
  return {
    delivered,
    texts,
    setCursor: (c: number | undefined) => (cursor = c),
    getCursor: () => cursor,
    onMessage: (text: string, timeUs: number | undefined) => {
      texts.push(text);
      if (timeUs !== undefined) {
        delivered.push(timeUs);
        cursor = timeUs;
      }
    },
  };
}

async function waitFor(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startServer(opts: Parameters<typeof JetstreamTestServer.start>[0]): Promise<JetstreamTestServer> {
  const server = await JetstreamTestServer.start(opts);
  cleanups.push(() => server.close());
  return server;
}

function startClient(
  c: ReturnType<typeof consumer>,
  opts: Partial<JetstreamClientOptions> & Pick<JetstreamClientOptions, 'hosts'>,
): JetstreamClient {
  const client = new JetstreamClient({
    compress: 'none',
    getCursor: c.getCursor,
    onMessage: c.onMessage,
    backoffInitialMs: 20,
    backoffMaxMs: 100,
    ...opts,
  });
  client.start();
  cleanups.push(() => client.stop());
  return client;
}

const unique = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);

describe('subscribeUrl', () => {
  it('adds /subscribe once and the query parameters', () => {
    const p = { collections: ['app.bsky.feed.like', 'app.bsky.graph.*'], cursor: 123, zstd: true };
    const expected =
      'wss://js.example/subscribe?wantedCollections=app.bsky.feed.like&wantedCollections=app.bsky.graph.*&cursor=123&compress=true';
    assert.equal(subscribeUrl('wss://js.example', p), expected);
    assert.equal(subscribeUrl('wss://js.example/', p), expected);
    assert.equal(subscribeUrl('wss://js.example/subscribe', p), expected);
    assert.equal(subscribeUrl('wss://js.example', { collections: [], cursor: undefined, zstd: false }), 'wss://js.example/subscribe');
  });
});

describe('JetstreamClient', () => {
  it('resumes after dropped connections from the exact cursor, without loss', async () => {
    const server = await startServer({ events: makeEvents(50), dropAfter: 7 });
    const c = consumer();
    const client = startClient(c, { hosts: [server.url] });
    const all = server.timeUs();
    await waitFor('all events', () => unique(c.delivered).length === all.length);

    assert.deepEqual(unique(c.delivered), all);
    // Each reconnect asks for the last applied event, which the server re-sends (inclusive
    // cursor): those are the only duplicates, and order is kept.
    const cursors = server.connections.map((conn) => conn.cursor);
    assert.equal(cursors[0], undefined);
    assert.ok(server.connections.every((conn) => !conn.offeredDeflate && !conn.compress));
    const duplicates = c.delivered.filter((t, i) => c.delivered.indexOf(t) !== i);
    assert.deepEqual(duplicates, cursors.slice(1));
    assert.deepEqual(c.delivered, [...c.delivered].sort((a, b) => a - b));
    assert.ok(server.connections.length >= 8);
    const s = client.status();
    assert.equal(s.reconnects, server.connections.length - 1);
    assert.equal(s.gaps, 0);
    assert.equal(s.decodeErrors, 0);
  });

  it('fails over to the next host, rewinding the cursor by 10 s', async () => {
    const events = makeEvents(40, T0, 1_000_000); // one per second
    const first = await startServer({ events: events.slice(0, 20) });
    // Another instance: same events, its own clock a little ahead.
    const second = await startServer({ events: makeEvents(40, T0 + 3_000, 1_000_000) });
    const c = consumer();
    const client = startClient(c, { hosts: [first.url, `${second.url}/subscribe`], failoverAfter: 2 });
    await waitFor('first host events', () => c.delivered.length === 20);
    const last = c.delivered.at(-1)!;
    await first.close(); // drops the connection and refuses new ones

    await waitFor('second host connection', () => second.connections.length > 0);
    assert.equal(second.connections[0]!.cursor, last - 10_000_000);
    await waitFor('second host events', () => c.delivered.at(-1) === second.timeUs().at(-1));
    assert.equal(client.status().host, `${second.url}/subscribe`);
    assert.equal(client.status().state, 'connected');
    // The rewind re-delivers the second host's copies of the last 10 s, nothing is skipped.
    const fromSecond = c.delivered.slice(20);
    assert.deepEqual(fromSecond, second.timeUs().filter((t) => t >= last - 10_000_000));
    assert.equal(client.status().gaps, 0);
  });

  it('decodes zstd frames made with the dictionary', async () => {
    const events = makeEvents(100);
    const server = await startServer({ events, dictionary: testDictionary, v2CursorField: true });
    const c = consumer();
    const client = startClient(c, { hosts: [server.url], compress: 'zstd', dictionary: testDictionary });
    await waitFor('all events', () => c.delivered.length === events.length);
    assert.deepEqual(c.delivered, server.timeUs());
    assert.deepEqual(JSON.parse(c.texts[3]!), { ...events[3], cursor: events[3]!.time_us });
    assert.deepEqual(server.connections[0], {
      url: '/subscribe?compress=true',
      cursor: undefined,
      compress: true,
      offeredDeflate: false,
      wantedCollections: [],
    });
    assert.equal(client.status().decodeErrors, 0);
  });

  it('skips and counts corrupted zstd frames, garbage and invalid JSON without reconnecting', async () => {
    const events = makeEvents(30);
    const faults = new Map([
      [events[5]!.time_us, 'corrupt-zstd' as const],
      [events[9]!.time_us, 'garbage' as const],
      [events[12]!.time_us, 'invalid-json' as const],
    ]);
    const server = await startServer({ events, dictionary: testDictionary, faults });
    const c = consumer();
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const logger = pino({ level: 'warn' }, sink);
    const client = startClient(c, { hosts: [server.url], compress: 'zstd', dictionary: testDictionary, logger });
    const expected = server.timeUs().filter((_, i) => ![5, 9, 12].includes(i));
    await waitFor('good events', () => c.delivered.length === expected.length);
    server.sendRaw(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3])); // zstd magic, then nonsense
    server.append(...makeEvents(1, T0 + 1_000_000));
    await waitFor('appended event', () => c.delivered.length === expected.length + 1);

    assert.deepEqual(c.delivered.slice(0, -1), expected);
    assert.equal(client.status().decodeErrors, 4);
    assert.equal(server.connections.length, 1);
    // Rate-limited: one warning for the burst, the rest only counted.
    assert.equal(lines.filter((l) => l.includes('jetstream message skipped')).length, 1);
  });

  it('counts garbage binary frames and invalid JSON on an uncompressed stream', async () => {
    const events = makeEvents(10);
    const faults = new Map([
      [events[2]!.time_us, 'garbage' as const],
      [events[4]!.time_us, 'invalid-json' as const],
    ]);
    const server = await startServer({ events, faults });
    const c = consumer();
    const client = startClient(c, { hosts: [server.url] });
    await waitFor('good events', () => c.delivered.length === 8);
    assert.equal(client.status().decodeErrors, 2);
    assert.equal(server.connections.length, 1);
  });

  it('survives a server restart that re-sends events with new time_us', async () => {
    const server = await startServer({ events: makeEvents(20) });
    const c = consumer();
    const client = startClient(c, { hosts: [server.url] });
    await waitFor('events', () => c.delivered.length === 20);
    const before = server.timeUs();
    server.restart(1_000_000); // same events, clock one second later: all at/after the cursor
    await waitFor('re-sent events', () => c.delivered.length === 40);
    assert.deepEqual(c.delivered, [...before, ...server.timeUs()]);
    assert.equal(server.connections[1]!.cursor, before.at(-1));
    assert.equal(client.status().gaps, 0);
  });

  it('tails live events when there is no cursor', async () => {
    const server = await startServer({ events: makeEvents(10), noCursor: 'live' });
    const c = consumer();
    startClient(c, { hosts: [server.url] });
    await waitFor('connection', () => server.openConnections === 1);
    const live = makeEvents(5, T0 + 1_000_000);
    server.append(...live);
    await waitFor('live events', () => c.delivered.length === 5);
    assert.deepEqual(c.delivered, live.map((e) => e.time_us));
  });

  it('reconnects when the server goes silent', async () => {
    const server = await startServer({ events: makeEvents(20) });
    server.setSilent(true);
    const c = consumer();
    const client = startClient(c, { hosts: [server.url], silenceTimeoutMs: 150 });
    await waitFor('a reconnect', () => server.connections.length >= 2);
    assert.ok(client.status().reconnects >= 1);
    server.setSilent(false);
    await waitFor('events', () => unique(c.delivered).length === 20);
    assert.deepEqual(unique(c.delivered), server.timeUs());
  });

  it('detects a clamped cursor and reports the gap', async () => {
    const server = await startServer({ events: makeEvents(10) });
    const c = consumer();
    const stale = T0 - 3_600_000_000; // an hour before the server's oldest event
    c.setCursor(stale);
    const gaps: Array<[number, number]> = [];
    const client = startClient(c, { hosts: [server.url], onGap: (from, to) => gaps.push([from, to]) });
    await waitFor('events', () => c.delivered.length === 10);
    assert.equal(server.connections[0]!.cursor, stale);
    assert.deepEqual(gaps, [[stale, T0]]);
    assert.equal(client.status().gaps, 1);
  });

  it("pause() stops delivery and holds the server back; resume() continues", async (t) => {
    // ~20 MB: more than socket buffers can hold, so a paused client must stall the server.
    const events = makeEvents(40_000, T0, 1_000, 450);
    const server = await startServer({ events });
    const c = consumer();
    let client: JetstreamClient | undefined;
    client = startClient(c, {
      hosts: [server.url],
      onMessage: (text, timeUs) => {
        c.onMessage(text, timeUs);
        if (c.delivered.length === 100) client!.pause();
      },
    });
    await waitFor('pause point', () => c.delivered.length === 100);
    await sleep(300);
    assert.equal(c.delivered.length, 100);
    assert.ok(server.messagesSent < events.length, `server wrote ${server.messagesSent} messages while paused`);
    t.diagnostic(`server wrote ${server.messagesSent} of ${events.length} messages while paused`);
    client.resume();
    await waitFor('all events', () => c.delivered.length === events.length, 30_000);
    assert.deepEqual(c.delivered, server.timeUs());
    assert.equal(server.connections.length, 1);
  });

  it('stop() closes promptly, also while paused, and does not reconnect', async (t) => {
    const server = await startServer({ events: makeEvents(10) });
    for (const pauseFirst of [false, true]) {
      const c = consumer();
      const client = startClient(c, { hosts: [server.url] });
      await waitFor('connected', () => client.status().state === 'connected' && c.delivered.length === 10);
      if (pauseFirst) client.pause();
      const began = Date.now();
      await client.stop();
      assert.ok(Date.now() - began < 1_000, 'stop took a second or more');
      t.diagnostic(`stop() took ${Date.now() - began} ms (paused: ${pauseFirst})`);
      assert.equal(client.status().state, 'stopped');
      await waitFor('server sees the close', () => server.openConnections === 0);
    }
    const before = server.connections.length;
    await sleep(200);
    assert.equal(server.connections.length, before);
  });

  it('negotiates permessage-deflate and forwards wantedCollections', async () => {
    const server = await startServer({ events: makeEvents(30) });
    const c = consumer();
    startClient(c, { hosts: [server.url], compress: 'deflate', collections: ['app.bsky.feed.like', 'app.bsky.graph.*'] });
    await waitFor('events', () => c.delivered.length === 20);
    await sleep(50);
    assert.equal(c.delivered.length, 20); // posts filtered out
    assert.deepEqual(c.texts.map((t) => JSON.parse(t).commit.collection).filter((x) => x === 'app.bsky.feed.post'), []);
    const conn = server.connections[0]!;
    assert.equal(conn.offeredDeflate, true);
    assert.equal(conn.compress, false);
    assert.deepEqual(conn.wantedCollections, ['app.bsky.feed.like', 'app.bsky.graph.*']);
  });
});
