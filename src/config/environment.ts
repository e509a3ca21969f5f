// The EGRESS_PROXY_* environment variables: the layer between the config file and command-line flags, convenient
// for containers. Each variable is validated by the same rules as the file, and errors name the variable.

import { ConfigError } from '../errors.js';
import { originsOfSetValues, type PartialConfig } from './partial-config.js';
import type { z } from 'zod';
import {
  BOOLEAN_WORDS_PHRASE,
  booleanFromWord,
  cidrListSchema,
  destinationListSchema,
  integerSchema,
  listenAddressSchema,
  pathSchema,
  portRangeListSchema,
  portSchema,
  workersSchema,
} from './value-schemas.js';
import { parseValue } from './validation-error.js';
import { upstreamProxySchema } from './upstream-proxy-url.js';

export const ENVIRONMENT_SOURCE = 'environment';

export const ENVIRONMENT_VARIABLES = {
  configFile: 'EGRESS_PROXY_CONFIG',
  bind: 'EGRESS_PROXY_BIND',
  port: 'EGRESS_PROXY_PORT',
  allowedClientCidrs: 'EGRESS_PROXY_ALLOWED_CLIENT_CIDRS',
  verbose: 'EGRESS_PROXY_VERBOSE',
  mitm: 'EGRESS_PROXY_MITM',
  workers: 'EGRESS_PROXY_WORKERS',
  adminBind: 'EGRESS_PROXY_ADMIN_BIND',
  adminPort: 'EGRESS_PROXY_ADMIN_PORT',
  dataDir: 'EGRESS_PROXY_DATA_DIR',
  destinationsAllow: 'EGRESS_PROXY_DEST_ALLOW',
  blockSpecialDestinations: 'EGRESS_PROXY_BLOCK_SPECIAL_DESTINATIONS',
  connectPorts: 'EGRESS_PROXY_CONNECT_PORTS',
  httpPorts: 'EGRESS_PROXY_HTTP_PORTS',
  maxConnectionsPerClient: 'EGRESS_PROXY_MAX_CONNECTIONS_PER_CLIENT',
  logFullPaths: 'EGRESS_PROXY_LOG_FULL_PATHS',
  upstreamProxy: 'EGRESS_PROXY_UPSTREAM_PROXY',
} as const;

type VariableName = (typeof ENVIRONMENT_VARIABLES)[keyof typeof ENVIRONMENT_VARIABLES];

/**
 * A variable's trimmed value. Empty counts as unset: `VAR=` in a compose or env file usually means "not set".
 * (The allow-list is the exception, read by cidrListVariable.)
 */
function reading(env: NodeJS.ProcessEnv, name: VariableName): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** Digits become a number; anything else stays text, so the error shows what was written. */
function integerFromText(text: string): number | string {
  return /^[0-9]+$/.test(text) ? Number(text) : text;
}

function booleanVariable(env: NodeJS.ProcessEnv, name: VariableName): boolean | undefined {
  const text = reading(env, name);
  if (text === undefined) return undefined;
  const value = booleanFromWord(text);
  if (value === undefined) {
    throw new ConfigError(ENVIRONMENT_SOURCE, name, `expected ${BOOLEAN_WORDS_PHRASE}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function workersVariable(env: NodeJS.ProcessEnv, name: VariableName): number | 'auto' | undefined {
  const text = reading(env, name);
  return text === undefined ? undefined : parseValue(workersSchema, integerFromText(text), ENVIRONMENT_SOURCE, name);
}

function portVariable(env: NodeJS.ProcessEnv, name: VariableName): number | undefined {
  const text = reading(env, name);
  return text === undefined ? undefined : parseValue(portSchema, integerFromText(text), ENVIRONMENT_SOURCE, name);
}

function listenAddressVariable(env: NodeJS.ProcessEnv, name: VariableName): string | undefined {
  const text = reading(env, name);
  return text === undefined ? undefined : parseValue(listenAddressSchema, text, ENVIRONMENT_SOURCE, name);
}

/**
 * A comma-separated list; set but empty means an empty list (which turns the file's allow-list off, or lets a
 * port list allow any port).
 */
function listVariable<T extends z.ZodType>(env: NodeJS.ProcessEnv, name: VariableName, schema: T): z.output<T> | undefined {
  const text = env[name];
  if (text === undefined) return undefined;
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  return parseValue(schema, entries, ENVIRONMENT_SOURCE, name);
}

function integerVariable(env: NodeJS.ProcessEnv, name: VariableName, min: number, max: number): number | undefined {
  const text = reading(env, name);
  return text === undefined ? undefined : parseValue(integerSchema(min, max), integerFromText(text), ENVIRONMENT_SOURCE, name);
}

/**
 * EGRESS_PROXY_UPSTREAM_PROXY, and nothing else: HTTPS_PROXY and HTTP_PROXY are not read. They are set for clients
 * on many hosts (often for the very agents this proxy serves), and a proxy that silently obeyed them could send its
 * own traffic in a loop or somewhere its operator did not choose; a parent proxy is written down explicitly.
 */
function upstreamProxyVariable(env: NodeJS.ProcessEnv) {
  const name = ENVIRONMENT_VARIABLES.upstreamProxy;
  const text = reading(env, name);
  return text === undefined ? undefined : parseValue(upstreamProxySchema, text, ENVIRONMENT_SOURCE, name);
}

/** The config file named by EGRESS_PROXY_CONFIG, used when no --config flag is given. */
export function configFileFromEnvironment(env: NodeJS.ProcessEnv): string | undefined {
  return reading(env, ENVIRONMENT_VARIABLES.configFile);
}

/** The values the environment sets. Errors are ConfigErrors with source "environment" and the variable as key. */
export function readEnvironment(env: NodeJS.ProcessEnv): PartialConfig {
  const dataDir = reading(env, ENVIRONMENT_VARIABLES.dataDir);
  const values = {
    bind: listenAddressVariable(env, ENVIRONMENT_VARIABLES.bind),
    port: portVariable(env, ENVIRONMENT_VARIABLES.port),
    adminBind: listenAddressVariable(env, ENVIRONMENT_VARIABLES.adminBind),
    adminPort: portVariable(env, ENVIRONMENT_VARIABLES.adminPort),
    dataDir: dataDir === undefined ? undefined : parseValue(pathSchema, dataDir, ENVIRONMENT_SOURCE, ENVIRONMENT_VARIABLES.dataDir),
  };
  return {
    bind: values.bind,
    port: values.port,
    allowedClientCidrs: listVariable(env, ENVIRONMENT_VARIABLES.allowedClientCidrs, cidrListSchema),
    verbose: booleanVariable(env, ENVIRONMENT_VARIABLES.verbose),
    logFullPaths: booleanVariable(env, ENVIRONMENT_VARIABLES.logFullPaths),
    mitm: booleanVariable(env, ENVIRONMENT_VARIABLES.mitm),
    workers: workersVariable(env, ENVIRONMENT_VARIABLES.workers),
    limits: { maxConnectionsPerClient: integerVariable(env, ENVIRONMENT_VARIABLES.maxConnectionsPerClient, 1, 1_000_000) },
    destinations: {
      allow: listVariable(env, ENVIRONMENT_VARIABLES.destinationsAllow, destinationListSchema),
      blockSpecialRanges: booleanVariable(env, ENVIRONMENT_VARIABLES.blockSpecialDestinations),
      connectPorts: listVariable(env, ENVIRONMENT_VARIABLES.connectPorts, portRangeListSchema),
      httpPorts: listVariable(env, ENVIRONMENT_VARIABLES.httpPorts, portRangeListSchema),
    },
    upstreamProxy: upstreamProxyVariable(env),
    admin: { bind: values.adminBind, port: values.adminPort },
    mitmOptions: { dataDir: values.dataDir },
    origins: originsOfSetValues(values, ENVIRONMENT_SOURCE, {
      bind: ENVIRONMENT_VARIABLES.bind,
      port: ENVIRONMENT_VARIABLES.port,
      adminBind: ENVIRONMENT_VARIABLES.adminBind,
      adminPort: ENVIRONMENT_VARIABLES.adminPort,
      dataDir: ENVIRONMENT_VARIABLES.dataDir,
    }),
  };
}
