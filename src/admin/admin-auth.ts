/**
 * Optional Basic authentication for the admin listener, for when it is bound to an address others can reach:
 * /metrics names clients and API paths, and the dashboard shows the configuration. /healthz and /readyz stay open
 * (they say nothing but "up" and "ready", and orchestrators probe them without credentials).
 *
 * The checking is the proxy port's (src/auth/client-authenticator.ts): the same verifier and the same per-client
 * failure budget, with the admin listener's own users and budget (`admin.max_failures_per_minute`). Here only the
 * answers differ: 401 with `WWW-Authenticate` while a client is under its budget, 429 with Retry-After past it
 * (unchecked: no scrypt work), 503 when too many new credentials wait for verification.
 */
import type http from 'node:http';
import { basicChallenge } from '../auth/basic-credentials.js';
import { ClientAuthenticator, type AuthOutcome, type ClientAuthenticatorOptions } from '../auth/client-authenticator.js';
import { AdminAuthBusyError, AdminAuthRateLimitedError, AdminAuthRequiredError, type AdminAuthRefusal } from '../errors.js';
import { displayClientIp } from '../relay/guards.js';

export const ADMIN_REALM = 'egress-proxy admin';

/** Users, `admin.max_failures_per_minute`, and who is told of failures (the metric, the rate-limited log). */
export type AdminAuthOptions = ClientAuthenticatorOptions;

export class AdminAuth {
  readonly #authenticator: ClientAuthenticator;
  readonly #required: AdminAuthRequiredError;

  constructor(options: AdminAuthOptions) {
    this.#authenticator = new ClientAuthenticator(options);
    this.#required = new AdminAuthRequiredError(basicChallenge(ADMIN_REALM));
  }

  /** True when the request may go on; otherwise the refusal has been sent. Synchronous for known credentials. */
  admit(req: http.IncomingMessage, res: http.ServerResponse): boolean | Promise<boolean> {
    const outcome = this.#authenticator.check(authorizationField(req), displayClientIp(req.socket.remoteAddress), req.socket);
    return outcome instanceof Promise ? outcome.then((settled) => this.#answer(settled, res)) : this.#answer(outcome, res);
  }

  #answer(outcome: AuthOutcome, res: http.ServerResponse): boolean {
    if (outcome.ok) return true;
    const refusal: AdminAuthRefusal =
      outcome.reason === 'rate_limited'
        ? new AdminAuthRateLimitedError(outcome.retryAfterSeconds)
        : outcome.reason === 'busy' || outcome.reason === 'abandoned'
          ? new AdminAuthBusyError()
          : this.#required;
    res.writeHead(refusal.statusCode, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...Object.fromEntries(refusal.responseFields) });
    res.end(`${refusal.publicMessage}\n`);
    return false;
  }
}

/**
 * The `Authorization` value, or every one of them joined: Node keeps only the first of duplicate fields in
 * `req.headers`, and two credentials are one malformed value to refuse, never one to pick (as on the proxy port).
 */
function authorizationField(req: http.IncomingMessage): string | undefined {
  const values = req.headersDistinct['authorization'];
  return values === undefined ? undefined : values.join(', ');
}
