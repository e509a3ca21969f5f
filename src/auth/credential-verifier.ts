/**
 * Checks Basic credentials against a list of users with scrypt password hashes: the one mechanism behind the admin
 * listener's optional auth and (next) proxy authentication.
 *
 * scrypt costs a tenth of a second or more by design, far too much per request. So each distinct credential pair
 * is verified once and its outcome remembered for a while, keyed by an HMAC of the pair under a key that lives
 * only in this process: the cache never holds a password, and since nobody outside can compute the key of a guess,
 * looking it up leaks nothing through timing. Concurrent requests with the same new credentials (a browser fetching
 * a page and its assets) share one verification. The number of scrypt computations running at once is capped,
 * so a flood of wrong passwords occupies at most that many thread-pool threads (which DNS lookups also use), and the
 * checks waiting for one are bounded too (answered `busy` past that).
 *
 * A check waits in that bounded queue on behalf of the clients that asked for it. When every one of them has
 * disconnected before its turn, nobody is owed an answer: the check is dropped unrun (`abandoned`, which is no
 * failure of anyone's) and its place given up. Otherwise many addresses, each sending one guess and leaving, could
 * keep the shared queue full of dead work and every new credential answered `busy`. Departed checks are skipped when
 * their turn comes and swept out when a new check finds the queue full. A check that has started runs to its end
 * (scrypt in the thread pool cannot be cancelled), and its outcome is remembered as usual.
 *
 * `check` answers synchronously whenever it can (bad syntax, or an outcome already known), and with a promise only
 * for credentials being verified: proxy authentication runs on every request, and a known DataKit's credentials
 * must not cost it a turn of the event loop each time.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { parseBasicCredentials, type CredentialsFailure } from './basic-credentials.js';
import { DEFAULT_SCRYPT_PARAMETERS, parsePasswordHash, verifyPassword, type PasswordHash } from './password-hash.js';

/**
 * The connection of a client that asked for a check (its socket): once destroyed, the client no longer waits for
 * the answer. Looked at only for checks still queued, when the queue is full or when their turn comes.
 */
export interface ClientConnection {
  readonly destroyed: boolean;
}

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

/** Every client that asked for the check disconnected before its turn: dropped unrun, and answered to nobody. */
export interface AbandonedCheck {
  ok: false;
  reason: 'abandoned';
}

export type VerificationResult = { ok: true; user: string } | { ok: false; reason: VerificationFailure } | AbandonedCheck;

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
  /** The password check itself. Default: scrypt (password-hash.ts); tests wrap it to count the checks that run. */
  verifyPassword?: (password: string, stored: PasswordHash) => Promise<boolean>;
}

type Outcome = { ok: true; user: string } | { ok: false; reason: 'unknown_user' | 'wrong_password' } | AbandonedCheck;
type Verified = Exclude<Outcome, AbandonedCheck>;

/** A verification, shared by concurrent identical credentials; `settled` once its outcome is known. */
interface Remembered {
  readonly outcome: Promise<Outcome>;
  settled: Verified | undefined;
  /** While the verification waits for a slot: who it waits for. */
  queued: QueuedCheck | undefined;
}

/** A verification waiting for a slot. */
interface QueuedCheck {
  readonly key: string;
  readonly username: string;
  readonly password: string;
  readonly resolve: (outcome: Outcome) => void;
  readonly reject: (err: unknown) => void;
  /** The clients waiting for it; undefined once one asked that cannot say whether it left (never dropped then). */
  clients: ClientConnection[] | undefined;
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
  readonly #verifyPassword: (password: string, stored: PasswordHash) => Promise<boolean>;
  #running = 0;
  #waiting: QueuedCheck[] = [];

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
    this.#verifyPassword = options.verifyPassword ?? verifyPassword;
  }

  get userCount(): number {
    return this.#users.size;
  }

  /** Checks the value of an `Authorization` or `Proxy-Authorization` field. */
  async verifyField(fieldValue: string | undefined): Promise<VerificationResult> {
    return this.check(fieldValue);
  }

  /**
   * As verifyField, but the result itself (no promise) when it is known at once. `client`: the asking client's
   * connection; a check queued only for clients whose connections have all closed is dropped (`abandoned`). Without
   * it the check always runs.
   */
  check(fieldValue: string | undefined, client?: ClientConnection): VerificationResult | Promise<VerificationResult> {
    const credentials = parseBasicCredentials(fieldValue);
    if (!credentials.ok) return credentials;
    return this.#check(credentials.username, credentials.password, client);
  }

  /** The outcome for these credentials if it is already known (bad syntax, or verified before), without verifying. */
  known(fieldValue: string | undefined): VerificationResult | undefined {
    const credentials = parseBasicCredentials(fieldValue);
    if (!credentials.ok) return credentials;
    return this.#outcomes.get(this.#key(credentials.username, credentials.password))?.settled;
  }

  async verify(username: string, password: string): Promise<VerificationResult> {
    return this.#check(username, password, undefined);
  }

  #check(username: string, password: string, client: ClientConnection | undefined): VerificationResult | Promise<VerificationResult> {
    const key = this.#key(username, password);
    const remembered = this.#outcomes.get(key);
    if (remembered !== undefined) {
      if (remembered.settled !== undefined) return remembered.settled;
      // The same credentials being verified: one more client waits for that verification.
      const queued = remembered.queued;
      if (queued !== undefined) {
        if (client === undefined) queued.clients = undefined;
        else queued.clients?.push(client);
      }
      return remembered.outcome;
    }
    if (!this.#hasRoom()) return { ok: false, reason: 'busy' };
    let check: QueuedCheck | undefined;
    const outcome = new Promise<Outcome>((resolve, reject) => {
      check = { key, username, password, resolve, reject, clients: client === undefined ? undefined : [client] };
    });
    const entry: Remembered = { outcome, settled: undefined, queued: undefined };
    // Pending outcomes are shared and never expire; settled ones get their TTL once known.
    this.#outcomes.set(key, entry, { ttl: 0 });
    void outcome.then(
      (settled) => {
        // A dropped check is forgotten (#drop): the next client with these credentials queues them afresh.
        if (!settled.ok && settled.reason === 'abandoned') return;
        entry.settled = settled;
        if (this.#outcomes.get(key) === entry) this.#outcomes.set(key, entry, { ttl: settled.ok ? this.#successTtlMs : this.#failureTtlMs });
      },
      () => {
        if (this.#outcomes.get(key) === entry) this.#outcomes.delete(key);
      },
    );
    if (this.#running < this.#maxConcurrent) {
      this.#running++;
      void this.#run(check!);
    } else {
      entry.queued = check;
      this.#waiting.push(check!);
    }
    return outcome;
  }

  #key(username: string, password: string): string {
    // A user name never contains a colon (RFC 7617 §2), so the pair is unambiguous.
    return createHmac('sha256', this.#cacheKey).update(`${username}:${password}`).digest('base64');
  }

  /** Runs a check in a slot it holds, and hands the slot on when done. */
  async #run(check: QueuedCheck): Promise<void> {
    const entry = this.#outcomes.peek(check.key);
    if (entry?.queued === check) entry.queued = undefined;
    // Started: whoever leaves now, it runs to its end (its outcome is remembered for the next request).
    check.clients = undefined;
    try {
      const stored = this.#users.get(check.username);
      const matches = await this.#verifyPassword(check.password, stored ?? this.#decoy);
      if (stored === undefined) check.resolve({ ok: false, reason: 'unknown_user' });
      else check.resolve(matches ? { ok: true, user: check.username } : { ok: false, reason: 'wrong_password' });
    } catch (err) {
      check.reject(err);
    } finally {
      this.#release();
    }
  }

  /** A slot is free: the next check some client still waits for takes it; the departed ones before it are dropped. */
  #release(): void {
    let next = this.#waiting.shift();
    while (next !== undefined && departed(next)) {
      this.#drop(next);
      next = this.#waiting.shift();
    }
    if (next === undefined) this.#running--;
    else void this.#run(next);
  }

  /** Whether a new check may start or wait, once the waiting checks every client has left are dropped. */
  #hasRoom(): boolean {
    if (this.#running < this.#maxConcurrent || this.#waiting.length < this.#maxWaiting) return true;
    // Full: only now is each waiting check's clients asked about (at most maxWaiting of them).
    const kept: QueuedCheck[] = [];
    for (const check of this.#waiting) {
      if (departed(check)) this.#drop(check);
      else kept.push(check);
    }
    this.#waiting = kept;
    return kept.length < this.#maxWaiting;
  }

  /** Drops a queued check unrun: forgotten, so identical credentials arriving later are checked afresh. */
  #drop(check: QueuedCheck): void {
    if (this.#outcomes.peek(check.key)?.queued === check) this.#outcomes.delete(check.key);
    check.resolve(ABANDONED);
  }
}

const ABANDONED: AbandonedCheck = Object.freeze({ ok: false, reason: 'abandoned' });

/** Whether every client a queued check waits for has left. */
function departed(check: QueuedCheck): boolean {
  const clients = check.clients;
  if (clients === undefined) return false;
  for (const client of clients) if (!client.destroyed) return false;
  return true;
}
