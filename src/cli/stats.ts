import type { Config } from '../config.js'
import { requireDatabase } from '../ops/db-file.js'
import { formatFigures, indexFigures } from '../ops/stats.js'

export async function runStats(config: Config): Promise<number> {
  requireDatabase(config.db!)
  const figures = await indexFigures(config.db!)
  console.log(config.json ? JSON.stringify(figures, null, 2) : formatFigures(figures))
  return 0
}
