/**
 * Proxy authentication (`proxy_auth.users`): Basic credentials in `Proxy-Authorization` (RFC 7235 §4.4, RFC 7617),
 * checked on every proxied request and on every CONNECT, as DataKit's Go client sends them (`http_proxy =
 * "http://user:pass@host:port"` makes Go's Transport add the field to CONNECTs and to plain requests alike).
 *
 * The checking (verifier, per-client failure budget) is client-authenticator.ts, shared with the admin listener;
 * this file turns its outcome into the proxy's refusals: 407 with `Proxy-Authenticate: Basic realm=...,
 * charset="UTF-8"` for every kind of failure (the client is not told which part was wrong), 429 with Retry-After
 * once a client has spent its failure budget, 503 when too many new credentials are being verified at once. The
 * field itself is never logged and never forwarded (it is hop-by-hop: RFC 9110 §7.6.1).
 */
import { ProxyAuthBusyError, ProxyAuthRateLimitedError, ProxyAuthRequiredError, type RejectError } from '../errors.js';
import { basicChallenge } from './basic-credentials.js';
import { ClientAuthenticator, type AuthFailure, type AuthOutcome, type ClientAuthenticatorOptions } from './client-authenticator.js';
import type { ClientConnection } from './credential-verifier.js';

/** Why a request failed proxy authentication: the `reason` label of the failure counter, a closed set. */
export type ProxyAuthFailure = AuthFailure;

export type ProxyAuthResult =
  | { ok: true; user: string }
  | { ok: false; reason: ProxyAuthFailure; error: RejectError }
  /** The client left while its check waited: dropped unrun. Its error goes to no one (the connection is gone). */
  | { ok: false; reason: 'abandoned'; error: RejectError };

export interface ProxyAuthenticatorOptions extends ClientAuthenticatorOptions {
  /** The realm of the 407's challenge. */
  realm: string;
}

export class ProxyAuthenticator {
  readonly #authenticator: ClientAuthenticator;
  readonly #challenge: string;

  constructor(options: ProxyAuthenticatorOptions) {
    const { realm, ...shared } = options;
    this.#authenticator = new ClientAuthenticator(shared);
    this.#challenge = basicChallenge(realm);
  }

  /**
   * The `Proxy-Authorization` value of a request from `clientIp`: the result, or a promise of it for new credentials.
   * `connection`: the client's (a check queued for a client that has left is dropped).
   */
  check(fieldValue: string | undefined, clientIp: string, connection?: ClientConnection): ProxyAuthResult | Promise<ProxyAuthResult> {
    const outcome = this.#authenticator.check(fieldValue, clientIp, connection);
    return outcome instanceof Promise ? outcome.then((settled) => this.#answer(settled)) : this.#answer(outcome);
  }

  #answer(outcome: AuthOutcome): ProxyAuthResult {
    if (outcome.ok) return outcome;
    if (outcome.reason === 'rate_limited') return { ok: false, reason: outcome.reason, error: new ProxyAuthRateLimitedError(outcome.retryAfterSeconds) };
    if (outcome.reason === 'busy' || outcome.reason === 'abandoned') return { ok: false, reason: outcome.reason, error: new ProxyAuthBusyError() };
    return { ok: false, reason: outcome.reason, error: new ProxyAuthRequiredError(this.#challenge) };
  }
}
