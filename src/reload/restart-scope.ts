/**
 * Which settings a reload applies and which wait for a restart, in one table: the running proxy names the keys a
 * reload could not apply (`RunningProxy.reconfigure`), and the reloader keeps their running values in the config it
 * hands on (a restarted cluster worker starts on the reloaded config, and must still listen where its siblings do).
 *
 * Restart-only: what is bound at start (listen addresses and ports, the listener's connection cap, worker count,
 * the admin listener), what is built once (MITM on or off, the CA and its leaves, upstream TLS trust, metric label
 * bounds: a registry's series cannot change shape under a scraper).
 */
import type { ProxyConfig } from '../config/proxy-config.js';

interface RestartSetting {
  /** As the config file spells it. */
  key: string;
  /** The setting's value, comparable with `===` (objects as JSON). */
  read(config: ProxyConfig): unknown;
  /** `next` with this setting's value taken from `running`. */
  keep(next: ProxyConfig, running: ProxyConfig): ProxyConfig;
}

const RESTART_SETTINGS: readonly RestartSetting[] = [
  { key: 'proxy.bind', read: (c) => c.bind, keep: (n, r) => ({ ...n, bind: r.bind }) },
  { key: 'proxy.port', read: (c) => c.port, keep: (n, r) => ({ ...n, port: r.port }) },
  { key: 'proxy.mitm', read: (c) => c.mitm, keep: (n, r) => ({ ...n, mitm: r.mitm }) },
  { key: 'proxy.workers', read: (c) => c.workers, keep: (n, r) => ({ ...n, workers: r.workers }) },
  {
    key: 'limits.max_client_connections',
    read: (c) => c.limits.maxClientConnections,
    keep: (n, r) => ({ ...n, limits: { ...n.limits, maxClientConnections: r.limits.maxClientConnections } }),
  },
  { key: 'admin', read: (c) => JSON.stringify(c.admin), keep: (n, r) => ({ ...n, admin: r.admin }) },
  { key: 'metrics', read: (c) => JSON.stringify(c.metrics), keep: (n, r) => ({ ...n, metrics: r.metrics }) },
  {
    key: 'proxy.upstream_proxy',
    read: (c) => JSON.stringify([c.upstreamProxy, c.upstreamProxyBypass]),
    keep: (n, r) => ({ ...n, upstreamProxy: r.upstreamProxy, upstreamProxyBypass: r.upstreamProxyBypass }),
  },
  { key: 'upstream_tls', read: (c) => JSON.stringify(c.upstreamTls), keep: (n, r) => ({ ...n, upstreamTls: r.upstreamTls }) },
  {
    key: 'mitm (CA and leaf settings)',
    read: (c) => {
      const o = c.mitmOptions;
      return JSON.stringify([o.dataDir, o.caCertFile, o.caKeyFile, o.caCommonName, o.caValidityDays, o.caKeyType, o.leafValidityDays, o.leafCacheSize]);
    },
    keep: (n, r) => {
      const o = r.mitmOptions;
      const caSettings = {
        dataDir: o.dataDir,
        caCertFile: o.caCertFile,
        caKeyFile: o.caKeyFile,
        caCommonName: o.caCommonName,
        caValidityDays: o.caValidityDays,
        caKeyType: o.caKeyType,
        leafValidityDays: o.leafValidityDays,
        leafCacheSize: o.leafCacheSize,
      };
      return { ...n, mitmOptions: { ...n.mitmOptions, ...caSettings } };
    },
  },
];

/** The keys whose value differs between `running` and `next` but only takes effect on a restart. */
export function restartNeededKeys(running: ProxyConfig, next: ProxyConfig): string[] {
  return RESTART_SETTINGS.filter((setting) => setting.read(running) !== setting.read(next)).map((setting) => setting.key);
}

/**
 * What a reload runs with: `next`, except that every restart-only setting keeps its running value (and `origins`,
 * which say where the running listeners' values were written).
 */
export function reloadableConfig(running: ProxyConfig, next: ProxyConfig): ProxyConfig {
  const kept = RESTART_SETTINGS.reduce((config, setting) => setting.keep(config, running), next);
  return { ...kept, origins: running.origins };
}
