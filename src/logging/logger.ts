/**
 * The process logger: JSON lines on stdout via pino. Startup, warnings and errors always; access lines only in
 * verbose mode (see access-log.ts).
 */
import { pino, type Logger } from 'pino';
import { ConfigError } from '../errors.js';

export type { Logger };

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function createLogger(options: { level?: string } = {}): Logger {
  const level = options.level ?? (process.env.EGRESS_PROXY_LOG_LEVEL || 'info');
  if (!LOG_LEVELS.includes(level)) {
    throw new ConfigError('environment', 'EGRESS_PROXY_LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  }
  // Asynchronous writes: with verbose access logs on the hot path, a synchronous write per request would stall
  // the event loop on a slow stdout consumer. flushLogger() runs before exit so nothing is lost.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 0 });
  return pino(
    {
      level,
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
