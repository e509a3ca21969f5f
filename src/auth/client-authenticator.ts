/**
 * Basic authentication of one client address at a time, the one mechanism behind both listeners that ask for
 * credentials: the proxy port (`proxy_auth`, proxy-authenticator.ts answers 407) and the admin listener
 * (`admin.users`, src/admin/admin-auth.ts answers 401). Each owns one of these, with its own users and its own
 * budget, and turns the outcome into its own status codes.
 *
 * The verifier (credential-verifier.ts: scrypt hashes, constant-time comparison, outcomes remembered under a
 * process-secret HMAC, a cap on scrypt work in flight) plus a per-client failure budget (failure-budget.ts): once a
 * client address has spent it, its attempts are refused unchecked (`rate_limited`) until it refills, so guessing
 * passwords runs at a few guesses a minute per address and costs no scrypt work. Credentials already known to be
 * right still pass from that address: the budget never locks out the real user behind a NAT shared with a guesser.
 *
 * The answer is synchronous for credentials already known, which is every request but a client's first: only a new
 * credential pair waits for scrypt. A check whose clients all disconnect while it waits for its turn is dropped
 * unrun (`abandoned`): not a failure, not counted, and its token given back.
 */
import {
  CredentialVerifier,
  type AbandonedCheck,
  type ClientConnection,
  type CredentialVerifierOptions,
  type UserCredentials,
  type VerificationFailure,
  type VerificationResult,
} from './credential-verifier.js';
import { AuthFailureBudget } from './failure-budget.js';

/** Why a request failed authentication: the `reason` label of the failure counters, a closed set. */
export type AuthFailure = VerificationFailure | 'rate_limited';

/** Every failure reason, so a counter can show each at 0 before the first (a new series is invisible to `increase()`). */
const FAILURE_REASONS: Record<AuthFailure, true> = {
  missing: true,
  not_basic: true,
  malformed: true,
  too_long: true,
  not_utf8: true,
  control_character: true,
  unknown_user: true,
  wrong_password: true,
  busy: true,
  rate_limited: true,
};
export const AUTH_FAILURES = Object.freeze(Object.keys(FAILURE_REASONS) as AuthFailure[]);

export type AuthOutcome =
  | { ok: true; user: string }
  | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number }
  | { ok: false; reason: VerificationFailure }
  /** Nobody waits for this answer any more (see above). */
  | AbandonedCheck;

export interface ClientAuthenticatorOptions {
  users: readonly UserCredentials[];
  maxFailuresPerMinute: number;
  /** Told of every failure (metrics, the rate-limited log). Never given the credentials. */
  onFailure?: (reason: AuthFailure, clientIp: string) => void;
  /** Clock of the failure budget, in ms. */
  now?: () => number;
  verifier?: CredentialVerifierOptions;
}

export class ClientAuthenticator {
  readonly #verifier: CredentialVerifier;
  readonly #budget: AuthFailureBudget;
  readonly #onFailure: (reason: AuthFailure, clientIp: string) => void;

  constructor(options: ClientAuthenticatorOptions) {
    this.#verifier = new CredentialVerifier(options.users, options.verifier);
    this.#budget = new AuthFailureBudget({ perMinute: options.maxFailuresPerMinute, ...(options.now ? { now: options.now } : {}) });
    this.#onFailure = options.onFailure ?? (() => undefined);
  }

  /**
   * The credentials field of a request from `clientIp`: the outcome, or a promise of it for new credentials.
   * `connection`: the client's, so that a check it no longer waits for can be dropped.
   */
  check(fieldValue: string | undefined, clientIp: string, connection?: ClientConnection): AuthOutcome | Promise<AuthOutcome> {
    const known = this.#verifier.known(fieldValue);
    // Known-good credentials pass whatever the budget: the real user is not locked out by a guesser's failures.
    if (known?.ok === true) return known;
    if (known !== undefined) {
      // Known at once (bad syntax, or a failure remembered): no scrypt work, counted after the fact.
      const retryAfterSeconds = this.#budget.retryAfterSeconds(clientIp);
      if (retryAfterSeconds === undefined) return this.#conclude(known, clientIp, true);
      // A guess made with the budget spent is debt; a client still without credentials is only told to wait.
      return this.#rateLimited(clientIp, known.reason === 'missing' ? retryAfterSeconds : (this.#budget.take(clientIp) ?? retryAfterSeconds));
    }
    // New credentials cost a scrypt check: the token is taken before it is queued, so a client has at most its
    // remaining budget of checks waiting, however many it sends at once.
    const retryAfterSeconds = this.#budget.take(clientIp);
    if (retryAfterSeconds !== undefined) return this.#rateLimited(clientIp, retryAfterSeconds);
    const result = this.#verifier.check(fieldValue, connection);
    return result instanceof Promise ? result.then((settled) => this.#settled(settled, clientIp)) : this.#settled(result, clientIp);
  }

  #rateLimited(clientIp: string, retryAfterSeconds: number): AuthOutcome {
    this.#onFailure('rate_limited', clientIp);
    return { ok: false, reason: 'rate_limited', retryAfterSeconds };
  }

  /** The end of a check that took a token: given back unless the check failed (its failure is already counted). */
  #settled(result: VerificationResult, clientIp: string): AuthOutcome {
    if (result.ok || result.reason === 'busy' || result.reason === 'missing' || result.reason === 'abandoned') this.#budget.refund(clientIp);
    return this.#conclude(result, clientIp, false);
  }

  #conclude(result: VerificationResult, clientIp: string, countFailure: boolean): AuthOutcome {
    // Abandoned: never checked, and nobody to answer; no one's failure.
    if (result.ok || result.reason === 'abandoned') return result;
    this.#onFailure(result.reason, clientIp);
    // A missing field is how every client starts (browsers, curl without credentials): not a guess. Neither is
    // `busy`, which is our load, not the client's mistake.
    if (countFailure && result.reason !== 'missing' && result.reason !== 'busy') this.#budget.recordFailure(clientIp);
    return result;
  }
}
