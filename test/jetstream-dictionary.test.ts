import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { JetstreamLogger } from '../src/firehose/jetstream-log.js';
import { DICTIONARY_CACHE_NAME, loadZstdDictionary } from '../src/firehose/zstd-dictionary.js';

const dict = randomBytes(4096);
const sha = createHash('sha256').update(dict).digest('hex');

function recordingLogger(): JetstreamLogger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = (): void => {};
  return {
    warnings,
    debug: noop,
    info: noop,
    error: noop,
    warn: (obj, msg) => warnings.push(`${msg} ${JSON.stringify(obj)}`),
  };
}

describe('loadZstdDictionary', () => {
  let server: http.Server;
  let url: string;
  let requests = 0;
  let dataDir: string;

  before(async () => {
    server = http.createServer((req, res) => {
      requests++;
      if (req.url === '/dict') res.end(dict);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dict`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(async () => {
    requests = 0;
    dataDir = await mkdtemp(path.join(tmpdir(), 'jetstream-dict-'));
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('downloads, verifies and caches atomically', async () => {
    const got = await loadZstdDictionary({ dataDir, url, expectedSha256: sha });
    assert.deepEqual(got, dict);
    assert.equal(requests, 1);
    assert.deepEqual(await readFile(path.join(dataDir, DICTIONARY_CACHE_NAME)), dict);
    assert.deepEqual(await readdir(dataDir), [DICTIONARY_CACHE_NAME]); // no temp file left
  });

  it('reuses the cached copy without network', async () => {
    await writeFile(path.join(dataDir, DICTIONARY_CACHE_NAME), dict);
    const fetchImpl = (() => Promise.reject(new Error('network used'))) as typeof fetch;
    const got = await loadZstdDictionary({ dataDir, url, expectedSha256: sha, fetchImpl });
    assert.deepEqual(got, dict);
    assert.equal(requests, 0);
  });

  it('replaces an invalid cached copy', async () => {
    await writeFile(path.join(dataDir, DICTIONARY_CACHE_NAME), Buffer.from('truncated'));
    const logger = recordingLogger();
    assert.deepEqual(await loadZstdDictionary({ dataDir, url, expectedSha256: sha, logger }), dict);
    assert.equal(requests, 1);
    assert.match(logger.warnings.join('\n'), /invalid cached/);
    assert.deepEqual(await readFile(path.join(dataDir, DICTIONARY_CACHE_NAME)), dict);
  });

  it('rejects a download with the wrong sha256, caching nothing', async () => {
    const logger = recordingLogger();
    const got = await loadZstdDictionary({ dataDir, url, expectedSha256: 'ab'.repeat(32), logger });
    assert.equal(got, null);
    assert.match(logger.warnings.join('\n'), /rejected.*sha256/);
    assert.deepEqual(await readdir(dataDir), []);
  });

  it('checks the official hash and length by default', async () => {
    const logger = recordingLogger();
    assert.equal(await loadZstdDictionary({ dataDir, url, logger }), null);
    assert.match(logger.warnings.join('\n'), /length 4096, expected 112640/);
  });

  it('returns null with a reason when the download fails', async () => {
    const logger = recordingLogger();
    assert.equal(await loadZstdDictionary({ dataDir, url: `${url}-missing`, expectedSha256: null, logger }), null);
    assert.match(logger.warnings.join('\n'), /cannot download.*HTTP 404/);
  });

  it('reads an explicit path as is', async () => {
    const file = path.join(dataDir, 'my.zdict');
    await writeFile(file, dict);
    assert.deepEqual(await loadZstdDictionary({ path: file, dataDir, url }), dict);
    assert.equal(requests, 0);
    assert.equal(await loadZstdDictionary({ path: `${file}.nope`, dataDir, url }), null);
  });
});
