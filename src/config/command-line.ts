// Command-line overrides: the top configuration layer. The CLI parses argv into ConfigOverrides; this validates
// the values with the same rules as the file and names the flag in errors.

import type { z } from 'zod';
import { originsOfSetValues, type PartialConfig } from './partial-config.js';
import {
  booleanSchema,
  cidrListSchema,
  destinationListSchema,
  integerSchema,
  portRangeListSchema,
  listenAddressSchema,
  pathSchema,
  portSchema,
  secondsSchema,
  secondsToMs,
  workersSchema,
} from './value-schemas.js';
import { parseValue } from './validation-error.js';
import { upstreamProxySchema } from './upstream-proxy-url.js';

export interface ConfigOverrides {
  configFile?: string;
  bind?: string;
  port?: number;
  allow?: string[];
  verbose?: boolean;
  mitm?: boolean;
  workers?: number | 'auto';
  adminEnabled?: boolean;
  adminBind?: string;
  adminPort?: number;
  upstreamCaFile?: string;
  upstreamInsecure?: boolean;
  dataDir?: string;
  drainSeconds?: number;
  destinationsAllow?: string[];
  blockSpecialDestinations?: boolean;
  connectPorts?: string[];
  httpPorts?: string[];
  maxConnectionsPerClient?: number;
  logFullPaths?: boolean;
  upstreamProxy?: string;
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
  workers: '--workers',
  adminEnabled: '--no-admin',
  adminBind: '--admin-bind',
  adminPort: '--admin-port',
  upstreamCaFile: '--upstream-ca',
  upstreamInsecure: '--upstream-insecure',
  dataDir: '--data-dir',
  drainSeconds: '--drain-timeout',
  destinationsAllow: '--dest-allow',
  blockSpecialDestinations: '--no-block-special-destinations',
  connectPorts: '--connect-port',
  httpPorts: '--http-port',
  maxConnectionsPerClient: '--max-connections-per-client',
  logFullPaths: '--log-full-paths',
  upstreamProxy: '--upstream-proxy',
};

function flag<T extends z.ZodType>(flags: ConfigOverrides, name: keyof ConfigOverrides, schema: T) {
  const value = flags[name];
  return value === undefined ? undefined : parseValue(schema, value, COMMAND_LINE_SOURCE, FLAG_NAMES[name]);
}

/** The values the flags set. Errors are ConfigErrors with source "command line" and the flag as key. */
export function readCommandLine(flags: ConfigOverrides): PartialConfig {
  const drainSeconds = flag(flags, 'drainSeconds', secondsSchema);
  const values = {
    bind: flag(flags, 'bind', listenAddressSchema),
    port: flag(flags, 'port', portSchema),
    adminBind: flag(flags, 'adminBind', listenAddressSchema),
    adminPort: flag(flags, 'adminPort', portSchema),
    dataDir: flag(flags, 'dataDir', pathSchema),
    upstreamCaFile: flag(flags, 'upstreamCaFile', pathSchema),
  };
  return {
    bind: values.bind,
    port: values.port,
    allowedClientCidrs: flag(flags, 'allow', cidrListSchema),
    verbose: flag(flags, 'verbose', booleanSchema),
    logFullPaths: flag(flags, 'logFullPaths', booleanSchema),
    mitm: flag(flags, 'mitm', booleanSchema),
    workers: flag(flags, 'workers', workersSchema),
    upstreamProxy: flag(flags, 'upstreamProxy', upstreamProxySchema),
    timeouts: { drainMs: drainSeconds === undefined ? undefined : secondsToMs(drainSeconds) },
    limits: { maxConnectionsPerClient: flag(flags, 'maxConnectionsPerClient', integerSchema(1, 1_000_000)) },
    destinations: {
      allow: flag(flags, 'destinationsAllow', destinationListSchema),
      blockSpecialRanges: flag(flags, 'blockSpecialDestinations', booleanSchema),
      connectPorts: flag(flags, 'connectPorts', portRangeListSchema),
      httpPorts: flag(flags, 'httpPorts', portRangeListSchema),
    },
    admin: {
      enabled: flag(flags, 'adminEnabled', booleanSchema),
      bind: values.adminBind,
      port: values.adminPort,
    },
    mitmOptions: { dataDir: values.dataDir },
    upstreamTls: {
      caFile: values.upstreamCaFile,
      insecure: flag(flags, 'upstreamInsecure', booleanSchema),
    },
    origins: originsOfSetValues(values, COMMAND_LINE_SOURCE, {
      bind: FLAG_NAMES.bind,
      port: FLAG_NAMES.port,
      adminBind: FLAG_NAMES.adminBind,
      adminPort: FLAG_NAMES.adminPort,
      dataDir: FLAG_NAMES.dataDir,
      upstreamCaFile: FLAG_NAMES.upstreamCaFile,
    }),
  };
}
