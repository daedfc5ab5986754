/** Where `key` is in `items` (sorted by `compare`): its index, or the index to insert it at. */
export function sortedIndex<T, K>(items: readonly T[], key: K, compare: (item: T, key: K) => number): { found: boolean; at: number } {
  let lo = 0
  let hi = items.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const c = compare(items[mid], key)
    if (c === 0) return { found: true, at: mid }
    if (c < 0) lo = mid + 1
    else hi = mid
  }
  return { found: false, at: lo }
}
