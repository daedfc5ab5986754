// The slice of a pino logger the Jetstream modules use, so any pino instance fits.
export interface JetstreamLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};
export const silentLogger: JetstreamLogger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * Logs at most one line per interval and reports how many were suppressed in between,
 * so a stream of bad frames cannot flood the log.
 */
export class RateLimitedLog {
  private lastAt = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  warn(logger: JetstreamLogger, obj: object, msg: string): void {
    const t = this.now();
    if (t - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    logger.warn({ ...obj, suppressed: this.suppressed }, msg);
    this.lastAt = t;
    this.suppressed = 0;
  }
}
