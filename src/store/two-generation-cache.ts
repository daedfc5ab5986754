/**
 * A bounded map that keeps recently used keys: when the current generation is full it becomes
 * the previous one (older entries are dropped), and hits in the previous generation are promoted.
 * Nearly LRU hit rates at the cost of two Map lookups, with memory capped at 2x `size` entries.
 */
export class TwoGenerationCache<K, V> {
  private current = new Map<K, V>()
  private previous = new Map<K, V>()

  constructor(private readonly size: number) {}

  get(key: K): V | undefined {
    const hit = this.current.get(key)
    if (hit !== undefined) return hit
    const old = this.previous.get(key)
    if (old !== undefined) this.set(key, old)
    return old
  }

  set(key: K, value: V): void {
    if (this.current.size >= this.size) {
      this.previous = this.current
      this.current = new Map()
    }
    this.current.set(key, value)
  }

  clear(): void {
    this.current.clear()
    this.previous.clear()
  }
}
