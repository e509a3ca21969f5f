// Builds the ProxyConfig the proxy runs with: built-in defaults < config file < environment < command-line flags.
// Each layer is validated as it is read, so an error names the place the bad value was written; checks that span
// several keys run on the merged result.

import net from 'node:net';
import { ConfigError } from '../errors.js';
import { readCommandLine, type ConfigOverrides } from './command-line.js';
import { defaultConfig } from './defaults.js';
import { configFileFromEnvironment, readEnvironment } from './environment.js';
import { loadConfigFile } from './load-config-file.js';
import { mergeConfig } from './partial-config.js';
import type { ProxyConfig } from './proxy-config.js';
import { describeOrigin } from './value-origin.js';

export { COMMAND_LINE_SOURCE, FLAG_NAMES, type ConfigOverrides } from './command-line.js';
export { ENVIRONMENT_SOURCE, ENVIRONMENT_VARIABLES } from './environment.js';

export interface ResolvedConfig {
  config: ProxyConfig;
  /** One line each, ready to log at startup: deprecated keys, risky combinations. */
  warnings: string[];
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

function isLoopbackBind(bind: string): boolean {
  if (bind === 'localhost') return true;
  const version = net.isIP(bind);
  return version !== 0 && LOOPBACK.check(bind, version === 4 ? 'ipv4' : 'ipv6');
}

/** Rules no single value can break. Only the file sets the CA paths, so it is the source named. */
function checkMergedConfig(config: ProxyConfig): void {
  const { caCertFile, caKeyFile } = config.mitmOptions;
  const source = config.configFile ?? 'configuration';
  if (caCertFile !== undefined && caKeyFile === undefined) {
    throw new ConfigError(source, 'mitm.ca_key_file', 'is required when mitm.ca_cert_file is set');
  }
  if (caKeyFile !== undefined && caCertFile === undefined) {
    throw new ConfigError(source, 'mitm.ca_cert_file', 'is required when mitm.ca_key_file is set');
  }
}

function mergedConfigWarnings(config: ProxyConfig): string[] {
  const warnings: string[] = [];
  // The reference's deployment advice is an allow-list plus a firewall; a reachable proxy with neither (nor proxy
  // authentication) is an open relay into whatever network it sits in.
  const exposed = !isLoopbackBind(config.bind);
  if (config.allowedClientCidrs.length === 0 && config.proxyAuth.users.length === 0 && exposed) {
    warnings.push(
      `the proxy listens on ${config.bind} with an empty allowed_client_cidrs: ` +
        `every client that can reach port ${config.port} may use it`,
    );
  }
  // With the special ranges open, any client reaches this host's own services and the cloud metadata endpoint.
  if (!config.destinations.blockSpecialRanges && exposed) {
    warnings.push(
      `the proxy listens on ${config.bind} with destinations.block_special_ranges off: its clients can reach this ` +
        `host's loopback services and the cloud metadata address through it; name what they need in destinations.allow instead`,
    );
  }
  // /metrics names clients and API paths, and the dashboard shows the config: not for everyone on the network.
  if (config.admin.enabled && config.admin.users.length === 0 && !isLoopbackBind(config.admin.bind)) {
    warnings.push(
      `the admin listener listens on ${config.admin.bind} with no admin.users: ` +
        `anyone who can reach port ${config.admin.port} can read the metrics and the dashboard`,
    );
  }
  if (config.upstreamTls.insecure && config.upstreamTls.caFile !== undefined) {
    warnings.push(`${describeOrigin(config.origins.upstreamCaFile)} is ignored: upstream TLS verification is off (upstream_tls.insecure)`);
  }
  return warnings;
}

async function resolveLayers(
  configFile: string | undefined,
  env: NodeJS.ProcessEnv,
  applyOverrides: (config: ProxyConfig) => ProxyConfig,
): Promise<ResolvedConfig> {
  let config = defaultConfig(env);
  const warnings: string[] = [];
  if (configFile !== undefined) {
    const loaded = await loadConfigFile(configFile);
    config = mergeConfig(config, loaded.values);
    warnings.push(...loaded.warnings);
  }
  config = { ...applyOverrides(config), configFile };
  checkMergedConfig(config);
  warnings.push(...mergedConfigWarnings(config));
  return { config, warnings };
}

/**
 * The configuration to run with. The file is `flags.configFile`, else `$EGRESS_PROXY_CONFIG`, else none (defaults,
 * environment and flags only). Every failure is a ConfigError naming its source (the file path, "environment" or
 * "command line") and key.
 */
export async function resolveConfig(flags: ConfigOverrides, env: NodeJS.ProcessEnv): Promise<ResolvedConfig> {
  const configFile = flags.configFile ?? configFileFromEnvironment(env);
  // Read the environment and flags before the (slower) file, so a typo there is reported without I/O.
  const fromEnvironment = readEnvironment(env);
  const fromCommandLine = readCommandLine(flags);
  return resolveLayers(configFile, env, (config) =>
    mergeConfig(mergeConfig(config, fromEnvironment), fromCommandLine),
  );
}

/**
 * What `path` alone means: defaults overridden by the file, without EGRESS_PROXY_* overrides, so a check reports
 * on the file and not on the shell it runs in. `env` only feeds the defaults (the data directory).
 */
export async function checkConfigFile(path: string, env: NodeJS.ProcessEnv): Promise<ResolvedConfig> {
  return resolveLayers(path, env, (config) => config);
}
