// Naming where a value was written (see ConfigOrigins in proxy-config.ts), for failures that show only when the
// value is used: a start-up error must point at the file key, variable or flag to fix, not only at the value.

import { ConfigError } from '../errors.js';
import type { ValueOrigin } from './proxy-config.js';

/** `FILE: key`, `environment: VAR` or `command line: --flag`: where a value was written, as error lines say it. */
export function describeOrigin(origin: ValueOrigin): string {
  return `${origin.source}: ${origin.key}`;
}

/** The ConfigError for a value that turned out unusable at startup, naming the place it was written. */
export function originError(origin: ValueOrigin, problem: string): ConfigError {
  return new ConfigError(origin.source, origin.key, problem);
}

/**
 * A file-system or socket error as a short phrase: Node's message without the path or address it repeats
 * (`ENOENT: no such file or directory, open '/x.pem'` becomes `ENOENT: no such file or directory`).
 */
export function describeSystemError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message.replace(/, \w+ '[^']*'(?: -> '[^']*')?$/, '');
}
