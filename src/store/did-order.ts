/**
 * links_by_did, the links of a (target, source) in account order, holds a pair's links only while
 * it has more than DID_ORDER_ABOVE of them (its link_counts.records). An account filter on a
 * smaller pair reads the pair's few links_by_time rows instead (one or two B-tree pages), so most
 * pairs (a post with a handful of likes, one follow of an account) keep one copy of each link, not
 * two (BENCHMARKS.md, "Account order for large subjects only").
 */
export const DID_ORDER_ABOVE = 64

export type LinkTable = 'links_by_did' | 'links_by_time'

/** The table that answers account-filtered reads of a pair with `records` links. */
export function accountOrderTable(records: number): LinkTable {
  return records > DID_ORDER_ABOVE ? 'links_by_did' : 'links_by_time'
}
