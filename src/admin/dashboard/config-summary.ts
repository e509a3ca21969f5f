/**
 * The configuration as the dashboard shows it: what an operator checks at a glance (listeners, allow-list, MITM,
 * limits, timeouts), and nothing secret. Built from an explicit list of fields rather than by removing secrets
 * from the whole config, so a secret added to the config later is never shown by accident.
 */
import type { ProxyConfig } from '../../config/proxy-config.js';

export type ConfigSummary = Record<string, string | number | boolean | string[] | number[]>;

const seconds = (ms: number): string => `${ms / 1000} s`;
const portList = (ports: ReadonlyArray<number | string>): string => (ports.length === 0 ? 'any' : ports.join(', '));

export function configSummary(config: ProxyConfig, listening: { proxyPort: number; adminPort: number | undefined }): ConfigSummary {
  const summary: ConfigSummary = {
    'proxy listener': `${config.bind}:${listening.proxyPort}`,
    'admin listener': listening.adminPort === undefined ? 'off' : `${config.admin.bind}:${listening.adminPort}`,
    'admin authentication': config.admin.users.length === 0 ? 'off' : `Basic, ${config.admin.users.length} user(s)`,
    'allowed client CIDRs': config.allowedClientCidrs.length === 0 ? 'any client' : config.allowedClientCidrs,
    'proxy authentication': config.proxyAuth.users.length === 0 ? 'off' : `Basic, ${config.proxyAuth.users.length} user(s)`,
    'allowed destinations': config.destinations.allow.length === 0 ? 'any' : config.destinations.allow,
    'special destinations (loopback, metadata...)': config.destinations.blockSpecialRanges ? 'refused' : 'allowed',
    'ports (CONNECT and https / http)': `${portList(config.destinations.connectPorts)} / ${portList(config.destinations.httpPorts)}`,
    'connections per client': config.limits.maxConnectionsPerClient,
    'access log (verbose)': config.verbose,
    MITM: config.mitm,
    workers: config.workers,
    'max client connections': config.limits.maxClientConnections,
    'upstream sockets per host': config.limits.upstreamMaxSocketsPerHost,
    'timeouts (connect / response / headers / tunnel idle)': [
      seconds(config.timeouts.connectMs),
      seconds(config.timeouts.upstreamResponseMs),
      seconds(config.timeouts.clientHeadersMs),
      seconds(config.timeouts.tunnelIdleMs),
    ].join(' / '),
    'label caps (api / client_ip)': `${config.metrics.maxApiLabels} / ${config.metrics.maxClientIpLabels}`,
  };
  if (config.mitm) {
    summary['MITM intercept hosts'] = config.mitmOptions.interceptHosts.length === 0 ? 'all but passthrough' : config.mitmOptions.interceptHosts;
    summary['MITM passthrough hosts'] = config.mitmOptions.passthroughHosts.length === 0 ? 'none' : config.mitmOptions.passthroughHosts;
  }
  summary['upstream TLS verification'] = !config.upstreamTls.insecure;
  return summary;
}
