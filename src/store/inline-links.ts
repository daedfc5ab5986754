import { compareRkey, type Rkey } from './batch-buffer.js'
import { pushRkey, readRkey } from './rkey-coding.js'
import { sortedIndex } from './sorted-index.js'
import { pushVarint, readVarint } from './varint.js'

/**
 * A (target, source) with at most INLINE_MAX links keeps them in its link_counts row (`links`),
 * not in links_by_time: most pairs have one to a few links (a reply, a follow, a post's few
 * likes), and a row of their own cost each link ~25 bytes and the writer a second B-tree to
 * change. Larger pairs keep links_by_time blocks (link-blocks.ts) and a NULL `links`
 * (BENCHMARKS.md, "Small subjects' links in their counts row").
 */
export const INLINE_MAX = 16

/** One link of a pair: the linking record's rkey (stored form) and account. */
export interface PairLink {
  rkey: Rkey
  didId: number
}

/** links_by_time's order: rkey, then account. */
export function compareLinks(a: PairLink, b: PairLink): number {
  return compareRkey(a.rkey, b.rkey) || a.didId - b.didId
}

/** Where a link is among a pair's links: its index, or the index to insert it at. */
export function findLink(links: readonly PairLink[], link: PairLink): { found: boolean; at: number } {
  return sortedIndex(links, link, compareLinks)
}

/** Each link in time order: its rkey coded against the previous one's, then its account id. */
export function packLinks(links: readonly PairLink[]): Buffer {
  const out: number[] = []
  let previous: Rkey | undefined
  for (const l of links) {
    pushRkey(out, l.rkey, previous)
    pushVarint(out, l.didId)
    previous = l.rkey
  }
  return Buffer.from(out)
}

export function unpackLinks(blob: Buffer): PairLink[] {
  const pos: [number] = [0]
  const links: PairLink[] = []
  let previous: Rkey | undefined
  while (pos[0] < blob.length) {
    const rkey = readRkey(blob, pos, previous)
    links.push({ rkey, didId: readVarint(blob, pos) })
    previous = rkey
  }
  return links
}
