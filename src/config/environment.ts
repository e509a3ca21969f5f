// The EGRESS_PROXY_* environment variables: the layer between the config file and command-line flags, convenient
// for containers. Each variable is validated by the same rules as the file, and errors name the variable.

import { ConfigError } from '../errors.js';
import type { PartialConfig } from './partial-config.js';
import { cidrListSchema, listenAddressSchema, portSchema } from './value-schemas.js';
import { parseValue } from './validation-error.js';

export const ENVIRONMENT_SOURCE = 'environment';

export const ENVIRONMENT_VARIABLES = {
  configFile: 'EGRESS_PROXY_CONFIG',
  bind: 'EGRESS_PROXY_BIND',
  port: 'EGRESS_PROXY_PORT',
  allowedClientCidrs: 'EGRESS_PROXY_ALLOWED_CLIENT_CIDRS',
  verbose: 'EGRESS_PROXY_VERBOSE',
  mitm: 'EGRESS_PROXY_MITM',
  adminPort: 'EGRESS_PROXY_ADMIN_PORT',
  dataDir: 'EGRESS_PROXY_DATA_DIR',
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

const TRUE_WORDS = new Set(['true', '1', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'no']);

function booleanVariable(env: NodeJS.ProcessEnv, name: VariableName): boolean | undefined {
  const text = reading(env, name);
  if (text === undefined) return undefined;
  const word = text.toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new ConfigError(ENVIRONMENT_SOURCE, name, `expected true, false, 1, 0, yes or no, got ${JSON.stringify(text)}`);
}

function portVariable(env: NodeJS.ProcessEnv, name: VariableName): number | undefined {
  const text = reading(env, name);
  return text === undefined ? undefined : parseValue(portSchema, integerFromText(text), ENVIRONMENT_SOURCE, name);
}

function listenAddressVariable(env: NodeJS.ProcessEnv, name: VariableName): string | undefined {
  const text = reading(env, name);
  return text === undefined ? undefined : parseValue(listenAddressSchema, text, ENVIRONMENT_SOURCE, name);
}

/** Comma-separated; set but empty means an empty list, which turns the file's allow-list off. */
function cidrListVariable(env: NodeJS.ProcessEnv, name: VariableName): string[] | undefined {
  const text = env[name];
  if (text === undefined) return undefined;
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  return parseValue(cidrListSchema, entries, ENVIRONMENT_SOURCE, name);
}

/** The config file named by EGRESS_PROXY_CONFIG, used when no --config flag is given. */
export function configFileFromEnvironment(env: NodeJS.ProcessEnv): string | undefined {
  return reading(env, ENVIRONMENT_VARIABLES.configFile);
}

/** The values the environment sets. Errors are ConfigErrors with source "environment" and the variable as key. */
export function readEnvironment(env: NodeJS.ProcessEnv): PartialConfig {
  return {
    bind: listenAddressVariable(env, ENVIRONMENT_VARIABLES.bind),
    port: portVariable(env, ENVIRONMENT_VARIABLES.port),
    allowedClientCidrs: cidrListVariable(env, ENVIRONMENT_VARIABLES.allowedClientCidrs),
    verbose: booleanVariable(env, ENVIRONMENT_VARIABLES.verbose),
    mitm: booleanVariable(env, ENVIRONMENT_VARIABLES.mitm),
    admin: { port: portVariable(env, ENVIRONMENT_VARIABLES.adminPort) },
    mitmOptions: { dataDir: reading(env, ENVIRONMENT_VARIABLES.dataDir) },
  };
}
