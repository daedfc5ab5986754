/**
 * links_by_did, the links of a (target, source) in account order, holds a pair's links only while
 * it has more than DID_ORDER_ABOVE of them (its link_counts.records). An account filter on a
 * smaller pair reads the pair's few links instead (its links_by_time blocks, a few rows, or
 * for the smallest its counts row: inline-links.ts), so most pairs keep one copy of
 * each link, not two (BENCHMARKS.md, "Account order for large subjects only").
 */
export const DID_ORDER_ABOVE = 64
