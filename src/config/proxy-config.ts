/**
 * The resolved configuration every part of the proxy reads: built-in defaults, overridden by the file, then the
 * environment, then command-line flags (see `resolve-config.ts`). Durations are in milliseconds here; the file
 * spells them in seconds.
 */

export interface TimeoutsConfig {
  /** TCP connect to an upstream (DNS included). Exceeded: 504. Default 10 s (the reference has none). */
  connectMs: number;
  /**
   * Upstream silence: no byte either way on the upstream connection of a request in flight, forwarded or MITM
   * (sending the request, awaiting the response head, streaming the body). Before the response head: 504; after
   * it, the response is cut. Default 60 s.
   */
  upstreamResponseMs: number;
  /** A client must finish sending request headers within this (slowloris guard). Default 30 s. */
  clientHeadersMs: number;
  /**
   * A request body may go this long without a byte while the proxy is reading it. Exceeded: 408, counted as a
   * client timeout (not an upstream one). Default 30 s, like client_headers.
   */
  clientBodyMs: number;
  /**
   * How long an idle client keep-alive connection stays open. Default 95 s: above Go's 90 s client idle timeout
   * (DataKit's uploader), so the client closes first and never sends a POST into a socket we are closing.
   */
  clientKeepAliveMs: number;
  /**
   * How long an idle pooled upstream socket is kept. Default 4 s: below the 5 s keep-alive of common servers (Node's
   * default), so we never reuse a socket the upstream is about to close (a reset POST cannot be retried).
   */
  upstreamKeepAliveMs: number;
  /** A CONNECT tunnel with no bytes either way for this long is closed. Default 10 min. */
  tunnelIdleMs: number;
  /** On SIGTERM/SIGINT, in-flight requests and tunnels get this long to finish. Default 10 s. */
  drainMs: number;
  /**
   * The longest a start may take, from a resolved config to serving; past it the process exits 1 with one line.
   * Default 90 s: above the 60 s the MITM CA lock is waited for, so that wait's own message wins.
   */
  startupMs: number;
}

export interface LimitsConfig {
  /** Client connections open at once; further ones are closed on accept. Default 10,000. Per worker process. */
  maxClientConnections: number;
  /** Sockets per upstream origin in the keep-alive pool. Default 256. Per worker process. */
  upstreamMaxSocketsPerHost: number;
  /**
   * Of one origin's slots, how many one client address may hold at once; its further requests wait. Default 64 (a
   * quarter of the default per-host cap): one client opening many slow requests cannot take every slot.
   */
  upstreamMaxSocketsPerClient: number;
  /**
   * Connections one client address may hold open at once (tunnels and idle keep-alive connections included); a
   * further one is answered 503 at accept. Default 1000, a tenth of the default `maxClientConnections`: one client
   * (or an attacker with one address) cannot take every connection. Per worker process.
   */
  maxConnectionsPerClient: number;
}

/** The destination policy (src/policy/): where the proxy may connect, whatever the mode. */
export interface DestinationsConfig {
  /**
   * Host names, `*.suffix`, IPs and CIDRs, each optionally `:PORT` or `:FROM-TO`, as written. Empty (default): any
   * destination not refused by `blockSpecialRanges`.
   */
  allow: string[];
  /**
   * Refuse loopback, unspecified, link-local, cloud metadata, multicast, broadcast and reserved addresses unless an
   * `allow` entry names them. Default true; private ranges stay allowed.
   */
  blockSpecialRanges: boolean;
  /**
   * Ports reached over TLS or a tunnel: CONNECT (tunnelled or decrypted) and `https://` URIs. Ports and `"FROM-TO"`
   * ranges; empty: any. Default [443] (squid's SSL_ports). `limits.allowed_connect_ports` is the older spelling.
   */
  connectPorts: Array<number | string>;
  /** Ports of `http://` URIs. Empty: any. Default squid's Safe_ports (80, 21, 443, 70, 210, 1025-65535, ...). */
  httpPorts: Array<number | string>;
}

/** Optional proxy authentication (Basic `Proxy-Authorization`). */
export interface ProxyAuthConfig {
  /** Empty (default): no authentication. Entries from `egress-proxy passwd USER`. */
  users: AdminUser[];
  /** The realm of the 407's challenge. Default "egress-proxy". */
  realm: string;
  /**
   * Failed attempts one client address may make per minute (in a burst of as many) before further attempts are
   * answered 429 unchecked. Default 10.
   */
  maxFailuresPerMinute: number;
}

export interface AdminUser {
  name: string;
  /** `$scrypt$...`, from `egress-proxy passwd USER`. */
  passwordHash: string;
}

export interface AdminConfig {
  /** Serve /metrics, /healthz, /readyz (and the dashboard). Default true. */
  enabled: boolean;
  /** Default 127.0.0.1. */
  bind: string;
  /** Default 9531; 0 picks a free port. */
  port: number;
  /** Serve the live dashboard at `/` (and keep its few minutes of history). Default true. */
  dashboard: boolean;
  /**
   * When not empty, every admin path but /healthz and /readyz needs Basic credentials of one of these users.
   * Default empty: the admin listener is on loopback unless `bind` says otherwise.
   */
  users: AdminUser[];
  /**
   * With users: failed logins one client address may make per minute (in a burst of as many) before further
   * attempts are answered 429 unchecked, as `proxy_auth.max_failures_per_minute` does on the proxy port. Default 10.
   */
  maxFailuresPerMinute: number;
}

export interface MetricsConfig {
  /** Distinct `api` label values before new ones are counted as `other`. Default 300. */
  maxApiLabels: number;
  /** Distinct `client_ip` label values before new ones are counted as `other`. Default 300. */
  maxClientIpLabels: number;
}

export interface MitmConfig {
  /** Where the generated CA lives. Default `$EGRESS_PROXY_DATA_DIR`, else `$XDG_DATA_HOME/egress-proxy`, else `~/.local/share/egress-proxy`. */
  dataDir: string;
  /** A CA certificate (PEM) to use instead of generating one; needs `caKeyFile`. */
  caCertFile: string | undefined;
  /** The key (PEM) of `caCertFile`. */
  caKeyFile: string | undefined;
  /** Subject CN of a generated CA. Default `egress-proxy CA (<hostname>)`. */
  caCommonName: string;
  /** Validity of a generated CA. Default 3650 days. */
  caValidityDays: number;
  /** Key algorithm of a generated CA: `ec` (P-256, default) or `rsa` (2048). */
  caKeyType: 'ec' | 'rsa';
  /** Validity of a leaf certificate. Default 30 days; cached leaves are dropped a day before they expire. */
  leafValidityDays: number;
  /** Leaf certificates (SecureContexts) kept in the LRU. Default 1000. */
  leafCacheSize: number;
  /** Hosts to decrypt (exact names or `*.suffix`). Empty: every host not in `passthroughHosts`. */
  interceptHosts: string[];
  /** Hosts never decrypted: tunnelled untouched. */
  passthroughHosts: string[];
}

/**
 * How the proxy verifies upstream TLS, for forwarded `https://` URIs and for MITM alike (which is why these keys
 * left `[mitm]`, where they were first written: `mitm.upstream_ca_file` and `mitm.upstream_insecure` still load,
 * with a deprecation warning).
 */
export interface UpstreamTlsConfig {
  /** Extra CA (PEM) trusted for upstream TLS, in addition to the system roots. */
  caFile: string | undefined;
  /** Skip upstream certificate verification. Default false; logs a warning at startup when true. */
  insecure: boolean;
}

/** A parent HTTP proxy (`proxy.upstream_proxy`): where every upstream connection goes first. */
export interface UpstreamProxyConfig {
  host: string;
  port: number;
  /** Basic credentials sent to the parent (Proxy-Authorization), never to an origin; both or neither. */
  username: string | undefined;
  password: string | undefined;
  /** `http://host:port`, without the credentials: what logs and the dashboard may show. */
  display: string;
}

/** Where one value was written: the file path, "environment" or "command line", and the key, variable or flag. */
export interface ValueOrigin {
  source: string;
  key: string;
}

/**
 * The values whose problems show only when they are used (a name that does not resolve, a port in use, a file that
 * cannot be read or a directory that cannot be written): their origins, so that the failure names the place the
 * user wrote the value, not just the value.
 */
export type OriginKey =
  | 'bind'
  | 'port'
  | 'adminBind'
  | 'adminPort'
  | 'dataDir'
  | 'caCertFile'
  | 'caKeyFile'
  | 'upstreamCaFile'
  // Not a failure at startup, but a value the open-files limit may not hold: the warning names where it was set.
  | 'maxClientConnections';
export type ConfigOrigins = Record<OriginKey, ValueOrigin>;

export interface ProxyConfig {
  /** Listen address. Default 127.0.0.1: exposing a proxy is a decision, not an accident. */
  bind: string;
  /** Listen port. Default 9530 (the reference's); 0 picks a free port. */
  port: number;
  /** Client allow-list (IPv4/IPv6 CIDRs or bare addresses). Empty: every client allowed. */
  allowedClientCidrs: string[];
  /** One access-log line per request and per tunnel. */
  verbose: boolean;
  /**
   * Access-log lines carry request paths as they are. Default false: path segments that look like identifiers or
   * tokens are written `:id`, by the same rule as the `api` label. Query strings and userinfo are never logged.
   */
  logFullPaths: boolean;
  /** Decrypt CONNECT traffic with the local CA to record per-API metrics. */
  mitm: boolean;
  /**
   * Processes serving the proxy port: a number, or "auto" for one per CPU the process may use. Default 1. Each
   * worker is a whole proxy with its own connections and limits; see src/cluster/.
   */
  workers: number | 'auto';
  timeouts: TimeoutsConfig;
  limits: LimitsConfig;
  destinations: DestinationsConfig;
  proxyAuth: ProxyAuthConfig;
  admin: AdminConfig;
  metrics: MetricsConfig;
  mitmOptions: MitmConfig;
  upstreamTls: UpstreamTlsConfig;
  /** The parent proxy upstream connections go through; undefined (the default): straight to the origin. */
  upstreamProxy: UpstreamProxyConfig | undefined;
  /** Hosts reached directly even with `upstreamProxy` (exact names or addresses, `*.suffix`). Default empty. */
  upstreamProxyBypass: string[];
  /** Where the values came from, for messages: the config file path, if any. */
  configFile: string | undefined;
  /** Where the values that can fail at startup were written. */
  origins: ConfigOrigins;
}
