import type { Config } from '../config.js'
import type { Logger } from '../logger.js'
import { startService } from '../service.js'

/** Runs until SIGINT/SIGTERM, then flushes the current batch with its cursor and exits 0. */
export async function runServe(config: Config, log: Logger): Promise<number> {
  log.info({ config }, 'effective configuration')
  const service = await startService(config, log)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  log.info('shutting down')
  await service.close()
  return 0
}
