import type { Config } from '../config.js'
import type { Logger } from '../logger.js'
import { startService } from '../service.js'

/** Runs until SIGINT/SIGTERM, then flushes the current batch with its cursor and exits 0. */
export async function runServe(config: Config, log: Logger): Promise<number> {
  log.info({ config }, 'effective configuration')
  // Listening before startup, so a signal during startup also ends in a clean shutdown.
  const stopRequested = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  const service = await startService(config, log)
  await stopRequested
  log.info('shutting down')
  await service.close()
  return 0
}
