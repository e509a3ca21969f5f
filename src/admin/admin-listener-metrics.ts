/**
 * Series about the admin listener itself, kept in a registry of its own and served after the proxy's at /metrics
 * (metrics-source.ts `withRegistry`): the listener runs in the single process or in a cluster's primary, and either
 * way these are counted where the requests arrive, without the proxy's registry or the cluster's aggregation having
 * to know about them.
 */
import { Counter, Registry } from 'prom-client';
import { AUTH_FAILURES, type AuthFailure } from '../auth/client-authenticator.js';

export class AdminListenerMetrics {
  readonly registry = new Registry();
  readonly #authFailures: Counter<'reason'>;

  constructor() {
    // Its own family rather than a `listener` label on egress_proxy_proxy_auth_failures_total: that name is already
    // scraped and alerted on, and in a cluster the two are counted in different processes.
    this.#authFailures = new Counter({
      name: 'egress_proxy_admin_auth_failures_total',
      help: 'Admin listener requests that failed Basic authentication (admin.users), by reason (missing, wrong_password, unknown_user, malformed, rate_limited, busy, ...).',
      labelNames: ['reason'],
      registers: [this.registry],
    });
  }

  /** Authentication is on: every reason shows from the start at 0, so `increase()` sees the first failure. */
  authEnabled(): void {
    for (const reason of AUTH_FAILURES) this.#authFailures.inc({ reason }, 0);
  }

  onAuthFailure(reason: AuthFailure): void {
    this.#authFailures.inc({ reason });
  }
}
