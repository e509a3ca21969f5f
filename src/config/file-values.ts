// What a validated config file means: its keys (in either form) translated to a PartialConfig in ProxyConfig's
// names and units, plus the warnings the file deserves.

import path from 'node:path';
import { DEPRECATED_DATAKIT_KEYS, type ConfigFile, type DatakitProxyTable } from './file-schema.js';
import type { PartialConfig } from './partial-config.js';
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
  return {
    values: {
      bind: proxyTable.bind,
      port: proxyTable.port,
      allowedClientCidrs: proxyTable.allowed_client_cidrs,
      verbose: proxyTable.verbose,
      mitm: proxyTable.mitm,
    },
    warnings,
  };
}

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

function nativeValues(file: ConfigFile, fileDir: string): FileValues {
  const { proxy, timeouts, limits, admin, metrics, mitm } = file;
  return {
    values: {
      bind: proxy?.bind,
      port: proxy?.port,
      allowedClientCidrs: proxy?.allowed_client_cidrs,
      verbose: proxy?.verbose,
      mitm: proxy?.mitm,
      timeouts: {
        connectMs: optionalSeconds(timeouts?.connect),
        upstreamResponseMs: optionalSeconds(timeouts?.upstream_response),
        clientHeadersMs: optionalSeconds(timeouts?.client_headers),
        clientKeepAliveMs: optionalSeconds(timeouts?.client_keepalive),
        upstreamKeepAliveMs: optionalSeconds(timeouts?.upstream_keepalive),
        tunnelIdleMs: optionalSeconds(timeouts?.tunnel_idle),
        drainMs: optionalSeconds(timeouts?.drain),
      },
      limits: {
        maxClientConnections: limits?.max_client_connections,
        upstreamMaxSocketsPerHost: limits?.upstream_max_sockets_per_host,
        allowedConnectPorts: limits?.allowed_connect_ports,
      },
      admin: {
        enabled: admin?.enabled,
        bind: admin?.bind,
        port: admin?.port,
      },
      metrics: {
        maxApiLabels: metrics?.max_api_labels,
        maxClientIpLabels: metrics?.max_client_ip_labels,
      },
      mitmOptions: {
        dataDir: pathFromFile(mitm?.data_dir, fileDir),
        caCertFile: pathFromFile(mitm?.ca_cert_file, fileDir),
        caKeyFile: pathFromFile(mitm?.ca_key_file, fileDir),
        caCommonName: mitm?.ca_common_name,
        caValidityDays: mitm?.ca_validity_days,
        caKeyType: mitm?.ca_key_type,
        leafValidityDays: mitm?.leaf_validity_days,
        leafCacheSize: mitm?.leaf_cache_size,
        interceptHosts: mitm?.intercept_hosts,
        passthroughHosts: mitm?.passthrough_hosts,
        upstreamCaFile: pathFromFile(mitm?.upstream_ca_file, fileDir),
        upstreamInsecure: mitm?.upstream_insecure,
      },
    },
    warnings: [],
  };
}

/** The values of a validated file. `fileLabel` names it in warnings; `filePath` anchors its relative paths. */
export function fileValues(file: ConfigFile, fileLabel: string, filePath: string): FileValues {
  const datakitTable = file.inputs?.proxy[0];
  if (datakitTable !== undefined) return datakitValues(datakitTable, fileLabel);
  return nativeValues(file, path.dirname(path.resolve(filePath)));
}
