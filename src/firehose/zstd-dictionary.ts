// Obtains the Jetstream v1 zstd dictionary (needed for `compress=true`) without
// shipping it: an explicit file, else a cached copy in the data directory, else a
// verified download that is then cached.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type JetstreamLogger, silentLogger } from './jetstream-log.js';

export const JETSTREAM_DICTIONARY_URL =
  'https://raw.githubusercontent.com/bluesky-social/jetstream/main/internal/subscribe/dictionaries/legacy_subscribe.zdict';
export const JETSTREAM_DICTIONARY_SHA256 = 'b8d77b46933aceecbdd5275a01241efc985c970c78162b8150cf67a26522f70c';
export const JETSTREAM_DICTIONARY_LENGTH = 112_640;
export const DICTIONARY_CACHE_NAME = 'jetstream-zstd-dictionary-v1';

export interface LoadZstdDictionaryOptions {
  /** Explicit dictionary file; used as is (no checksum), nothing else is tried. */
  path?: string;
  /** Where the cached copy lives: `<dataDir>/jetstream-zstd-dictionary-v1`. */
  dataDir: string;
  url?: string;
  /** Expected sha256 (hex) of the download and of the cache; null skips the check. */
  expectedSha256?: string | null;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
  logger?: JetstreamLogger;
}

/** Returns the dictionary, or null (with the reason logged) so the caller can fall back to deflate. */
export async function loadZstdDictionary(opts: LoadZstdDictionaryOptions): Promise<Buffer | null> {
  const logger = opts.logger ?? silentLogger;
  if (opts.path !== undefined) {
    try {
      return await readFile(opts.path);
    } catch (err) {
      logger.warn({ path: opts.path, err: String(err) }, 'cannot read zstd dictionary file');
      return null;
    }
  }

  const url = opts.url ?? JETSTREAM_DICTIONARY_URL;
  const sha256 = opts.expectedSha256 === undefined ? JETSTREAM_DICTIONARY_SHA256 : opts.expectedSha256;
  // The official file also has a known length (a clearer error than a hash mismatch).
  const expected = { sha256, length: sha256 === JETSTREAM_DICTIONARY_SHA256 ? JETSTREAM_DICTIONARY_LENGTH : undefined };
  const cachePath = path.join(opts.dataDir, DICTIONARY_CACHE_NAME);

  const cached = await readFile(cachePath).catch(() => null);
  if (cached) {
    const bad = verify(cached, expected);
    if (!bad) return cached;
    logger.warn({ path: cachePath, reason: bad }, 'ignoring invalid cached zstd dictionary');
  }

  let body: Buffer;
  try {
    const res = await (opts.fetchImpl ?? fetch)(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    logger.warn({ url, err: String(err) }, 'cannot download zstd dictionary');
    return null;
  }
  const bad = verify(body, expected);
  if (bad) {
    logger.warn({ url, reason: bad }, 'downloaded zstd dictionary rejected');
    return null;
  }

  try {
    await writeAtomic(cachePath, body);
  } catch (err) {
    // Still usable for this run; the next start downloads again.
    logger.warn({ path: cachePath, err: String(err) }, 'cannot cache zstd dictionary');
  }
  logger.info({ url, bytes: body.length }, 'zstd dictionary downloaded');
  return body;
}

function verify(buf: Buffer, expected: { sha256: string | null; length: number | undefined }): string | null {
  if (expected.length !== undefined && buf.length !== expected.length) {
    return `length ${buf.length}, expected ${expected.length}`;
  }
  if (expected.sha256 !== null) {
    const got = createHash('sha256').update(buf).digest('hex');
    if (got !== expected.sha256.toLowerCase()) return `sha256 ${got}, expected ${expected.sha256}`;
  }
  return null;
}

// tmp + rename so a crash never leaves a truncated cache that would be trusted.
async function writeAtomic(file: string, data: Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
