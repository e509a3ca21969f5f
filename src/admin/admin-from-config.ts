/**
 * The admin listener as the config describes it, built the same way by a single-process proxy (src/egress-proxy.ts)
 * and by a cluster primary (src/cluster/start-cluster.ts): address, Basic-auth users, and the dashboard with its
 * configuration summary. Undefined when `admin.enabled` is false.
 */
import type { ProxyConfig } from '../config/proxy-config.js';
import type { Logger } from '../logging/logger.js';
import { RateLimitedLog } from '../logging/rate-limited-log.js';
import type { AuthFailure } from '../auth/client-authenticator.js';
import { AdminServer, type AdminServerOptions } from './admin-server.js';
import { configSummary } from './dashboard/config-summary.js';
import { configHash } from '../reload/config-hash.js';
import type { MetricsSource } from './metrics-source.js';

export interface AdminServerDeps {
  metrics: MetricsSource;
  isReady: () => boolean;
  readyText?: () => string;
  logger: Logger;
  /** The ports actually listened on (port 0 picks one), for the dashboard's summary; undefined until known. */
  listening: () => { proxyPort: number | undefined; adminPort: number | undefined };
  /** The listener failed to accept a connection (out of file descriptors); logged as an error if not given. */
  onListenerError?: (err: Error) => void;
  /** POST /-/reload and the config in force since; absent: no reload endpoint, and the start's config shown. */
  reload?: AdminReload;
  /** Where failed admin logins are logged (rate-limited, see adminLoginLog); a log of its own over `logger` if not given. */
  trafficLog?: RateLimitedLog;
}

export interface AdminReload {
  /** What POST /-/reload runs (src/reload/config-reloader.ts). */
  reload: NonNullable<AdminServerOptions['reload']>;
  /** The config in force now (the start's, with every successful reload's values): the dashboard shows it. */
  running(): ProxyConfig;
}

export function adminServerFromConfig(config: ProxyConfig, deps: AdminServerDeps): AdminServer | undefined {
  if (!config.admin.enabled) return undefined;
  return new AdminServer({
    bind: config.admin.bind,
    port: config.admin.port,
    metrics: deps.metrics,
    isReady: deps.isReady,
    readyText: deps.readyText,
    users: config.admin.users,
    maxAuthFailuresPerMinute: config.admin.maxFailuresPerMinute,
    onAuthFailure: adminLoginLog(deps.trafficLog ?? new RateLimitedLog(deps.logger)),
    dashboard: config.admin.dashboard
      ? {
          info: () => {
            const { proxyPort, adminPort } = deps.listening();
            const running = deps.reload?.running() ?? config;
            const summary = configSummary(running, { proxyPort: proxyPort ?? config.port, adminPort });
            return { config: { ...summary, 'config hash': configHash(running) } };
          },
        }
      : undefined,
    onError: (err) => deps.logger.error({ err }, 'dashboard sample failed'),
    onListenerError: deps.onListenerError ?? ((err) => deps.logger.error({ err }, 'admin listener error')),
    reload: deps.reload === undefined ? undefined : () => deps.reload!.reload(),
  });
}

/**
 * Failed admin logins, as warnings an attacker cannot flood (RateLimitedLog): at most one line a minute for failed
 * logins and one for clients over their budget, naming the client address and the kind of failure, never the user
 * name (people type passwords there) or any part of the credentials. A missing field is not logged: it is how every browser starts, before the login prompt.
 */
function adminLoginLog(log: RateLimitedLog): (reason: AuthFailure, clientIp: string) => void {
  return (reason, clientIp) => {
    if (reason === 'missing') return;
    if (reason === 'rate_limited') {
      log.warn('admin_auth_rate_limited', { client: clientIp }, 'admin listener: a client failed to log in too often and is refused unchecked for a while');
    } else {
      log.warn('admin_auth_failed', { client: clientIp, failure: reason }, 'admin listener: a login failed');
    }
  };
}
