// One layer of configuration values (the file, the environment or the command line) and how layers stack:
// a later layer replaces only the values it sets.

import type {
  AdminConfig,
  ConfigOrigins,
  DestinationsConfig,
  ProxyAuthConfig,
  OriginKey,
  UpstreamTlsConfig,
  UpstreamProxyConfig,
  LimitsConfig,
  MetricsConfig,
  MitmConfig,
  ProxyConfig,
  TimeoutsConfig,
} from './proxy-config.js';

/** Values one layer sets, in ProxyConfig's shape and units; an absent or undefined value is left to lower layers. */
export interface PartialConfig {
  bind?: string | undefined;
  port?: number | undefined;
  allowedClientCidrs?: string[] | undefined;
  verbose?: boolean | undefined;
  logFullPaths?: boolean | undefined;
  mitm?: boolean | undefined;
  timeouts?: Partial<TimeoutsConfig> | undefined;
  limits?: Partial<LimitsConfig> | undefined;
  destinations?: Partial<DestinationsConfig> | undefined;
  proxyAuth?: Partial<ProxyAuthConfig> | undefined;
  admin?: Partial<AdminConfig> | undefined;
  metrics?: Partial<MetricsConfig> | undefined;
  workers?: number | 'auto' | undefined;
  mitmOptions?: Partial<MitmConfig> | undefined;
  upstreamTls?: Partial<UpstreamTlsConfig> | undefined;
  upstreamProxy?: UpstreamProxyConfig | undefined;
  upstreamProxyBypass?: string[] | undefined;
  /** Where this layer wrote the values it sets (only for the keys ConfigOrigins tracks). */
  origins?: Partial<ConfigOrigins> | undefined;
}

function withDefinedValues<T extends object>(base: T, layer: Partial<T> | undefined): T {
  const merged = { ...base };
  if (layer === undefined) return merged;
  for (const [key, value] of Object.entries(layer)) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  return merged;
}

/** `base` with every value `layer` sets replaced; `base` is not modified. */
export function mergeConfig(base: ProxyConfig, layer: PartialConfig): ProxyConfig {
  const { timeouts, limits, destinations, proxyAuth, admin, metrics, mitmOptions, upstreamTls, origins, ...topLevel } = layer;
  return {
    ...withDefinedValues(base, topLevel),
    timeouts: withDefinedValues(base.timeouts, timeouts),
    limits: withDefinedValues(base.limits, limits),
    destinations: withDefinedValues(base.destinations, destinations),
    proxyAuth: withDefinedValues(base.proxyAuth, proxyAuth),
    admin: withDefinedValues(base.admin, admin),
    metrics: withDefinedValues(base.metrics, metrics),
    mitmOptions: withDefinedValues(base.mitmOptions, mitmOptions),
    upstreamTls: withDefinedValues(base.upstreamTls, upstreamTls),
    origins: withDefinedValues(base.origins, origins),
  };
}

/**
 * The origins of the tracked values a layer sets: for each key in `keyNames` whose value in `values` is defined,
 * `{ source, key: keyNames[key] }`.
 */
export function originsOfSetValues(
  values: Partial<Record<OriginKey, unknown>>,
  source: string,
  keyNames: Partial<Record<OriginKey, string>>,
): Partial<ConfigOrigins> {
  const origins: Partial<ConfigOrigins> = {};
  for (const [name, key] of Object.entries(keyNames) as Array<[OriginKey, string]>) {
    if (values[name] !== undefined) origins[name] = { source, key };
  }
  return origins;
}
