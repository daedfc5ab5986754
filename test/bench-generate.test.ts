import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_START_US,
  Sfc32,
  ZipfSampler,
  generateEvents,
  hotTargets,
  makeDid,
  makeTid,
} from '../bench/generate.js';

interface StrongRef {
  uri: string;
  cid: string;
}
interface JetRecord {
  $type: string;
  createdAt?: string;
  subject?: string | StrongRef;
  list?: string;
  text?: string;
  reply?: { root: StrongRef; parent: StrongRef };
  embed?: { $type: string; record?: StrongRef & { record?: StrongRef }; external?: { uri: string } };
  facets?: Array<{ index: { byteStart: number; byteEnd: number }; features: Array<{ $type: string; did?: string; uri?: string }> }>;
}
interface Commit {
  rev: string;
  operation: 'create' | 'update' | 'delete';
  collection: string;
  rkey: string;
  record?: JetRecord;
  cid?: string;
}
interface JetEvent {
  did: string;
  time_us: number;
  kind: 'commit' | 'identity' | 'account';
  commit?: Commit;
  identity?: { did: string; handle?: string; seq: number; time: string };
  account?: { did: string; active: boolean; status?: string; seq: number; time: string };
}

const DID_RE = /^did:plc:[a-z2-7]{24}$/;
const TID_RE = /^[234567a-j][234567a-z]{12}$/;
const CID_RE = /^bafyrei[a-z2-7]{52}$/;
const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const SORT_ALPHABET = '234567abcdefghijklmnopqrstuvwxyz';

function decodeTid(tid: string): { us: number; clock: number } {
  let v = 0n;
  for (const c of tid) v = v * 32n + BigInt(SORT_ALPHABET.indexOf(c));
  return { us: Number(v >> 10n), clock: Number(v & 1023n) };
}

function countBy<T>(items: Iterable<T>): Map<T, number> {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

function mostCommon<T>(counts: Map<T, number>): T {
  return [...counts].sort((a, b) => b[1] - a[1])[0][0];
}

function subjectUri(record: JetRecord | undefined): string | undefined {
  return typeof record?.subject === 'object' ? record.subject.uri : undefined;
}

// One shared sample, generated and parsed once.
const N = 50_000;
const OPTS = { seed: 42, count: N };
const lines = [...generateEvents(OPTS)];
const events: JetEvent[] = lines.map((line) => JSON.parse(line));
const commits = events.flatMap((e) => (e.commit ? [{ did: e.did, ...e.commit }] : []));
const creates = (collection: string) => commits.filter((c) => c.operation === 'create' && c.collection === collection);

describe('bench generator', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    assert.deepEqual([...generateEvents({ seed: 42, count: 5000 })], lines.slice(0, 5000));
    const other = [...generateEvents({ seed: 43, count: 5000 })];
    assert.notEqual(other[0], lines[0]);
    assert.ok(other.filter((line, i) => line === lines[i]).length === 0);
  });

  it('the CLI prints the same lines', () => {
    const script = fileURLToPath(new URL('../bench/generate.js', import.meta.url));
    const out = execFileSync(process.execPath, [script, '--events', '300', '--seed', '42'], { encoding: 'utf8' });
    assert.equal(out, lines.slice(0, 300).join('\n') + '\n');
  });

  it('honours startUs and keeps time_us strictly increasing, a few hundred us apart', () => {
    assert.ok(events[0].time_us >= DEFAULT_START_US);
    for (let i = 1; i < events.length; i++) assert.ok(events[i].time_us > events[i - 1].time_us);
    const meanGap = (events[N - 1].time_us - events[0].time_us) / (N - 1);
    assert.ok(meanGap > 100 && meanGap < 1000, `mean gap ${meanGap}`);
    const [first] = generateEvents({ seed: 1, count: 1, startUs: 1_700_000_000_000_000 });
    assert.ok(JSON.parse(first).time_us >= 1_700_000_000_000_000);
  });

  it('every line is a Jetstream v1 event', () => {
    const lastRev = new Map<string, string>();
    for (const [i, line] of lines.entries()) {
      const e = events[i];
      assert.ok(!line.includes('\n'));
      assert.match(e.did, DID_RE);
      assert.ok(Number.isSafeInteger(e.time_us));
      assert.deepEqual(Object.keys(e), ['did', 'time_us', 'kind', e.kind], line);
      if (e.kind === 'commit') {
        const c = e.commit!;
        assert.match(c.rev, TID_RE);
        assert.ok(decodeTid(c.rev).us <= e.time_us, line);
        // Events of one repo arrive in rev order.
        assert.ok((lastRev.get(e.did) ?? '') < c.rev, line);
        lastRev.set(e.did, c.rev);
        assert.match(c.collection, /^[a-z]+(\.[a-zA-Z]+){2,}$/);
        if (c.operation === 'delete') {
          assert.equal(c.record, undefined, line);
          assert.equal(c.cid, undefined, line);
          assert.match(c.rkey, TID_RE);
          continue;
        }
        assert.ok(c.operation === 'create' || c.operation === 'update', line);
        assert.equal(c.record?.$type, c.collection, line);
        assert.match(c.cid ?? '', CID_RE);
        assert.match(c.record.createdAt ?? '', ISO_RE);
        if (c.rkey === 'self') {
          assert.equal(c.collection, 'app.bsky.actor.profile');
        } else {
          assert.match(c.rkey, TID_RE);
          assert.equal(c.operation, 'create');
          assert.ok(decodeTid(c.rev).us >= decodeTid(c.rkey).us, line);
        }
      } else if (e.kind === 'identity') {
        const id = e.identity!;
        assert.equal(id.did, e.did);
        assert.ok(Number.isSafeInteger(id.seq));
        assert.match(id.time, ISO_RE);
        if (id.handle !== undefined) assert.match(id.handle, /^[a-z0-9.]+$/);
      } else {
        assert.equal(e.kind, 'account');
        const acc = e.account!;
        assert.equal(acc.did, e.did);
        assert.equal(typeof acc.active, 'boolean');
        assert.equal(acc.status === undefined, acc.active, line);
        assert.ok(Number.isSafeInteger(acc.seq));
        assert.match(acc.time, ISO_RE);
      }
    }
  });

  it('has the target mix', () => {
    const kinds = countBy(
      events.map((e) => {
        const c = e.commit;
        if (!c) return e.kind;
        return c.operation === 'create' ? c.collection : c.operation;
      }),
    );
    const share = (...keys: string[]) => keys.reduce((sum, k) => sum + (kinds.get(k) ?? 0), 0) / N;
    const near = (actual: number, target: number, what: string) =>
      assert.ok(Math.abs(actual - target) < 0.015, `${what}: ${actual} vs ${target}`);
    near(share('app.bsky.feed.like'), 0.45, 'likes');
    near(share('app.bsky.graph.follow'), 0.3, 'follows');
    near(share('app.bsky.feed.post'), 0.1, 'posts');
    near(share('app.bsky.feed.repost'), 0.07, 'reposts');
    near(share('delete'), 0.05, 'deletes');
    const rest = ['app.bsky.graph.block', 'app.bsky.graph.listitem', 'fyi.unravel.frontpage.vote', 'update', 'account', 'identity'];
    near(share(...rest), 0.03, 'other');
    for (const kind of rest) assert.ok((kinds.get(kind) ?? 0) > 0, kind);
    assert.ok(events.some((e) => e.account?.active === true), 'reactivations');
    assert.ok(events.some((e) => e.account?.status === 'deactivated'), 'deactivations');
  });

  it('writes posts with replies, quotes, media, mentions and links', () => {
    const posts = creates('app.bsky.feed.post').map((c) => c.record!);
    const embeds = countBy(posts.map((p) => p.embed?.$type ?? 'none'));
    for (const type of ['app.bsky.embed.record', 'app.bsky.embed.recordWithMedia', 'app.bsky.embed.images', 'app.bsky.embed.external']) {
      assert.ok((embeds.get(type) ?? 0) > posts.length * 0.02, type);
    }
    assert.ok(posts.filter((p) => p.reply).length > posts.length * 0.2);
    for (const p of posts) {
      if (p.embed?.$type === 'app.bsky.embed.recordWithMedia') assert.match(p.embed.record?.record?.uri ?? '', /\/app\.bsky\.feed\.post\//);
      for (const facet of p.facets ?? []) {
        const covered = Buffer.from(p.text!).subarray(facet.index.byteStart, facet.index.byteEnd).toString();
        const [feature] = facet.features;
        if (feature.$type === 'app.bsky.richtext.facet#mention') {
          assert.match(feature.did!, DID_RE);
          assert.match(covered, /^@user[a-z0-9]+\.bsky\.social$/);
        } else {
          assert.equal(feature.$type, 'app.bsky.richtext.facet#link');
          assert.match(feature.uri!, /^https:\/\//);
          assert.ok(feature.uri!.startsWith('https://' + covered.replace(/\.\.\.$/, '')), covered);
        }
      }
    }
    const facetTypes = countBy(posts.flatMap((p) => (p.facets ?? []).map((f) => f.features[0].$type)));
    assert.ok((facetTypes.get('app.bsky.richtext.facet#mention') ?? 0) > posts.length * 0.05);
    assert.ok((facetTypes.get('app.bsky.richtext.facet#link') ?? 0) > posts.length * 0.04);
    const pinned = commits.filter((c) => c.operation === 'update' && (c.record as { pinnedPost?: StrongRef }).pinnedPost);
    assert.ok(pinned.length > 0);
  });

  it('deletes only records it created earlier, each once', () => {
    const live = new Set<string>();
    let deletes = 0;
    for (const c of commits) {
      const key = `${c.did}/${c.collection}/${c.rkey}`;
      if (c.operation === 'create') {
        assert.ok(!live.has(key), `duplicate create ${key}`);
        live.add(key);
      } else if (c.operation === 'delete') {
        assert.ok(live.delete(key), `delete of unknown record ${key}`);
        deletes++;
      }
    }
    assert.ok(deletes > N * 0.04);
  });

  it('links mostly to posts it created, with Zipf-skewed popularity matching hotTargets', () => {
    const created = new Set<string>();
    const likeSubjects: string[] = [];
    let seen = 0;
    for (const c of commits) {
      if (c.operation !== 'create') continue;
      if (c.collection === 'app.bsky.feed.post') created.add(`at://${c.did}/${c.collection}/${c.rkey}`);
      if (c.collection === 'app.bsky.feed.like') {
        const uri = subjectUri(c.record)!;
        likeSubjects.push(uri);
        if (created.has(uri)) seen++;
      }
    }
    assert.ok(seen / likeSubjects.length > 0.6, `liked posts created earlier: ${seen / likeSubjects.length}`);
    assert.ok(seen / likeSubjects.length < 0.95, 'some likes go to cold, unseen posts');

    const likes = countBy(likeSubjects);
    const sorted = [...likes.values()].sort((a, b) => b - a);
    const median = sorted[Math.floor(sorted.length / 2)];
    assert.ok(sorted[0] >= 50 * median, `max ${sorted[0]} vs median ${median}`);

    const hot = hotTargets(OPTS);
    assert.equal(hot.hotPosts.length, 10);
    assert.equal(mostCommon(likes), hot.hotPosts[0]);
    assert.ok((likes.get(hot.hotPosts[0]) ?? 0) > (likes.get(hot.hotPosts[9]) ?? 0));
    assert.ok(hot.coldPost !== undefined && (likes.get(hot.coldPost) ?? 0) < sorted[0] / 20);

    const follows = countBy(creates('app.bsky.graph.follow').map((c) => c.record!.subject as string));
    assert.equal(mostCommon(follows), hot.hotAccounts[0]);
    assert.ok((follows.get(hot.coldAccount) ?? 0) <= 1);
    const followCounts = [...follows.values()].sort((a, b) => b - a);
    assert.ok(followCounts[0] >= 50 * followCounts[Math.floor(followCounts.length / 2)]);

    assert.equal(mostCommon(countBy(creates('app.bsky.graph.listitem').map((c) => c.record!.list!))), hot.hotList);
    const links = creates('app.bsky.feed.post').flatMap((c) => [
      ...(c.record!.facets ?? []).flatMap((f) => f.features.flatMap((x) => (x.uri ? [x.uri] : []))),
      ...(c.record!.embed?.external ? [c.record!.embed.external.uri] : []),
    ]);
    assert.equal(mostCommon(countBy(links)), hot.hotLink);
  });

  it('list items live in the list owner repo', () => {
    for (const c of creates('app.bsky.graph.listitem')) assert.ok(c.record!.list!.startsWith(`at://${c.did}/app.bsky.graph.list/`));
  });

  it('has realistic event sizes', () => {
    const mean = lines.reduce((sum, line) => sum + Buffer.byteLength(line), 0) / N;
    assert.ok(mean >= 400 && mean <= 600, `mean ${mean} bytes`);
  });
});

describe('bench generator helpers', () => {
  it('makeTid encodes microseconds and clock id, sorting like time', () => {
    let prev = '';
    for (const us of [DEFAULT_START_US, DEFAULT_START_US + 1, DEFAULT_START_US + 2 ** 30, 2 ** 52 + 12345]) {
      const tid = makeTid(us, 517);
      assert.match(tid, TID_RE);
      assert.deepEqual(decodeTid(tid), { us, clock: 517 });
      assert.ok(tid > prev);
      prev = tid;
    }
  });

  it('makeDid is a valid, injective did:plc', () => {
    const dids = new Set<string>();
    for (let n = 0; n < 100_000; n++) dids.add(makeDid(n));
    assert.equal(dids.size, 100_000);
    for (const did of [...dids].slice(0, 1000)) assert.match(did, DID_RE);
  });

  it('ZipfSampler follows k^-s within [1, n]', () => {
    for (const s of [1, 1.1]) {
      const zipf = new ZipfSampler(1_000_000, s);
      const rng = new Sfc32(9);
      const counts = new Map<number, number>();
      for (let i = 0; i < 200_000; i++) {
        const k = zipf.sample(rng);
        assert.ok(Number.isInteger(k) && k >= 1 && k <= 1_000_000);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      const ratio = counts.get(1)! / counts.get(2)!;
      assert.ok(Math.abs(ratio - 2 ** s) < 0.15, `s=${s}: P(1)/P(2) = ${ratio}`);
    }
  });
});
