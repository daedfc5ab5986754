/**
 * Deterministic generator of realistic Jetstream v1 events for the benchmark.
 *
 * Same seed and options give byte-identical output. The benchmark generates tens of millions of
 * events, so each one is written as UTF-8 bytes into one reusable buffer and decoded once into a
 * flat string: no per-event objects, no JSON.stringify, no chains of concatenated strings. Every
 * generated value comes from alphabets and corpora that need no JSON escaping.
 *
 * CLI: node dist/bench/generate.js --events N --seed S [--start-us T] [--accounts A] [--posts P] > out.jsonl
 */
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface GenerateOptions {
  seed: number;
  count: number;
  /** time_us of the first event (default 1_783_000_000_000_000). */
  startUs?: number;
  /** Number of distinct accounts (default 1,000,000). */
  accounts?: number;
  /** Number of generator-created posts kept as link targets (default 100,000). */
  posts?: number;
}

export const DEFAULT_START_US = 1_783_000_000_000_000;
const DEFAULT_ACCOUNTS = 1_000_000;
const DEFAULT_POSTS = 100_000;

// ---------------------------------------------------------------------------------------------
// Randomness

/** Bijective 32-bit integer hash (lowbias32), so distinct inputs give distinct outputs. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** sfc32: small, fast, passes PractRand; seeded from up to 53 bits of the seed. */
export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    this.a = mix32(lo ^ 0x9e3779b9);
    this.b = mix32(hi ^ 0x85ebca6b);
    this.c = mix32((lo + hi + 0xc2b2ae35) >>> 0);
    for (let i = 0; i < 16; i++) this.u32(); // decorrelate nearby seeds
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }
}

/**
 * Zipf sampler over ranks 1..n with P(k) ∝ k^-s, by rejection-inversion (Hörmann & Derflinger
 * 1996, as in Apache Commons): O(1) per sample and no table, so n can be millions.
 */
export class ZipfSampler {
  private readonly hX1: number;
  private readonly hN: number;
  private readonly squeeze: number;

  constructor(
    readonly n: number,
    readonly s: number,
  ) {
    this.hX1 = this.hIntegral(1.5) - 1;
    this.hN = this.hIntegral(n + 0.5);
    this.squeeze = 2 - this.hIntegralInverse(this.hIntegral(2.5) - this.h(2));
  }

  sample(rng: Sfc32): number {
    for (;;) {
      const u = this.hN + rng.float() * (this.hX1 - this.hN);
      const x = this.hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > this.n) k = this.n;
      if (k - x <= this.squeeze || u >= this.hIntegral(k + 0.5) - this.h(k)) return k;
    }
  }

  private h(x: number): number {
    return Math.exp(-this.s * Math.log(x));
  }

  private hIntegral(x: number): number {
    const logX = Math.log(x);
    return expm1OverX((1 - this.s) * logX) * logX;
  }

  private hIntegralInverse(x: number): number {
    let t = x * (1 - this.s);
    if (t < -1) t = -1; // guards rounding at the domain edge
    return Math.exp(log1pOverX(t) * x);
  }
}

/** log1p(x)/x, continuous at 0 (s = 1 makes the argument 0). */
function log1pOverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

/** expm1(x)/x, continuous at 0. */
function expm1OverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x));
}

// ---------------------------------------------------------------------------------------------
// Byte writer: JSON pieces, DIDs, TIDs, CIDs and timestamps straight into a buffer.

const B32 = codes('abcdefghijklmnopqrstuvwxyz234567'); // did:plc and CID (multibase 'b') alphabet
const B32_SORT = codes('234567abcdefghijklmnopqrstuvwxyz'); // TID alphabet, sorts like the number
const US_2_30 = 1073741824;

function codes(alphabet: string): Uint8Array {
  return Uint8Array.from(alphabet, (c) => c.charCodeAt(0));
}

/** Per-account clock id, stable like a PDS's, so rkeys and revs of one repo share their tail. */
function clockOf(account: number): number {
  return mix32(account ^ 0x5bd1e995) & 1023;
}

class ByteWriter {
  private readonly buf: Buffer;
  private pos = 0;
  // ISO-8601 prefixes ("2026-07-04T14:38:08.") of the few seconds live at once, keyed by second & 3.
  private readonly isoSecs = new Float64Array(4).fill(-1);
  private readonly isoPrefixes = [new Uint8Array(20), new Uint8Array(20), new Uint8Array(20), new Uint8Array(20)];

  /** `size` must exceed anything written between two take() calls: writes are not bounds-checked. */
  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }

  take(): string {
    const s = this.buf.toString('utf8', 0, this.pos);
    this.pos = 0;
    return s;
  }

  /** ASCII text (literals and generated identifiers). */
  ascii(s: string): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  bytes(src: Uint8Array, start: number, end: number): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = start; i < end; i++) buf[p++] = src[i];
    this.pos = p;
  }

  /** A non-negative safe integer in decimal. */
  uint(n: number): void {
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    let p = (this.pos += digits);
    do {
      const q = Math.floor(n / 10);
      this.buf[--p] = 48 + n - q * 10;
      n = q;
    } while (n > 0);
  }

  /** The low `chars` 5-bit groups of x (at most 6), most significant first. */
  private base32(alphabet: Uint8Array, x: number, chars: number): void {
    const buf = this.buf;
    const p = this.pos;
    for (let i = chars - 1; i >= 0; i--) {
      buf[p + i] = alphabet[x & 31];
      x >>>= 5;
    }
    this.pos = p + chars;
  }

  /** did:plc for an account index; injective because the first 32 bits are a bijection of n. */
  did(n: number): void {
    const a = mix32((n + 0x6a09e667) >>> 0); // offset so that account 0 does not start with 'aaaaaa'
    const b = mix32(a ^ 0x9e3779b9);
    const c = mix32(b ^ 0x85ebca6b);
    const d = mix32(c ^ 0xc2b2ae35);
    this.ascii('did:plc:');
    this.base32(B32, a, 6); // bits 0-29 of a
    this.base32(B32, (a >>> 30) | ((b & 0xfffffff) << 2), 6); // bits 30-31 of a, 28 bits of b
    this.base32(B32, c, 6);
    this.base32(B32, d, 6);
  }

  /**
   * TID: 13 base32-sortable chars of (us << 10 | clock). us (< 2^53) is split at bit 30 so each
   * part fits 32-bit integer math: 5 chars of high, 6 of low, 2 of clock.
   */
  tid(us: number, clock: number): void {
    const high = Math.floor(us / US_2_30);
    this.base32(B32_SORT, high, 5);
    this.base32(B32_SORT, us - high * US_2_30, 6);
    this.base32(B32_SORT, clock, 2);
  }

  /** CID-shaped string ('bafyrei' records, 'bafkrei' blobs, + 52 base32 chars), a pure function of (a, b). */
  cid(prefix: string, a: number, b: number): void {
    this.ascii(prefix);
    let x = mix32(a ^ mix32(b));
    for (let i = 0; i < 8; i++) {
      x = mix32((x + 0x9e3779b9) >>> 0);
      this.base32(B32, x, 6);
    }
    this.base32(B32, mix32((x + 0x9e3779b9) >>> 0), 4);
  }

  /** ISO-8601 UTC with milliseconds, e.g. 2026-07-04T14:38:08.999Z. */
  iso(us: number): void {
    const ms = Math.floor(us / 1000);
    const sec = Math.floor(ms / 1000);
    const slot = sec & 3;
    if (this.isoSecs[slot] !== sec) {
      this.isoSecs[slot] = sec;
      this.isoPrefixes[slot].set(Buffer.from(new Date(sec * 1000).toISOString().slice(0, 20), 'latin1'));
    }
    this.bytes(this.isoPrefixes[slot], 0, 20);
    const frac = ms - sec * 1000;
    this.buf[this.pos++] = 48 + Math.floor(frac / 100);
    this.buf[this.pos++] = 48 + (Math.floor(frac / 10) % 10);
    this.buf[this.pos++] = 48 + (frac % 10);
    this.buf[this.pos++] = 90; // 'Z'
  }
}

const scratch = new ByteWriter(1024);

/** Renders one identifier with the same code as the events (off the hot path). */
function render(write: (w: ByteWriter) => void): string {
  write(scratch);
  return scratch.take();
}

export function makeDid(n: number): string {
  return render((w) => w.did(n));
}

export function makeTid(us: number, clock: number): string {
  return render((w) => w.tid(us, clock));
}

export function makeHandle(n: number): string {
  return `user${n.toString(36)}.bsky.social`;
}

// ---------------------------------------------------------------------------------------------
// Text: per-language corpora built once from small word lists; post text is a UTF-8 slice of one.
// No quotes or backslashes, so nothing needs JSON escaping.

const WORDS: Record<string, string> = {
  en:
    'the a and to of in is it that this for you on with just so but not was be are have my like what about from all ' +
    'they we really people time today one new good think know get now more out if when how who would can day love ' +
    'still going see make want first last year week night morning coffee cat dog music game book art city weather ' +
    'news work home team friends thread post photo video looks great beautiful wild honestly finally maybe always ' +
    'never again here there every little big long best worst right wrong story world life thing something nothing ' +
    'everyone please thanks happy tired excited weekend summer election vote science space ocean garden train bike ' +
    'walk dinner lunch pizza tea rain sun snow birds painting drawing commission stream tonight tomorrow lol wow ✨ ♥',
  pt:
    'o a e de que não um uma para com muito mais hoje amanhã gente eu você isso esse tá bom dia noite trabalho casa ' +
    'amor saudade coração vida tempo jogo música filme livro cidade chuva sol café obrigado demais sempre nunca agora ' +
    'também porque então aqui lá kkkk né mano galera eleição futebol praia',
  de:
    'der die das und ist nicht ein eine ich du wir heute morgen schön gut Zeit Arbeit Haus Kaffee Wetter wirklich ' +
    'immer noch schon auch aber über für mit Leute Stadt Zug Buch Musik Spiel endlich vielleicht genau natürlich ' +
    'Grüße Wochenende Sonne Regen',
  es:
    'el la los las de que y en un una por con para muy hoy mañana gente yo tú esto bueno día noche trabajo casa amor ' +
    'vida tiempo música película libro ciudad lluvia sol café gracias siempre nunca ahora también porque aquí jaja',
  ja:
    '今日は とても 楽しかった ありがとう また明日 猫 かわいい 天気 いい 雨 です ね よ ました ゲーム 音楽 映画 本 仕事 ' +
    '疲れた コーヒー 美味しい 写真 桜 夏 休み 電車 友達 最高 本当に ちょっと なんか みんな おはよう おやすみ 、 。 ！ ✨',
};

interface Lang {
  code: string;
  /** Cumulative weight. */
  until: number;
  corpus: Buffer;
}

/** Languages by share of posts (English dominates, as on the network). */
const LANGS: Lang[] = (
  [
    ['en', 0.55],
    ['ja', 0.15],
    ['pt', 0.12],
    ['es', 0.1],
    ['de', 0.08],
  ] as const
).map(([code, weight], i, all) => ({
  code,
  until: all.slice(0, i + 1).reduce((sum, [, w]) => sum + w, 0),
  corpus: buildCorpus(WORDS[code], code === 'ja' ? '' : ' '),
}));
const EN_CORPUS = LANGS[0].corpus;
const EN_WORDS = WORDS.en.split(' ').filter((word) => /^[a-z]+$/.test(word));

function buildCorpus(words: string, sep: string): Buffer {
  const list = words.split(' ');
  const rng = new Sfc32(0x5eed);
  return Buffer.from(Array.from({ length: 6000 }, () => list[rng.below(list.length)]).join(sep));
}

/** https link number j (Zipf-ranked by the caller): a few big sites, deterministic paths. */
function linkUrl(j: number): string {
  const h = mix32(j ^ 0x27d4eb2d);
  const w = (k: number) => EN_WORDS[mix32(h + k) % EN_WORDS.length];
  switch (j % 5) {
    case 0:
      return `https://www.youtube.com/watch?v=${h.toString(36)}${j}`;
    case 1:
      return `https://en.wikipedia.org/wiki/${w(1)}_${w(2)}_${j}`;
    case 2:
      return `https://github.com/${w(1)}${j}/${w(2)}-${w(3)}`;
    case 3:
      return `https://www.nytimes.com/2026/07/04/us/${w(1)}-${w(2)}-${w(3)}-${j}.html`;
    default:
      return `https://${w(1)}${j}.substack.com/p/${w(2)}-${w(3)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Mix and model parameters

const LIKE = 1;
const FOLLOW = 2;
const POST = 3;
const REPOST = 4;
const BLOCK = 5;
const LISTITEM = 6;
const VOTE = 7;
const COLLECTIONS = [
  '',
  'app.bsky.feed.like',
  'app.bsky.graph.follow',
  'app.bsky.feed.post',
  'app.bsky.feed.repost',
  'app.bsky.graph.block',
  'app.bsky.graph.listitem',
  'fyi.unravel.frontpage.vote',
];

/** Cumulative event mix: likes 45%, follows 30%, posts 10%, reposts 7%, deletes 5%, the rest 3%. */
const P_LIKE = 0.45;
const P_FOLLOW = P_LIKE + 0.3;
const P_POST = P_FOLLOW + 0.1;
const P_REPOST = P_POST + 0.07;
const P_DELETE = P_REPOST + 0.05;
const P_BLOCK = P_DELETE + 0.011;
const P_LISTITEM = P_BLOCK + 0.009;
const P_VOTE = P_LISTITEM + 0.006;
const P_PROFILE = P_VOTE + 0.002;
const P_ACCOUNT = P_PROFILE + 0.001; // identity events take the remaining 0.001

const ZIPF_S = 1.05;
/** Share of actions by a Zipf-skewed set of very active accounts; the rest are uniform. */
const ACTIVE_SHARE = 0.3;
/** Post link targets: popular posts (stable Zipf ranks), recent posts (uniform), else unseen posts. */
const HEAD_SHARE = 0.35;
const RECENT_SHARE = 0.5;
/** Every HEAD_STRIDE-th post joins the popular head until it is full, the others the recent ring. */
const HEAD_STRIDE = 10;
/** Recent posts are only picked once this many exist, so the very first ones are not flooded. */
const MIN_RECENT = 256;
const COLD_WINDOW_US = 30 * 86_400_000_000;
const CREATES_RING = 1 << 16;
const REPOSTS_RING = 1 << 12;
const LISTS = 1000;
const VOTE_TARGETS = 1000;
const LINKS = 100_000;
const SEQ_BASE = 31_527_000_000;
/** Jetstream receives a commit this long after its rev was minted; constant, so revs of a repo grow. */
const REV_LAG_US = 250_000;
/** How long before the commit the client minted the rkey, per collection (posts take longest). */
const RKEY_LAG_US = [0, 30_000, 30_000, 900_000, 40_000, 30_000, 30_000, 50_000];

function firstCoprime(n: number, candidates: number[]): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return candidates.find((c) => gcd(c, n) === 1) ?? 1;
}

// ---------------------------------------------------------------------------------------------
// The generator

export class JetstreamGenerator {
  readonly accounts: number;
  readonly startUs: number;
  private readonly rng: Sfc32;
  /** Far larger than any event (the biggest post is under 8 KB). */
  private readonly w = new ByteWriter(1 << 16);
  private nowUs: number;
  private emitted = 0;

  private readonly accountZipf: ZipfSampler;
  private readonly headZipf: ZipfSampler;
  private readonly listZipf = new ZipfSampler(LISTS, ZIPF_S);
  private readonly voteZipf = new ZipfSampler(VOTE_TARGETS, ZIPF_S);
  private readonly linkZipf = new ZipfSampler(LINKS, ZIPF_S);
  private readonly actorStride: number;

  // Generator-created posts as (author, rkey time), from which uri and cid derive: a head of
  // popular posts with fixed Zipf ranks, and a ring of recent posts.
  private readonly headAuthor: Int32Array;
  private readonly headUs: Float64Array;
  headCount = 0;
  private readonly ringAuthor: Int32Array;
  private readonly ringUs: Float64Array;
  ringTotal = 0;
  private postTotal = 0;
  // The post chosen by the last pickPost().
  private refAuthor = 0;
  private refUs = 0;

  // Recent creates that a delete may target; code 0 marks a slot already deleted.
  private readonly crActor = new Int32Array(CREATES_RING);
  private readonly crUs = new Float64Array(CREATES_RING);
  private readonly crCode = new Uint8Array(CREATES_RING);
  private crTotal = 0;

  // Recent reposts, so a like or repost can carry a consistent `via`.
  private readonly rpActor = new Int32Array(REPOSTS_RING);
  private readonly rpUs = new Float64Array(REPOSTS_RING);
  private readonly rpSubjectAuthor = new Int32Array(REPOSTS_RING);
  private readonly rpSubjectUs = new Float64Array(REPOSTS_RING);
  private rpTotal = 0;

  // Accounts that must not act: deactivated/taken down (FIFO, reactivated later) or deleted.
  private readonly inactive = new Set<number>();
  private readonly suspended: number[] = [];

  constructor(opts: Omit<GenerateOptions, 'count'>) {
    this.accounts = opts.accounts ?? DEFAULT_ACCOUNTS;
    this.startUs = opts.startUs ?? DEFAULT_START_US;
    const posts = opts.posts ?? DEFAULT_POSTS;
    if (!Number.isSafeInteger(opts.seed)) throw new RangeError('seed must be an integer');
    if (!Number.isSafeInteger(this.accounts) || this.accounts < 2 || this.accounts > 2 ** 31) {
      throw new RangeError('accounts must be an integer in [2, 2^31]');
    }
    if (!Number.isSafeInteger(posts) || posts < 2) throw new RangeError('posts must be an integer >= 2');
    if (!Number.isSafeInteger(this.startUs) || this.startUs <= COLD_WINDOW_US) {
      throw new RangeError('startUs must be unix microseconds');
    }
    this.rng = new Sfc32(opts.seed);
    this.nowUs = this.startUs - 1;
    this.accountZipf = new ZipfSampler(this.accounts, ZIPF_S);
    this.actorStride = firstCoprime(this.accounts, [1_000_003, 1_000_033, 1_000_037]);
    const headSize = Math.max(1, Math.floor(posts / HEAD_STRIDE));
    const ringSize = Math.max(1, posts - headSize);
    this.headZipf = new ZipfSampler(headSize, ZIPF_S);
    this.headAuthor = new Int32Array(headSize);
    this.headUs = new Float64Array(headSize);
    this.ringAuthor = new Int32Array(ringSize);
    this.ringUs = new Float64Array(ringSize);
  }

  /** The next event as one JSON line (without newline). */
  next(): string {
    this.nowUs += 1 + (this.rng.u32() % 599); // ~300 us apart: ~3,300 events/s of simulated time
    this.emitted++;
    const r = this.rng.float();
    if (r < P_LIKE) this.like();
    else if (r < P_FOLLOW) this.didSubject(FOLLOW);
    else if (r < P_POST) this.post();
    else if (r < P_REPOST) this.repost();
    else if (r < P_DELETE) this.delete();
    else if (r < P_BLOCK) this.didSubject(BLOCK);
    else if (r < P_LISTITEM) this.listItem();
    else if (r < P_VOTE) this.vote();
    else if (r < P_PROFILE) this.profile();
    else if (r < P_ACCOUNT) this.account();
    else this.identity();
    return this.w.take();
  }

  /** at-uri of the post with popularity rank k (0 = most linked), once created. */
  headPostUri(k: number): string | undefined {
    return k < this.headCount ? render((w) => writePostUri(w, this.headAuthor[k], this.headUs[k])) : undefined;
  }

  /** at-uri of the post in recent-ring slot 0: the first recent post until the ring wraps. */
  firstRecentPostUri(): string | undefined {
    return this.ringTotal > 0 ? render((w) => writePostUri(w, this.ringAuthor[0], this.ringUs[0])) : undefined;
  }

  listUri(j: number): string {
    return render((w) => this.writeListUri(w, j));
  }

  // -- actors and targets --------------------------------------------------------------------

  /**
   * The account performing an action: uniform over the long tail, or (ACTIVE_SHARE) Zipf over a
   * permutation of accounts, so the most active accounts are not also the most followed.
   */
  private pickActor(): number {
    for (;;) {
      const a =
        this.rng.float() < ACTIVE_SHARE
          ? ((this.accountZipf.sample(this.rng) - 1) * this.actorStride + (this.accounts >> 1)) % this.accounts
          : this.rng.below(this.accounts);
      if (!this.inactive.has(a)) return a;
    }
  }

  /** A linked account: Zipf by index, so account 0 is the most followed/mentioned/blocked. */
  private pickSubjectAccount(actor: number): number {
    const s = this.accountZipf.sample(this.rng) - 1;
    return s === actor ? (s + 1) % this.accounts : s;
  }

  /** Chooses a post to link to and leaves it in refAuthor/refUs. */
  private pickPost(): void {
    const r = this.rng.float();
    if (r < HEAD_SHARE) {
      const k = this.headZipf.sample(this.rng) - 1;
      if (k < this.headCount) {
        this.refAuthor = this.headAuthor[k];
        this.refUs = this.headUs[k];
        return;
      }
    }
    if (r < HEAD_SHARE + RECENT_SHARE && this.pickRecentPost()) return;
    // A post from before the stream, never seen by an indexer fed only by this generator.
    this.refAuthor = this.rng.below(this.accounts);
    this.refUs = this.startUs - 1 - this.rng.below(COLD_WINDOW_US);
  }

  private pickRecentPost(): boolean {
    const filled = Math.min(this.ringTotal, this.ringUs.length);
    if (filled < Math.min(MIN_RECENT, this.ringUs.length)) return false;
    const i = this.rng.below(filled);
    this.refAuthor = this.ringAuthor[i];
    this.refUs = this.ringUs[i];
    return true;
  }

  /** Records a new post as a link target; returns false for head posts, which are never deleted. */
  private rememberPost(author: number, us: number): boolean {
    const q = this.postTotal++;
    if (q % HEAD_STRIDE === 0 && this.headCount < this.headUs.length) {
      this.headAuthor[this.headCount] = author;
      this.headUs[this.headCount++] = us;
      return false;
    }
    const i = this.ringTotal++ % this.ringUs.length;
    this.ringAuthor[i] = author;
    this.ringUs[i] = us;
    return true;
  }

  private listOwner(j: number): number {
    return mix32(j ^ 0x1b873593) % this.accounts;
  }

  private writeListUri(w: ByteWriter, j: number): void {
    const owner = this.listOwner(j);
    w.ascii('at://');
    w.did(owner);
    w.ascii('/app.bsky.graph.list/');
    w.tid(this.startUs - (j + 1) * 3_600_000_000, clockOf(owner));
  }

  // -- event builders ------------------------------------------------------------------------

  /** `{"did":...,"commit":{"rev":...,"rkey":"` — the caller writes the rkey next. */
  private commitHead(actor: number, operation: string, collection: string): void {
    const w = this.w;
    w.ascii('{"did":"');
    w.did(actor);
    w.ascii('","time_us":');
    w.uint(this.nowUs);
    w.ascii(',"kind":"commit","commit":{"rev":"');
    w.tid(this.nowUs - REV_LAG_US, clockOf(actor));
    w.ascii('","operation":"');
    w.ascii(operation);
    w.ascii('","collection":"');
    w.ascii(collection);
    w.ascii('","rkey":"');
  }

  /** Writes a create through the record's createdAt; the caller writes the other record fields. */
  private beginCreate(actor: number, code: number, rkeyUs: number): void {
    const w = this.w;
    this.commitHead(actor, 'create', COLLECTIONS[code]);
    w.tid(rkeyUs, clockOf(actor));
    w.ascii('","record":{"$type":"');
    w.ascii(COLLECTIONS[code]);
    w.ascii('","createdAt":"');
    w.iso(rkeyUs);
    w.ascii('"');
  }

  /** Closes the record and the event, and remembers the record as a delete candidate when `deletable`. */
  private endCreate(actor: number, code: number, rkeyUs: number, deletable = true): void {
    this.w.ascii('},"cid":"');
    writeRecordCid(this.w, actor, rkeyUs, code);
    this.w.ascii('"}}');
    if (deletable) {
      const i = this.crTotal++ % CREATES_RING;
      this.crActor[i] = actor;
      this.crUs[i] = rkeyUs;
      this.crCode[i] = code;
    }
  }

  private rkeyUs(code: number): number {
    return this.nowUs - REV_LAG_US - RKEY_LAG_US[code];
  }

  private like(): void {
    this.subjectRecord(LIKE, 0.1);
  }

  private repost(): void {
    const i = this.rpTotal % REPOSTS_RING;
    const actor = this.subjectRecord(REPOST, 0.15);
    this.rpActor[i] = actor;
    this.rpUs[i] = this.rkeyUs(REPOST);
    this.rpSubjectAuthor[i] = this.refAuthor;
    this.rpSubjectUs[i] = this.refUs;
    this.rpTotal++;
  }

  /**
   * Like or repost of a post; with probability viaShare it goes "via" a recent repost, and then
   * its subject is that repost's subject. Returns the actor.
   */
  private subjectRecord(code: number, viaShare: number): number {
    const actor = this.pickActor();
    const rkeyUs = this.rkeyUs(code);
    const via = this.rpTotal > 0 && this.rng.float() < viaShare ? this.rng.below(Math.min(this.rpTotal, REPOSTS_RING)) : -1;
    if (via >= 0) {
      this.refAuthor = this.rpSubjectAuthor[via];
      this.refUs = this.rpSubjectUs[via];
    } else {
      this.pickPost();
    }
    this.beginCreate(actor, code, rkeyUs);
    this.w.ascii(',"subject":');
    writeStrongRef(this.w, this.refAuthor, this.refUs);
    if (via >= 0) {
      const reposter = this.rpActor[via];
      const us = this.rpUs[via];
      this.w.ascii(',"via":{"cid":"');
      writeRecordCid(this.w, reposter, us, REPOST);
      this.w.ascii('","uri":"at://');
      this.w.did(reposter);
      this.w.ascii('/app.bsky.feed.repost/');
      this.w.tid(us, clockOf(reposter));
      this.w.ascii('"}');
    }
    this.endCreate(actor, code, rkeyUs);
    return actor;
  }

  /** Follow or block: the subject is a DID. */
  private didSubject(code: number): void {
    const actor = this.pickActor();
    const rkeyUs = this.rkeyUs(code);
    this.beginCreate(actor, code, rkeyUs);
    this.w.ascii(',"subject":"');
    this.w.did(this.pickSubjectAccount(actor));
    this.w.ascii('"');
    this.endCreate(actor, code, rkeyUs);
  }

  /** List items live in the list owner's repo; a few big lists get most members. */
  private listItem(): void {
    const j = this.listZipf.sample(this.rng) - 1;
    const owner = this.listOwner(j);
    const rkeyUs = this.rkeyUs(LISTITEM);
    this.beginCreate(owner, LISTITEM, rkeyUs);
    this.w.ascii(',"list":"');
    this.writeListUri(this.w, j);
    this.w.ascii('","subject":"');
    this.w.did(this.pickSubjectAccount(owner));
    this.w.ascii('"');
    this.endCreate(owner, LISTITEM, rkeyUs);
  }

  /** A non-Bluesky lexicon whose subject is a nested strong ref (Frontpage posts, Zipf-ranked). */
  private vote(): void {
    const actor = this.pickActor();
    const rkeyUs = this.rkeyUs(VOTE);
    const j = this.voteZipf.sample(this.rng) - 1;
    const owner = mix32(j ^ 0x68e31da4) % this.accounts;
    const us = this.startUs - (j + 1) * 600_000_000;
    const w = this.w;
    this.beginCreate(actor, VOTE, rkeyUs);
    w.ascii(',"subject":{"cid":"');
    writeRecordCid(w, owner, us, VOTE);
    w.ascii('","uri":"at://');
    w.did(owner);
    w.ascii('/fyi.unravel.frontpage.post/');
    w.tid(us, clockOf(owner));
    w.ascii('"}');
    this.endCreate(actor, VOTE, rkeyUs);
  }

  private post(): void {
    const rng = this.rng;
    const w = this.w;
    const actor = this.pickActor();
    const rkeyUs = this.rkeyUs(POST);
    this.beginCreate(actor, POST, rkeyUs);

    let url = '';
    const e = rng.float();
    if (e < 0.08) {
      this.pickPost();
      w.ascii(',"embed":{"$type":"app.bsky.embed.record","record":');
      writeStrongRef(w, this.refAuthor, this.refUs);
      w.ascii('}');
    } else if (e < 0.11) {
      this.pickPost();
      w.ascii(',"embed":{"$type":"app.bsky.embed.recordWithMedia","media":');
      this.images();
      w.ascii(',"record":{"$type":"app.bsky.embed.record","record":');
      writeStrongRef(w, this.refAuthor, this.refUs);
      w.ascii('}}');
    } else if (e < 0.26) {
      w.ascii(',"embed":');
      this.images();
    } else if (e < 0.32) {
      url = linkUrl(this.linkZipf.sample(rng) - 1);
      w.ascii(',"embed":');
      this.external(url);
    }

    // Text is a corpus slice plus, for a facet, a mention or a shortened link at its end; the
    // facet's byte range is known before the text is written.
    const lang = this.pickLang();
    const u = rng.float();
    const chars = u < 0.25 ? 5 + rng.below(35) : u < 0.75 ? 40 + rng.below(110) : 150 + rng.below(140);
    const [start, end] = corpusSlice(lang.corpus, rng, lang.code === 'ja' ? chars * 2 : chars);
    let suffix = '';
    const f = rng.float();
    if (f < 0.1) {
      const mentioned = this.pickSubjectAccount(actor);
      suffix = ` @${makeHandle(mentioned)}`;
      w.ascii(',"facets":[{"features":[{"$type":"app.bsky.richtext.facet#mention","did":"');
      w.did(mentioned);
    } else if (f < 0.18) {
      url ||= linkUrl(this.linkZipf.sample(rng) - 1);
      suffix = ' ' + (url.length > 38 ? url.slice(8, 35) + '...' : url.slice(8)); // as clients shorten links
      w.ascii(',"facets":[{"features":[{"$type":"app.bsky.richtext.facet#link","uri":"');
      w.ascii(url);
    }
    if (suffix) {
      const textBytes = end - start;
      w.ascii(`"}],"index":{"byteEnd":${textBytes + suffix.length},"byteStart":${textBytes + 1}}}]`);
    }

    if (rng.float() < 0.95) w.ascii(`,"langs":["${lang.code}"]`);
    if (rng.float() < 0.3) this.reply();
    w.ascii(',"text":"');
    w.bytes(lang.corpus, start, end);
    w.ascii(suffix);
    w.ascii('"');
    // Remembered only now, so a post never quotes or replies to itself.
    this.endCreate(actor, POST, rkeyUs, this.rememberPost(actor, rkeyUs));
  }

  private reply(): void {
    const w = this.w;
    this.pickPost();
    const parentAuthor = this.refAuthor;
    const parentUs = this.refUs;
    if (this.rng.float() < 0.5) this.pickPost(); // else the parent is the thread root
    w.ascii(',"reply":{"parent":');
    writeStrongRef(w, parentAuthor, parentUs);
    w.ascii(',"root":');
    writeStrongRef(w, this.refAuthor, this.refUs);
    w.ascii('}');
  }

  private pickLang(): Lang {
    const r = this.rng.float();
    for (const lang of LANGS) if (r < lang.until) return lang;
    return LANGS[0];
  }

  private images(): void {
    const w = this.w;
    const count = this.rng.float() < 0.75 ? 1 : 2 + this.rng.below(3);
    w.ascii('{"$type":"app.bsky.embed.images","images":[');
    for (let i = 0; i < count; i++) {
      w.ascii(i ? ',{"alt":"' : '{"alt":"');
      if (this.rng.float() < 0.3) this.englishText(20 + this.rng.below(80));
      w.ascii(`","aspectRatio":{"height":${600 + this.rng.below(1400)},"width":${600 + this.rng.below(1400)}},"image":`);
      this.blob();
      w.ascii('}');
    }
    w.ascii(']}');
  }

  private external(url: string): void {
    const w = this.w;
    w.ascii('{"$type":"app.bsky.embed.external","external":{"description":"');
    this.englishText(this.rng.below(150));
    w.ascii('",');
    if (this.rng.float() < 0.6) {
      w.ascii('"thumb":');
      this.blob();
      w.ascii(',');
    }
    w.ascii('"title":"');
    this.englishText(20 + this.rng.below(50));
    w.ascii('","uri":"');
    w.ascii(url);
    w.ascii('"}}');
  }

  private englishText(chars: number): void {
    const [start, end] = corpusSlice(EN_CORPUS, this.rng, chars);
    this.w.bytes(EN_CORPUS, start, end);
  }

  private blob(): void {
    this.w.ascii('{"$type":"blob","ref":{"$link":"');
    this.w.cid('bafkrei', this.rng.u32(), this.rng.u32());
    this.w.ascii(`"},"mimeType":"image/jpeg","size":${20_000 + this.rng.below(900_000)}}`);
  }

  /** Deletes a recent create (never one already deleted); falls back to a like if none is found. */
  private delete(): void {
    const filled = Math.min(this.crTotal, CREATES_RING);
    let i = this.rng.below(filled);
    for (let tries = 0; tries < 16 && filled > 0; tries++, i = (i + 1) % filled) {
      const code = this.crCode[i];
      const actor = this.crActor[i];
      if (code === 0 || this.inactive.has(actor)) continue;
      this.crCode[i] = 0;
      this.commitHead(actor, 'delete', COLLECTIONS[code]);
      this.w.tid(this.crUs[i], clockOf(actor));
      this.w.ascii('"}}');
      return;
    }
    this.like();
  }

  /** Profile update pinning one of the author's recent posts (or without a pin if none yet). */
  private profile(): void {
    const w = this.w;
    const pinned = this.pickRecentPost() && !this.inactive.has(this.refAuthor);
    const actor = pinned ? this.refAuthor : this.pickActor();
    this.commitHead(actor, 'update', 'app.bsky.actor.profile');
    w.ascii('self","record":{"$type":"app.bsky.actor.profile","avatar":');
    this.blob();
    w.ascii(',"createdAt":"');
    w.iso(this.startUs - COLD_WINDOW_US - this.rng.below(COLD_WINDOW_US));
    w.ascii('","description":"');
    this.englishText(10 + this.rng.below(150));
    w.ascii('","displayName":"');
    this.englishText(5 + this.rng.below(20));
    w.ascii('"');
    if (pinned) {
      w.ascii(',"pinnedPost":');
      writeStrongRef(w, this.refAuthor, this.refUs);
    }
    w.ascii('},"cid":"');
    w.cid('bafyrei', actor, this.nowUs % 4294967296);
    w.ascii('"}}');
  }

  /** Deactivates or takes down an account (reactivated by a later event), or rarely deletes it. */
  private account(): void {
    const w = this.w;
    const reactivate = this.suspended.length > 0 && this.rng.float() < 0.6;
    const actor = reactivate ? this.suspended.shift()! : this.pickActor();
    let status = '';
    if (reactivate) {
      this.inactive.delete(actor);
    } else {
      const r = this.rng.float();
      status = r < 0.05 ? 'deleted' : r < 0.1 ? 'takendown' : 'deactivated';
      this.inactive.add(actor);
      if (status !== 'deleted') this.suspended.push(actor);
    }
    this.eventHead(actor, 'account');
    w.ascii(reactivate ? '{"active":true,"did":"' : '{"active":false,"did":"');
    w.did(actor);
    w.ascii('","seq":');
    w.uint(SEQ_BASE + this.emitted);
    if (status) w.ascii(`,"status":"${status}"`);
    w.ascii(',"time":"');
    w.iso(this.nowUs - REV_LAG_US);
    w.ascii('"}}');
  }

  private identity(): void {
    const w = this.w;
    const actor = this.pickActor();
    this.eventHead(actor, 'identity');
    w.ascii('{"did":"');
    w.did(actor);
    w.ascii('",');
    if (this.rng.float() < 0.8) w.ascii(`"handle":"${makeHandle(actor)}",`);
    w.ascii('"seq":');
    w.uint(SEQ_BASE + this.emitted);
    w.ascii(',"time":"');
    w.iso(this.nowUs - REV_LAG_US);
    w.ascii('"}}');
  }

  /** `{"did":...,"time_us":...,"kind":"<kind>","<kind>":` for identity and account events. */
  private eventHead(actor: number, kind: string): void {
    this.w.ascii('{"did":"');
    this.w.did(actor);
    this.w.ascii('","time_us":');
    this.w.uint(this.nowUs);
    this.w.ascii(`,"kind":"${kind}","${kind}":`);
  }
}

/**
 * Byte range of about `bytes` bytes of the corpus, starting at a word (when the corpus has spaces)
 * and starting and ending on UTF-8 character boundaries.
 */
function corpusSlice(corpus: Buffer, rng: Sfc32, bytes: number): [number, number] {
  let start = rng.below(corpus.length - bytes);
  for (let back = 0; back < 16 && start > 0 && corpus[start - 1] !== 0x20; back++) start--;
  while ((corpus[start] & 0xc0) === 0x80) start++;
  let end = start + bytes;
  while (end < corpus.length && (corpus[end] & 0xc0) === 0x80) end++;
  return [start, end];
}

function writePostUri(w: ByteWriter, author: number, us: number): void {
  w.ascii('at://');
  w.did(author);
  w.ascii('/app.bsky.feed.post/');
  w.tid(us, clockOf(author));
}

/** `{"cid":...,"uri":...}` of a post, consistent with the cid of its create event. */
function writeStrongRef(w: ByteWriter, author: number, us: number): void {
  w.ascii('{"cid":"');
  writeRecordCid(w, author, us, POST);
  w.ascii('","uri":"');
  writePostUri(w, author, us);
  w.ascii('"}');
}

/** The cid of the record an account created at rkey time `us` in collection `code`. */
function writeRecordCid(w: ByteWriter, actor: number, us: number, code: number): void {
  w.cid('bafyrei', (mix32(actor) ^ code) >>> 0, us % 4294967296);
}

// ---------------------------------------------------------------------------------------------
// Public API

/** Yields `count` Jetstream v1 events as JSON lines (no trailing newline). */
export function* generateEvents(opts: GenerateOptions): Generator<string> {
  const gen = new JetstreamGenerator(opts);
  for (let i = 0; i < opts.count; i++) yield gen.next();
}

export interface HotTargets {
  /** Most linked posts (likes, reposts, quotes, replies), most linked first. */
  hotPosts: string[];
  /** Most followed/mentioned/blocked accounts, most linked first. */
  hotAccounts: string[];
  /** The list with the most list items. */
  hotList: string;
  /** The https url most linked from posts (link facets and external embeds). */
  hotLink: string;
  /** A post the generator creates that is linked only a handful of times (undefined if count is too small). */
  coldPost: string | undefined;
  /** An account almost never linked. */
  coldAccount: string;
}

const HOT_COUNT = 10;

/**
 * Hot and cold subjects of the stream generateEvents(opts) yields. Popularity ranks are fixed by
 * construction (account k, list k, link k, the k-th popular post), so only a short prefix of the
 * stream (about 1,000 events) is run to learn the uris of the first popular posts.
 */
export function hotTargets(opts: GenerateOptions): HotTargets {
  const gen = new JetstreamGenerator(opts);
  for (let i = 0; i < opts.count && (gen.headCount < HOT_COUNT || gen.ringTotal === 0); i++) gen.next();
  const hotPosts: string[] = [];
  for (let k = 0; k < HOT_COUNT; k++) {
    const uri = gen.headPostUri(k);
    if (uri) hotPosts.push(uri);
  }
  return {
    hotPosts,
    hotAccounts: Array.from({ length: Math.min(HOT_COUNT, gen.accounts) }, (_, k) => makeDid(k)),
    hotList: gen.listUri(0),
    hotLink: linkUrl(0),
    coldPost: gen.firstRecentPostUri(),
    coldAccount: makeDid(gen.accounts - 1),
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'start-us': { type: 'string' },
      accounts: { type: 'string' },
      posts: { type: 'string' },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const count = num(values.events);
  if (count === undefined || !Number.isSafeInteger(count) || count < 0) {
    throw new Error('usage: generate --events N [--seed S] [--start-us T] [--accounts A] [--posts P]');
  }
  const opts: GenerateOptions = {
    seed: Number(values.seed),
    count,
    startUs: num(values['start-us']),
    accounts: num(values.accounts),
    posts: num(values.posts),
  };
  const out = process.stdout;
  out.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0); // e.g. piped into head
    throw err;
  });
  // One write per few thousand lines, honouring backpressure.
  const batch: string[] = [];
  for (const line of generateEvents(opts)) {
    batch.push(line);
    if (batch.length === 4096) {
      const ok = out.write(batch.join('\n') + '\n');
      batch.length = 0;
      if (!ok) await once(out, 'drain');
    }
  }
  if (batch.length > 0) out.write(batch.join('\n') + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
