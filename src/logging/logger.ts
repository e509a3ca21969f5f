/**
 * The process logger: JSON lines on stdout via pino. Startup, warnings and errors always; access lines only in
 * verbose mode (see access-log.ts).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string } = {}): Logger {
  // Asynchronous writes: with verbose access logs on the hot path, a synchronous write per request would stall
  // the event loop on a slow stdout consumer. flushLogger() runs before exit so nothing is lost.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 0 });
  return pino(
    {
      level: options.level ?? process.env.EGRESS_PROXY_LOG_LEVEL ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** Writes out what is buffered; call before process.exit. */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
