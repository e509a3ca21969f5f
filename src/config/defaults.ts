// The built-in defaults: the bottom layer of the configuration, and the one place each default is decided.

import os from 'node:os';
import path from 'node:path';
import type { ConfigOrigins, ProxyConfig } from './proxy-config.js';
import { DEFAULT_CONNECT_PORTS, DEFAULT_HTTP_PORTS } from '../policy/port-ranges.js';

const APP_DIR_NAME = 'egress-proxy';

/**
 * Where the generated CA lives: `$EGRESS_PROXY_DATA_DIR`, else `$XDG_DATA_HOME/egress-proxy`, else
 * `~/.local/share/egress-proxy`. Empty variables count as unset, and a relative XDG_DATA_HOME is ignored, as the
 * XDG Base Directory spec asks.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  const explicit = env['EGRESS_PROXY_DATA_DIR'];
  if (explicit) return explicit;
  const xdgDataHome = env['XDG_DATA_HOME'];
  if (xdgDataHome && path.isAbsolute(xdgDataHome)) return path.join(xdgDataHome, APP_DIR_NAME);
  return path.join(os.homedir(), '.local', 'share', APP_DIR_NAME);
}

// X.509 caps a common name at 64 characters (RFC 5280 ub-common-name); a long FQDN must not produce a CA that
// strict parsers refuse.
const MAX_COMMON_NAME_LENGTH = 64;

/** `egress-proxy CA (<hostname>)`, shortening the host name to keep within 64 characters. */
export function defaultCaCommonName(hostname: string = os.hostname()): string {
  const prefix = 'egress-proxy CA (';
  const hostRoom = MAX_COMMON_NAME_LENGTH - prefix.length - 1;
  return `${prefix}${hostname.slice(0, hostRoom)})`;
}

export const DEFAULT_SOURCE = 'built-in default';

/** The defaults' origins: named by their key in the native file form, where a user would change them. */
function defaultOrigins(env: NodeJS.ProcessEnv): ConfigOrigins {
  const origin = (key: string) => ({ source: DEFAULT_SOURCE, key });
  return {
    bind: origin('proxy.bind'),
    port: origin('proxy.port'),
    adminBind: origin('admin.bind'),
    adminPort: origin('admin.port'),
    // The data directory's default is itself read from the environment first.
    dataDir: env['EGRESS_PROXY_DATA_DIR']
      ? { source: 'environment', key: 'EGRESS_PROXY_DATA_DIR' }
      : origin('mitm.data_dir'),
    caCertFile: origin('mitm.ca_cert_file'),
    caKeyFile: origin('mitm.ca_key_file'),
    upstreamCaFile: origin('upstream_tls.ca_file'),
    maxClientConnections: origin('limits.max_client_connections'),
  };
}

/** A fresh ProxyConfig holding every default (see proxy-config.ts for why each value is what it is). */
export function defaultConfig(env: NodeJS.ProcessEnv): ProxyConfig {
  return {
    bind: '127.0.0.1',
    port: 9530,
    allowedClientCidrs: [],
    verbose: false,
    logFullPaths: false,
    mitm: false,
    workers: 1,
    upstreamProxy: undefined,
    upstreamProxyBypass: [],
    timeouts: {
      connectMs: 10_000,
      upstreamResponseMs: 60_000,
      clientHeadersMs: 30_000,
      clientBodyMs: 30_000,
      clientKeepAliveMs: 95_000,
      upstreamKeepAliveMs: 4_000,
      tunnelIdleMs: 600_000,
      drainMs: 10_000,
      startupMs: 90_000,
    },
    limits: {
      maxClientConnections: 10_000,
      upstreamMaxSocketsPerHost: 256,
      upstreamMaxSocketsPerClient: 64,
      maxConnectionsPerClient: 1000,
    },
    destinations: {
      allow: [],
      blockSpecialRanges: true,
      connectPorts: [...DEFAULT_CONNECT_PORTS],
      httpPorts: [...DEFAULT_HTTP_PORTS],
    },
    proxyAuth: {
      users: [],
      realm: 'egress-proxy',
      maxFailuresPerMinute: 10,
    },
    admin: {
      enabled: true,
      bind: '127.0.0.1',
      port: 9531,
      dashboard: true,
      users: [],
      maxFailuresPerMinute: 10,
    },
    metrics: {
      maxApiLabels: 300,
      maxClientIpLabels: 300,
    },
    mitmOptions: {
      dataDir: defaultDataDir(env),
      caCertFile: undefined,
      caKeyFile: undefined,
      caCommonName: defaultCaCommonName(),
      caValidityDays: 3650,
      caKeyType: 'ec',
      leafValidityDays: 30,
      leafCacheSize: 1000,
      interceptHosts: [],
      passthroughHosts: [],
    },
    upstreamTls: {
      caFile: undefined,
      insecure: false,
    },
    configFile: undefined,
    origins: defaultOrigins(env),
  };
}
