/**
 * Proxy authentication (`proxy_auth.users`): Basic credentials in `Proxy-Authorization` (RFC 7235 §4.4, RFC 7617),
 * checked on every proxied request and on every CONNECT, as DataKit's Go client sends them (`http_proxy =
 * "http://user:pass@host:port"` makes Go's Transport add the field to CONNECTs and to plain requests alike).
 *
 * The same verifier as the admin listener's (credential-verifier.ts: scrypt hashes, constant-time comparison,
 * outcomes remembered under a process-secret HMAC, a cap on scrypt work in flight), plus a per-client failure
 * budget (failure-budget.ts). The answer is synchronous for credentials already known, which is every request but
 * a client's first: only a new credential pair waits for scrypt.
 *
 * Refusals: 407 with `Proxy-Authenticate: Basic realm=..., charset="UTF-8"` for every kind of failure (the client
 * is not told which part was wrong), 429 with Retry-After once a client has spent its failure budget, 503 when too
 * many new credentials are being verified at once. The field itself is never logged and never forwarded (it is
 * hop-by-hop: RFC 9110 §7.6.1).
 */
import { ProxyAuthBusyError, ProxyAuthRateLimitedError, ProxyAuthRequiredError, type RejectError } from '../errors.js';
import { basicChallenge } from './basic-credentials.js';
import { CredentialVerifier, type CredentialVerifierOptions, type UserCredentials, type VerificationFailure, type VerificationResult } from './credential-verifier.js';
import { AuthFailureBudget } from './failure-budget.js';

/** Why a request failed proxy authentication: the `reason` label of the failure counter, a closed set. */
export type ProxyAuthFailure = VerificationFailure | 'rate_limited';

export type ProxyAuthResult = { ok: true; user: string } | { ok: false; reason: ProxyAuthFailure; error: RejectError };

export interface ProxyAuthenticatorOptions {
  users: readonly UserCredentials[];
  realm: string;
  maxFailuresPerMinute: number;
  /** Told of every failure (metrics, the rate-limited warning). */
  onFailure?: (reason: ProxyAuthFailure, clientIp: string) => void;
  /** Clock of the failure budget, in ms. */
  now?: () => number;
  verifier?: CredentialVerifierOptions;
}

export class ProxyAuthenticator {
  readonly #verifier: CredentialVerifier;
  readonly #budget: AuthFailureBudget;
  readonly #challenge: string;
  readonly #onFailure: (reason: ProxyAuthFailure, clientIp: string) => void;

  constructor(options: ProxyAuthenticatorOptions) {
    this.#verifier = new CredentialVerifier(options.users, options.verifier);
    this.#budget = new AuthFailureBudget({ perMinute: options.maxFailuresPerMinute, ...(options.now ? { now: options.now } : {}) });
    this.#challenge = basicChallenge(options.realm);
    this.#onFailure = options.onFailure ?? (() => undefined);
  }

  /** The `Proxy-Authorization` value of a request from `clientIp`: the result, or a promise of it for new credentials. */
  check(fieldValue: string | undefined, clientIp: string): ProxyAuthResult | Promise<ProxyAuthResult> {
    const known = this.#verifier.known(fieldValue);
    // Known-good credentials pass whatever the budget: a client's own agents are not locked out by its guesses.
    if (known?.ok === true) return known;
    if (known !== undefined) {
      // Known at once (bad syntax, or a failure remembered): no scrypt work, counted after the fact as before.
      const retryAfter = this.#budget.retryAfterSeconds(clientIp);
      if (retryAfter === undefined) return this.#conclude(known, clientIp, true);
      // A guess made with the budget spent is debt; a client still without credentials is only told to wait.
      return this.#rateLimited(clientIp, known.reason === 'missing' ? retryAfter : (this.#budget.take(clientIp) ?? retryAfter));
    }
    // New credentials cost a scrypt check: the token is taken before it is queued, so a client has at most its
    // remaining budget of checks waiting, however many it sends at once.
    const retryAfter = this.#budget.take(clientIp);
    if (retryAfter !== undefined) return this.#rateLimited(clientIp, retryAfter);
    const result = this.#verifier.check(fieldValue);
    if (!(result instanceof Promise)) return this.#settled(result, clientIp);
    return result.then((settled) => this.#settled(settled, clientIp));
  }

  #rateLimited(clientIp: string, retryAfter: number): ProxyAuthResult {
    this.#onFailure('rate_limited', clientIp);
    return { ok: false, reason: 'rate_limited', error: new ProxyAuthRateLimitedError(retryAfter) };
  }

  /** The end of a check that took a token: given back unless the check failed (its failure is already counted). */
  #settled(result: VerificationResult, clientIp: string): ProxyAuthResult {
    if (result.ok || result.reason === 'busy' || result.reason === 'missing') this.#budget.refund(clientIp);
    return this.#conclude(result, clientIp, false);
  }

  #conclude(result: VerificationResult, clientIp: string, countFailure: boolean): ProxyAuthResult {
    if (result.ok) return result;
    const { reason } = result;
    this.#onFailure(reason, clientIp);
    if (reason === 'busy') return { ok: false, reason, error: new ProxyAuthBusyError() };
    // A missing field is how every client starts (browsers, curl without --proxy-user): not a guess.
    if (countFailure && reason !== 'missing') this.#budget.recordFailure(clientIp);
    return { ok: false, reason, error: new ProxyAuthRequiredError(this.#challenge) };
  }
}
