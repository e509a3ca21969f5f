// The shape of the TOML config file, in its two accepted forms: DataKit's `[[inputs.proxy]]` (so users can hand
// us their existing proxy.conf unchanged) and the native sections, which reach every ProxyConfig setting.
// Every table is strict: a misspelt key must fail loudly, not leave a default silently in force.

import { z } from 'zod';
import {
  booleanSchema,
  cidrListSchema,
  connectPortSchema,
  destinationListSchema,
  hostPatternListSchema,
  integerSchema,
  listenAddressSchema,
  nonEmptyStringSchema,
  pathSchema,
  portRangeListSchema,
  portSchema,
  realmSchema,
  secondsSchema,
  userListSchema,
  WHOLE_PROBLEM_PARAMS,
  workersSchema,
} from './value-schemas.js';
import { upstreamProxySchema } from './upstream-proxy-url.js';

function table<Shape extends z.core.$ZodLooseShape>(name: string, shape: Shape) {
  return z.strictObject(shape, { error: `a ${name} table` });
}

/** The one table of DataKit's proxy input, with DataKit's key names. */
const datakitProxyTable = table('[[inputs.proxy]]', {
  bind: listenAddressSchema.optional(),
  port: portSchema.optional(),
  allowed_client_cidrs: cidrListSchema.optional(),
  verbose: booleanSchema.optional(),
  mitm: booleanSchema.optional(),
  // Deprecated in DataKit and ignored there too; accepted whatever their value so old files still load.
  path: z.unknown().optional(),
  ws_bind: z.unknown().optional(),
});

export const DEPRECATED_DATAKIT_KEYS = ['path', 'ws_bind'] as const;

const exactlyOneProxyTable = { error: 'exactly one [[inputs.proxy]] table' };

const datakitInputsTable = table('[inputs]', {
  proxy: z.array(datakitProxyTable, exactlyOneProxyTable).length(1, exactlyOneProxyTable),
});

const proxySection = table('[proxy]', {
  bind: listenAddressSchema.optional(),
  port: portSchema.optional(),
  allowed_client_cidrs: cidrListSchema.optional(),
  verbose: booleanSchema.optional(),
  log_full_paths: booleanSchema.optional(),
  mitm: booleanSchema.optional(),
  workers: workersSchema.optional(),
  upstream_proxy: upstreamProxySchema.optional(),
  upstream_proxy_bypass: hostPatternListSchema.optional(),
});

/** Durations in seconds: what people write by hand; ProxyConfig holds milliseconds. */
const timeoutsSection = table('[timeouts]', {
  connect: secondsSchema.optional(),
  upstream_response: secondsSchema.optional(),
  client_headers: secondsSchema.optional(),
  client_body: secondsSchema.optional(),
  client_keepalive: secondsSchema.optional(),
  upstream_keepalive: secondsSchema.optional(),
  tunnel_idle: secondsSchema.optional(),
  drain: secondsSchema.optional(),
  startup: secondsSchema.optional(),
});

// Upper bounds here are not tuning advice: they only catch a value that is certainly a mistake (an extra zero,
// seconds typed as milliseconds) before it becomes a resource or cardinality problem.
const limitsSection = table('[limits]', {
  max_client_connections: integerSchema(1, 1_000_000).optional(),
  upstream_max_sockets_per_host: integerSchema(1, 100_000).optional(),
  upstream_max_sockets_per_client: integerSchema(1, 100_000).optional(),
  // Deprecated spelling of destinations.connect_ports (see DEPRECATED_LIMITS_KEYS).
  allowed_connect_ports: z.array(connectPortSchema, { error: 'an array of ports from 1 to 65535' }).optional(),
  max_connections_per_client: integerSchema(1, 1_000_000).optional(),
});

/** Where the proxy may connect: src/policy/. */
const destinationsSection = table('[destinations]', {
  allow: destinationListSchema.optional(),
  block_special_ranges: booleanSchema.optional(),
  connect_ports: portRangeListSchema.optional(),
  http_ports: portRangeListSchema.optional(),
});

/** Optional Basic proxy authentication. */
const proxyAuthSection = table('[proxy_auth]', {
  users: userListSchema.optional(),
  realm: realmSchema.optional(),
  max_failures_per_minute: integerSchema(1, 10_000).optional(),
});

const adminSection = table('[admin]', {
  enabled: booleanSchema.optional(),
  bind: listenAddressSchema.optional(),
  port: portSchema.optional(),
  dashboard: booleanSchema.optional(),
  users: userListSchema.optional(),
  max_failures_per_minute: integerSchema(1, 10_000).optional(),
});

const metricsSection = table('[metrics]', {
  max_api_labels: integerSchema(0, 100_000).optional(),
  max_client_ip_labels: integerSchema(0, 100_000).optional(),
});

const mitmSection = table('[mitm]', {
  data_dir: pathSchema.optional(),
  ca_cert_file: pathSchema.optional(),
  ca_key_file: pathSchema.optional(),
  // RFC 5280 ub-common-name: a longer CN makes a certificate strict parsers reject.
  ca_common_name: nonEmptyStringSchema('a name of 1 to 64 characters')
    .max(64, { error: 'a name of 1 to 64 characters' })
    .optional(),
  ca_validity_days: integerSchema(1, 36_500).optional(),
  // At least 2: cached leaves are dropped a day before they expire, so a 1-day leaf would never be reused.
  // At most 825: the longest validity Apple platforms accept for a TLS server certificate from a private CA.
  leaf_validity_days: integerSchema(2, 825).optional(),
  leaf_cache_size: integerSchema(1, 1_000_000).optional(),
  ca_key_type: z.enum(['ec', 'rsa'], { error: '"ec" or "rsa"' }).optional(),
  intercept_hosts: hostPatternListSchema.optional(),
  passthrough_hosts: hostPatternListSchema.optional(),
  // Deprecated spellings of upstream_tls.ca_file and upstream_tls.insecure (see DEPRECATED_MITM_KEYS).
  upstream_ca_file: pathSchema.optional(),
  upstream_insecure: booleanSchema.optional(),
});

/** Upstream TLS verification, for forwarding and MITM alike. */
const upstreamTlsSection = table('[upstream_tls]', {
  ca_file: pathSchema.optional(),
  insecure: booleanSchema.optional(),
});

/**
 * Keys that moved out of `[mitm]` because they govern plain forwarding of `https://` URIs too: the old spelling
 * still loads, with a warning naming the new one.
 */
export const DEPRECATED_MITM_KEYS = {
  upstream_ca_file: 'upstream_tls.ca_file',
  upstream_insecure: 'upstream_tls.insecure',
} as const;

/**
 * `limits.allowed_connect_ports` became `destinations.connect_ports`, the port policy's list for CONNECT and every
 * other TLS destination (a decrypted CONNECT, an `https://` URI): the old spelling still loads, with a warning, and
 * keeps its meaning (the ports CONNECT may reach; empty = any).
 */
export const DEPRECATED_LIMITS_KEYS = {
  allowed_connect_ports: 'destinations.connect_ports',
} as const;

export const NATIVE_SECTIONS = ['proxy', 'timeouts', 'limits', 'destinations', 'proxy_auth', 'admin', 'metrics', 'mitm', 'upstream_tls'] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Refuses a file mixing both forms before looking at any key: which form wins would be a guess, and the user
 * most likely pasted DataKit's file into a native one.
 */
const oneFormOnly = z.unknown().superRefine((document, ctx) => {
  if (!isPlainObject(document) || !('inputs' in document)) return;
  const nativeSections = NATIVE_SECTIONS.filter((section) => section in document);
  if (nativeSections.length === 0) return;
  ctx.addIssue({
    code: 'custom',
    path: ['inputs'],
    message:
      `DataKit's [[inputs.proxy]] form cannot be mixed with the native sections ` +
      `(${nativeSections.map((section) => `[${section}]`).join(', ')}); use one form`,
    params: WHOLE_PROBLEM_PARAMS,
  });
});

/** The whole file: either `inputs` (DataKit's form) or any of the native sections, all optional. */
export const configFileSchema = oneFormOnly.pipe(
  z.strictObject(
    {
      inputs: datakitInputsTable.optional(),
      proxy: proxySection.optional(),
      timeouts: timeoutsSection.optional(),
      limits: limitsSection.optional(),
      destinations: destinationsSection.optional(),
      proxy_auth: proxyAuthSection.optional(),
      admin: adminSection.optional(),
      metrics: metricsSection.optional(),
      mitm: mitmSection.optional(),
      upstream_tls: upstreamTlsSection.optional(),
    },
    { error: 'a TOML document' },
  ),
);

export type ConfigFile = z.output<typeof configFileSchema>;
export type DatakitProxyTable = z.output<typeof datakitProxyTable>;
