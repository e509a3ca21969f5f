/**
 * Checks Basic credentials against a list of users with scrypt password hashes: the one mechanism behind the admin
 * listener's optional auth and (next) proxy authentication.
 *
 * scrypt costs a tenth of a second or more by design, far too much per request. So each distinct credential pair
 * is verified once and its outcome remembered for a while, keyed by an HMAC of the pair under a key that lives
 * only in this process: the cache never holds a password, and since nobody outside can compute the key of a guess,
 * looking it up leaks nothing through timing. Concurrent requests with the same new credentials (a browser fetching
 * a page and its assets) share one verification. The number of scrypt computations running at once is capped,
 * so a flood of wrong passwords occupies at most that many thread-pool threads (which DNS lookups also use).
 *
 * `check` answers synchronously whenever it can (bad syntax, or an outcome already known), and with a promise only
 * for credentials being verified: proxy authentication runs on every request, and a known DataKit's credentials
 * must not cost it a turn of the event loop each time.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { parseBasicCredentials, type CredentialsFailure } from './basic-credentials.js';
import { DEFAULT_SCRYPT_PARAMETERS, parsePasswordHash, verifyPassword, type PasswordHash } from './password-hash.js';

export interface UserCredentials {
  name: string;
  /** A `$scrypt$...` string from `egress-proxy passwd`. */
  passwordHash: string;
}

export type VerificationFailure =
  | CredentialsFailure
  /** No such user (the same work is done as for a wrong password, so timing does not tell which). */
  | 'unknown_user'
  | 'wrong_password'
  /** Too many different credentials waiting for verification: try again shortly. */
  | 'busy';

export type VerificationResult = { ok: true; user: string } | { ok: false; reason: VerificationFailure };

export interface CredentialVerifierOptions {
  /** Outcomes remembered at once. Default 1000. */
  cacheEntries?: number;
  /** How long a success is remembered. Default 10 minutes. */
  successTtlMs?: number;
  /** How long a failure is remembered, so a client retrying one wrong password does not cost scrypt each time. Default 60 s. */
  failureTtlMs?: number;
  /** scrypt computations running at once. Default 2. */
  maxConcurrentHashes?: number;
  /** Verifications waiting for a slot before new ones are answered `busy`. Default 64. */
  maxWaiting?: number;
}

type Outcome = { ok: true; user: string } | { ok: false; reason: 'unknown_user' | 'wrong_password' };

/** A verification, shared by concurrent identical credentials; `settled` once its outcome is known. */
interface Remembered {
  readonly outcome: Promise<Outcome>;
  settled: Outcome | undefined;
}

export class CredentialVerifier {
  readonly #users: Map<string, PasswordHash>;
  /** Stands in for an unknown user's hash, with the parameters of a real one. */
  readonly #decoy: PasswordHash;
  readonly #cacheKey = randomBytes(32);
  readonly #outcomes: LRUCache<string, Remembered>;
  readonly #successTtlMs: number;
  readonly #failureTtlMs: number;
  readonly #maxConcurrent: number;
  readonly #maxWaiting: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  /** Throws `PasswordHashFormatError` for a hash it cannot use; config validation has normally caught that before. */
  constructor(users: readonly UserCredentials[], options: CredentialVerifierOptions = {}) {
    this.#users = new Map(users.map((u) => [u.name.normalize('NFC'), parsePasswordHash(u.passwordHash)]));
    const model = this.#users.values().next().value;
    this.#decoy = {
      parameters: model?.parameters ?? DEFAULT_SCRYPT_PARAMETERS,
      salt: randomBytes(model?.salt.length ?? 16),
      hash: randomBytes(model?.hash.length ?? 32),
    };
    this.#successTtlMs = options.successTtlMs ?? 600_000;
    this.#failureTtlMs = options.failureTtlMs ?? 60_000;
    this.#maxConcurrent = options.maxConcurrentHashes ?? 2;
    this.#maxWaiting = options.maxWaiting ?? 64;
    this.#outcomes = new LRUCache({ max: options.cacheEntries ?? 1000 });
  }

  get userCount(): number {
    return this.#users.size;
  }

  /** Checks the value of an `Authorization` or `Proxy-Authorization` field. */
  async verifyField(fieldValue: string | undefined): Promise<VerificationResult> {
    return this.check(fieldValue);
  }

  /** As verifyField, but the result itself (no promise) when it is known at once. */
  check(fieldValue: string | undefined): VerificationResult | Promise<VerificationResult> {
    const credentials = parseBasicCredentials(fieldValue);
    if (!credentials.ok) return credentials;
    return this.#check(credentials.username, credentials.password);
  }

  /** The outcome for these credentials if it is already known (bad syntax, or verified before), without verifying. */
  known(fieldValue: string | undefined): VerificationResult | undefined {
    const credentials = parseBasicCredentials(fieldValue);
    if (!credentials.ok) return credentials;
    return this.#outcomes.get(this.#key(credentials.username, credentials.password))?.settled;
  }

  async verify(username: string, password: string): Promise<VerificationResult> {
    return this.#check(username, password);
  }

  #check(username: string, password: string): VerificationResult | Promise<VerificationResult> {
    const key = this.#key(username, password);
    const remembered = this.#outcomes.get(key);
    if (remembered !== undefined) return remembered.settled ?? remembered.outcome;
    if (this.#running >= this.#maxConcurrent && this.#waiting.length >= this.#maxWaiting) return { ok: false, reason: 'busy' };
    const outcome = this.#compute(username, password);
    const entry: Remembered = { outcome, settled: undefined };
    // Pending outcomes are shared and never expire; settled ones get their TTL once known.
    this.#outcomes.set(key, entry, { ttl: 0 });
    void outcome.then(
      (settled) => {
        entry.settled = settled;
        if (this.#outcomes.get(key) === entry) this.#outcomes.set(key, entry, { ttl: settled.ok ? this.#successTtlMs : this.#failureTtlMs });
      },
      () => this.#outcomes.delete(key),
    );
    return outcome;
  }

  #key(username: string, password: string): string {
    // A user name never contains a colon (RFC 7617 §2), so the pair is unambiguous.
    return createHmac('sha256', this.#cacheKey).update(`${username}:${password}`).digest('base64');
  }

  async #compute(username: string, password: string): Promise<Outcome> {
    await this.#slot();
    try {
      const stored = this.#users.get(username);
      const matches = await verifyPassword(password, stored ?? this.#decoy);
      if (stored === undefined) return { ok: false, reason: 'unknown_user' };
      return matches ? { ok: true, user: username } : { ok: false, reason: 'wrong_password' };
    } finally {
      this.#release();
    }
  }

  #slot(): Promise<void> {
    if (this.#running < this.#maxConcurrent) {
      this.#running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running--;
  }
}
