// Command-line overrides: the top configuration layer. The CLI parses argv into ConfigOverrides; this validates
// the values with the same rules as the file and names the flag in errors.

import type { z } from 'zod';
import type { PartialConfig } from './partial-config.js';
import {
  booleanSchema,
  cidrListSchema,
  listenAddressSchema,
  pathSchema,
  portSchema,
  secondsSchema,
  secondsToMs,
} from './value-schemas.js';
import { parseValue } from './validation-error.js';

export interface ConfigOverrides {
  configFile?: string;
  bind?: string;
  port?: number;
  allow?: string[];
  verbose?: boolean;
  mitm?: boolean;
  adminEnabled?: boolean;
  adminBind?: string;
  adminPort?: number;
  upstreamCaFile?: string;
  upstreamInsecure?: boolean;
  dataDir?: string;
  drainSeconds?: number;
}

export const COMMAND_LINE_SOURCE = 'command line';

/** How each override is spelt on the command line (as `egress-proxy run` parses it), for error messages. */
export const FLAG_NAMES: Record<keyof ConfigOverrides, string> = {
  configFile: '--config',
  bind: '--bind',
  port: '--port',
  allow: '--allow',
  verbose: '--verbose',
  mitm: '--mitm',
  adminEnabled: '--no-admin',
  adminBind: '--admin-bind',
  adminPort: '--admin-port',
  upstreamCaFile: '--upstream-ca',
  upstreamInsecure: '--upstream-insecure',
  dataDir: '--data-dir',
  drainSeconds: '--drain-timeout',
};

function flag<T extends z.ZodType>(flags: ConfigOverrides, name: keyof ConfigOverrides, schema: T) {
  const value = flags[name];
  return value === undefined ? undefined : parseValue(schema, value, COMMAND_LINE_SOURCE, FLAG_NAMES[name]);
}

/** The values the flags set. Errors are ConfigErrors with source "command line" and the flag as key. */
export function readCommandLine(flags: ConfigOverrides): PartialConfig {
  const drainSeconds = flag(flags, 'drainSeconds', secondsSchema);
  return {
    bind: flag(flags, 'bind', listenAddressSchema),
    port: flag(flags, 'port', portSchema),
    allowedClientCidrs: flag(flags, 'allow', cidrListSchema),
    verbose: flag(flags, 'verbose', booleanSchema),
    mitm: flag(flags, 'mitm', booleanSchema),
    timeouts: { drainMs: drainSeconds === undefined ? undefined : secondsToMs(drainSeconds) },
    admin: {
      enabled: flag(flags, 'adminEnabled', booleanSchema),
      bind: flag(flags, 'adminBind', listenAddressSchema),
      port: flag(flags, 'adminPort', portSchema),
    },
    mitmOptions: {
      dataDir: flag(flags, 'dataDir', pathSchema),
      upstreamCaFile: flag(flags, 'upstreamCaFile', pathSchema),
      upstreamInsecure: flag(flags, 'upstreamInsecure', booleanSchema),
    },
  };
}
