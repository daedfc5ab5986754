import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { extractTimeUs } from '../src/firehose/jetstream-time.js';
import { createZstdDecoder, zstdFrameLength, type ZstdEngine } from '../src/firehose/zstd.js';
import { corruptFrame, zstdFrame } from './helpers/jetstream-server.js';

// Any bytes serve as a raw-content zstd dictionary: text shaped like Jetstream events.
const dictionary = Buffer.from(
  Array.from(
    { length: 50 },
    (_, i) =>
      `{"did":"did:plc:${i}abc","time_us":17800000000${i},"kind":"commit","commit":{"rev":"3mp${i}","operation":"create","collection":"app.bsky.feed.like","rkey":"3k${i}","record":{"$type":"app.bsky.feed.like","subject":{"cid":"bafy","uri":"at://did:plc:x/app.bsky.feed.post/3k"}}}}`,
  ).join(''),
);
const otherDictionary = Buffer.from('a completely different dictionary '.repeat(40));

const event = (i: number): string =>
  JSON.stringify({
    did: `did:plc:user${i}`,
    time_us: 1_780_000_000_000_000 + i,
    kind: 'commit',
    commit: { rev: `3mp${i}`, operation: 'create', collection: 'app.bsky.feed.like', rkey: `3k${i}` },
  });

for (const engine of ['auto', 'reuse', 'oneshot'] as ZstdEngine[]) {
  describe(`zstd decoder (${engine})`, () => {
    it('decodes a sequence of dictionary frames', (t) => {
      const decoder = createZstdDecoder(dictionary, { engine });
      t.diagnostic(`engine in use: ${decoder.engine}`);
      for (let i = 0; i < 200; i++) {
        assert.equal(decoder.decode(zstdFrame(Buffer.from(event(i)), dictionary)).toString(), event(i));
      }
    });

    it('rejects a frame with one flipped payload byte (checksum), then keeps working', () => {
      const decoder = createZstdDecoder(dictionary, { engine });
      // Incompressible content is stored as a raw block: only the checksum can catch the flip.
      const content = randomBytes(1000);
      const frame = zstdFrame(content, dictionary);
      for (const pos of [frame.length - 100, frame.length - 6, 40]) {
        const bad = Buffer.from(frame);
        bad[pos]! ^= 0x01;
        assert.throws(() => decoder.decode(bad), `flip at ${pos} accepted`);
        assert.deepEqual(decoder.decode(frame), content);
      }
      const json = zstdFrame(Buffer.from(event(1)), dictionary);
      assert.throws(() => decoder.decode(corruptFrame(json)));
      assert.equal(decoder.decode(json).toString(), event(1));
    });

    it('rejects garbage, truncated, concatenated and wrong-dictionary frames', () => {
      const decoder = createZstdDecoder(dictionary, { engine });
      const frame = zstdFrame(Buffer.from(event(2)), dictionary);
      assert.throws(() => decoder.decode(Buffer.from('not zstd at all')));
      assert.throws(() => decoder.decode(frame.subarray(0, frame.length - 3)));
      assert.throws(() => decoder.decode(Buffer.concat([frame, frame])));
      assert.throws(() => decoder.decode(zstdFrame(Buffer.from(event(2)), otherDictionary)));
      assert.equal(decoder.decode(frame).toString(), event(2));
    });

    it('decodes a message larger than its output buffer', () => {
      const decoder = createZstdDecoder(dictionary, { engine });
      const big = randomBytes(300_000);
      assert.deepEqual(decoder.decode(zstdFrame(big, dictionary)), big);
    });

    it('enforces the output limit', () => {
      const decoder = createZstdDecoder(dictionary, { engine, maxOutputBytes: 1000 });
      assert.throws(() => decoder.decode(zstdFrame(Buffer.alloc(5000, 'a'), dictionary)));
    });
  });
}

describe('zstdFrameLength', () => {
  it('measures whole frames from their block headers', () => {
    for (const size of [0, 10, 255, 256, 5000, 200_000]) {
      const frame = zstdFrame(randomBytes(size), dictionary);
      assert.equal(zstdFrameLength(frame), frame.length);
    }
  });
});

describe('extractTimeUs', () => {
  it('reads the top-level time_us', () => {
    assert.equal(extractTimeUs(event(5)), 1_780_000_000_000_005);
    assert.equal(extractTimeUs('{"did":"x","time_us":12,"kind":"identity","cursor":12}'), 12);
    assert.equal(extractTimeUs('{"time_us":7}'), 7);
  });

  it('ignores a time_us nested before the top-level one', () => {
    const text = '{"commit":{"record":{"time_us":1}},"did":"x","time_us":99}';
    assert.equal(extractTimeUs(text), 99);
    assert.equal(extractTimeUs('{"a":"\\"time_us\\":5","time_us":6}'), 6);
    assert.equal(extractTimeUs('{ "time_us" : 8 }'), 8);
  });

  it('returns undefined without time_us and null for non-objects', () => {
    assert.equal(extractTimeUs('{"did":"x"}'), undefined);
    assert.equal(extractTimeUs('{"nested":{"time_us":3}}'), undefined);
    assert.equal(extractTimeUs('{"did":"x","time_us":oops'), null);
    assert.equal(extractTimeUs('[1,2]'), null);
    assert.equal(extractTimeUs('garbage'), null);
  });
});
