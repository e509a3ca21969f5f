/**
 * A short fingerprint of the configuration a proxy runs with, for `egress_proxy_config_info{hash}` and the reload
 * log lines: an operator (or an alert) compares it across replicas and before and after a rollout to see which ones
 * run the new config. It covers the resolved values, not the file's bytes: a comment or a reordered table does not
 * change it, while the same file under different EGRESS_PROXY_* variables does. Where values came from (`origins`)
 * is left out.
 */
import { createHash } from 'node:crypto';
import type { ProxyConfig } from '../config/proxy-config.js';

/** The first 16 hex digits of SHA-256 over the config's values as canonical JSON (object keys sorted). */
export function configHash(config: ProxyConfig): string {
  const values: Partial<ProxyConfig> = { ...config };
  delete values.origins;
  return createHash('sha256').update(canonicalJson(values)).digest('hex').slice(0, 16);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
