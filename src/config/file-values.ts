// What a validated config file means: its keys (in either form) translated to a PartialConfig in ProxyConfig's
// names and units, plus the warnings the file deserves.

import path from 'node:path';
import { ConfigError } from '../errors.js';
import {
  DEPRECATED_DATAKIT_KEYS,
  DEPRECATED_LIMITS_KEYS,
  DEPRECATED_MITM_KEYS,
  type ConfigFile,
  type DatakitProxyTable,
} from './file-schema.js';
import { originsOfSetValues, type PartialConfig } from './partial-config.js';
import { secondsToMs } from './value-schemas.js';
import { tomlKeyName } from './validation-error.js';

export interface FileValues {
  values: PartialConfig;
  warnings: string[];
}

function datakitValues(proxyTable: DatakitProxyTable, fileLabel: string): FileValues {
  const warnings = DEPRECATED_DATAKIT_KEYS.filter((key) => proxyTable[key] !== undefined).map(
    (key) => `${fileLabel}: ${tomlKeyName(['inputs', 'proxy', 0, key])} is deprecated and ignored`,
  );
  const keyName = (key: string): string => tomlKeyName(['inputs', 'proxy', 0, key]);
  return {
    values: {
      bind: proxyTable.bind,
      port: proxyTable.port,
      allowedClientCidrs: proxyTable.allowed_client_cidrs,
      verbose: proxyTable.verbose,
      mitm: proxyTable.mitm,
      origins: originsOfSetValues(proxyTable, fileLabel, { bind: keyName('bind'), port: keyName('port') }),
    },
    warnings,
  };
}

/** A key that moved: its old and new names, and why (for the warning). */
interface MovedKey {
  oldKey: string;
  newKey: string;
  why: string;
}

/**
 * A moved key, from its new place or (with a warning) its old one. Both at once is an error: which one was meant
 * would be a guess.
 */
function movedKey<T>(
  moved: MovedKey,
  oldValue: T | undefined,
  newValue: T | undefined,
  fileLabel: string,
  warnings: string[],
): { value: T | undefined; key: string } {
  const { oldKey, newKey, why } = moved;
  if (oldValue === undefined) return { value: newValue, key: newKey };
  if (newValue !== undefined) {
    throw new ConfigError(fileLabel, oldKey, `is the deprecated spelling of ${newKey}, which is set too: keep only ${newKey}`);
  }
  warnings.push(`${fileLabel}: ${oldKey} is deprecated (${why}): write it as ${newKey}`);
  return { value: oldValue, key: oldKey };
}

function movedMitmKey(oldKey: keyof typeof DEPRECATED_MITM_KEYS): MovedKey {
  return { oldKey: `mitm.${oldKey}`, newKey: DEPRECATED_MITM_KEYS[oldKey], why: 'it governs forwarding too' };
}

const MOVED_CONNECT_PORTS: MovedKey = {
  oldKey: 'limits.allowed_connect_ports',
  newKey: DEPRECATED_LIMITS_KEYS.allowed_connect_ports,
  why: 'the port policy covers every TLS destination now',
};

function optionalSeconds(seconds: number | undefined): number | undefined {
  return seconds === undefined ? undefined : secondsToMs(seconds);
}

/**
 * Relative paths in a file are taken from the file's directory, not the working directory: a service manager
 * usually starts us in `/`, and the file should mean the same wherever it is loaded from.
 */
function pathFromFile(filePath: string | undefined, fileDir: string): string | undefined {
  return filePath === undefined ? undefined : path.resolve(fileDir, filePath);
}

function nativeValues(file: ConfigFile, fileLabel: string, fileDir: string): FileValues {
  const { proxy, timeouts, limits, destinations, admin, metrics, mitm } = file;
  const upstreamTls = file.upstream_tls;
  const proxyAuth = file.proxy_auth;
  const warnings: string[] = [];
  const caFile = movedKey(movedMitmKey('upstream_ca_file'), mitm?.upstream_ca_file, upstreamTls?.ca_file, fileLabel, warnings);
  const insecure = movedKey(movedMitmKey('upstream_insecure'), mitm?.upstream_insecure, upstreamTls?.insecure, fileLabel, warnings);
  const connectPorts = movedKey(MOVED_CONNECT_PORTS, limits?.allowed_connect_ports, destinations?.connect_ports, fileLabel, warnings);
  const tracked = {
    bind: proxy?.bind,
    port: proxy?.port,
    adminBind: admin?.bind,
    adminPort: admin?.port,
    dataDir: pathFromFile(mitm?.data_dir, fileDir),
    caCertFile: pathFromFile(mitm?.ca_cert_file, fileDir),
    caKeyFile: pathFromFile(mitm?.ca_key_file, fileDir),
    upstreamCaFile: pathFromFile(caFile.value, fileDir),
    maxClientConnections: limits?.max_client_connections,
  };
  return {
    values: {
      bind: proxy?.bind,
      port: proxy?.port,
      allowedClientCidrs: proxy?.allowed_client_cidrs,
      verbose: proxy?.verbose,
      logFullPaths: proxy?.log_full_paths,
      mitm: proxy?.mitm,
      workers: proxy?.workers,
      upstreamProxy: proxy?.upstream_proxy,
      upstreamProxyBypass: proxy?.upstream_proxy_bypass,
      timeouts: {
        connectMs: optionalSeconds(timeouts?.connect),
        upstreamResponseMs: optionalSeconds(timeouts?.upstream_response),
        clientHeadersMs: optionalSeconds(timeouts?.client_headers),
        clientBodyMs: optionalSeconds(timeouts?.client_body),
        clientKeepAliveMs: optionalSeconds(timeouts?.client_keepalive),
        upstreamKeepAliveMs: optionalSeconds(timeouts?.upstream_keepalive),
        tunnelIdleMs: optionalSeconds(timeouts?.tunnel_idle),
        drainMs: optionalSeconds(timeouts?.drain),
        startupMs: optionalSeconds(timeouts?.startup),
      },
      limits: {
        maxClientConnections: limits?.max_client_connections,
        upstreamMaxSocketsPerHost: limits?.upstream_max_sockets_per_host,
        upstreamMaxSocketsPerClient: limits?.upstream_max_sockets_per_client,
        maxConnectionsPerClient: limits?.max_connections_per_client,
      },
      destinations: {
        allow: destinations?.allow,
        blockSpecialRanges: destinations?.block_special_ranges,
        connectPorts: connectPorts.value,
        httpPorts: destinations?.http_ports,
      },
      proxyAuth: {
        users: proxyAuth?.users,
        realm: proxyAuth?.realm,
        maxFailuresPerMinute: proxyAuth?.max_failures_per_minute,
      },
      admin: {
        enabled: admin?.enabled,
        bind: admin?.bind,
        port: admin?.port,
        dashboard: admin?.dashboard,
        users: admin?.users,
        maxFailuresPerMinute: admin?.max_failures_per_minute,
      },
      metrics: {
        maxApiLabels: metrics?.max_api_labels,
        maxClientIpLabels: metrics?.max_client_ip_labels,
      },
      mitmOptions: {
        dataDir: tracked.dataDir,
        caCertFile: tracked.caCertFile,
        caKeyFile: tracked.caKeyFile,
        caCommonName: mitm?.ca_common_name,
        caValidityDays: mitm?.ca_validity_days,
        caKeyType: mitm?.ca_key_type,
        leafValidityDays: mitm?.leaf_validity_days,
        leafCacheSize: mitm?.leaf_cache_size,
        interceptHosts: mitm?.intercept_hosts,
        passthroughHosts: mitm?.passthrough_hosts,
      },
      upstreamTls: { caFile: tracked.upstreamCaFile, insecure: insecure.value },
      origins: originsOfSetValues(tracked, fileLabel, {
        bind: 'proxy.bind',
        port: 'proxy.port',
        adminBind: 'admin.bind',
        adminPort: 'admin.port',
        dataDir: 'mitm.data_dir',
        caCertFile: 'mitm.ca_cert_file',
        caKeyFile: 'mitm.ca_key_file',
        upstreamCaFile: caFile.key,
        maxClientConnections: 'limits.max_client_connections',
      }),
    },
    warnings,
  };
}

/** The values of a validated file. `fileLabel` names it in warnings; `filePath` anchors its relative paths. */
export function fileValues(file: ConfigFile, fileLabel: string, filePath: string): FileValues {
  const datakitTable = file.inputs?.proxy[0];
  if (datakitTable !== undefined) return datakitValues(datakitTable, fileLabel);
  return nativeValues(file, fileLabel, path.dirname(path.resolve(filePath)));
}
