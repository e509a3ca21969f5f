/**
 * The leaf certificates MITM mode presents, one per host name, kept as ready `tls.SecureContext`s in a bounded
 * LRU. Minting a leaf costs about 8-11 ms (6-9 ms key and certificate with the X.509 library, 2-3 ms
 * `createSecureContext`); a hit costs about 2-3 µs, and a leaf is kept for half its life (~15 days by default), so a
 * host pays the minting once a fortnight. The cache holds the promise of a leaf, so a burst of first handshakes for
 * one host mints it once.
 */

import { createSecureContext, type SecureContext } from 'node:tls';
import { LRUCache } from 'lru-cache';
import type { CertificateAuthority } from './certificate-authority.js';
import { createLeafCertificate } from './certificate-factory.js';
import { parseLeafHostname, type LeafHostname } from './leaf-hostname.js';

export interface LeafCertificateCacheOptions {
  /** Signs every leaf; its chain is served after each leaf. */
  ca: CertificateAuthority;
  /** Leaves kept at once; the least recently used is dropped beyond this (`leafCacheSize`, default 1000). */
  maxEntries: number;
  /** Validity of a new leaf in days (`leafValidityDays`, default 30), capped at the CA's notAfter. */
  leafValidityDays: number;
  /** Clock in ms since the epoch, for tests. Default `Date.now`. */
  now?: () => number;
  /** Called after each leaf is minted, with the normalised host name and the milliseconds it took. Must not throw. */
  onGenerated?: (hostname: string, ms: number) => void;
  /** Called on every call answered from the cache, with the normalised host name. Must not throw. */
  onHit?: (hostname: string) => void;
}

export interface LeafCertificate {
  /** The normalised name the leaf was issued for (lower case, canonical IP). */
  readonly hostname: string;
  /** The leaf alone (PEM). */
  readonly certPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Leaf key, leaf certificate and the CA chain, TLS 1.2 minimum. */
  readonly secureContext: SecureContext;
}

export interface LeafCertificateCacheStats {
  /** Leaves minted successfully. */
  generated: number;
  /** Calls answered from the cache (a leaf still being minted counts: the caller waits for that one). */
  hits: number;
  /** Calls that started minting a leaf. */
  misses: number;
}

interface CacheEntry {
  readonly leaf: Promise<LeafCertificate>;
  /** Infinity while minting: a pending leaf never expires. */
  expiresAt: number;
  /** The leaf's notAfter in ms; Infinity while minting. */
  notAfter: number;
}

export class LeafCertificateCache {
  readonly stats: LeafCertificateCacheStats = { generated: 0, hits: 0, misses: 0 };
  onGenerated: ((hostname: string, ms: number) => void) | undefined;
  onHit: ((hostname: string) => void) | undefined;
  readonly #ca: CertificateAuthority;
  readonly #leafValidityDays: number;
  readonly #now: () => number;
  readonly #entries: LRUCache<string, CacheEntry>;

  constructor(options: LeafCertificateCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError(`LeafCertificateCache options.maxEntries must be a positive integer, got ${options.maxEntries}`);
    }
    if (!(options.leafValidityDays > 0)) {
      throw new RangeError(`LeafCertificateCache options.leafValidityDays must be positive, got ${options.leafValidityDays}`);
    }
    this.#ca = options.ca;
    this.#leafValidityDays = options.leafValidityDays;
    this.#now = options.now ?? Date.now;
    this.onGenerated = options.onGenerated;
    this.onHit = options.onHit;
    // Expiry is checked here against `now`, not with lru-cache's ttl, so an injected clock governs it.
    this.#entries = new LRUCache<string, CacheEntry>({ max: options.maxEntries });
  }

  /** Leaves currently cached (pending ones included). */
  get size(): number {
    return this.#entries.size;
  }

  /** The earliest notAfter among leaves that are cached and still served; undefined when there is none. */
  earliestNotAfter(): Date | undefined {
    const now = this.#now();
    let earliest = Number.POSITIVE_INFINITY;
    for (const entry of this.#entries.values()) {
      if (now < entry.expiresAt && entry.notAfter < earliest) earliest = entry.notAfter;
    }
    return earliest === Number.POSITIVE_INFINITY ? undefined : new Date(earliest);
  }

  /**
   * The SecureContext to present for `hostname` (SNI, or the CONNECT host when the client sends none). Rejects with
   * `LeafHostnameError` for a name no certificate should be issued for, or `CaInvalidError` once the CA expired.
   */
  getSecureContext(hostname: string): Promise<SecureContext> {
    return this.getLeafCertificate(hostname).then((leaf) => leaf.secureContext);
  }

  /** Like `getSecureContext`, with the certificate itself (for logs and tests). */
  getLeafCertificate(hostname: string): Promise<LeafCertificate> {
    let host: LeafHostname;
    try {
      host = parseLeafHostname(hostname);
    } catch (err) {
      return Promise.reject(err);
    }
    const cached = this.#entries.get(host.name);
    if (cached !== undefined && this.#now() < cached.expiresAt) {
      this.stats.hits += 1;
      this.onHit?.(host.name);
      return cached.leaf;
    }

    this.stats.misses += 1;
    const entry: CacheEntry = { leaf: this.#mint(host), expiresAt: Number.POSITIVE_INFINITY, notAfter: Number.POSITIVE_INFINITY };
    this.#entries.set(host.name, entry);
    entry.leaf.then(
      (leaf) => {
        entry.expiresAt = cacheExpiry(this.#now(), leaf.notAfter.getTime());
        entry.notAfter = leaf.notAfter.getTime();
      },
      () => {
        // Never cache a failure: the next handshake for this host tries again. Only drop our own entry, not a
        // newer one set after this one was evicted.
        if (this.#entries.peek(host.name) === entry) this.#entries.delete(host.name);
      },
    );
    return entry.leaf;
  }

  async #mint(host: LeafHostname): Promise<LeafCertificate> {
    const started = performance.now();
    const pem = await createLeafCertificate(this.#ca, host, { now: this.#now(), validityDays: this.#leafValidityDays });
    const secureContext = createSecureContext({
      key: pem.keyPem,
      cert: pem.certPem + this.#ca.chainPem,
      // TLS 1.0/1.1 are deprecated (RFC 8996); DataKit's Go client speaks 1.2 and 1.3.
      minVersion: 'TLSv1.2',
    });
    this.stats.generated += 1;
    this.onGenerated?.(host.name, performance.now() - started);
    return { hostname: host.name, certPem: pem.certPem, notBefore: pem.notBefore, notAfter: pem.notAfter, secureContext };
  }
}

/**
 * When a cached leaf is dropped: halfway through its remaining life. For a leaf of two days or more that is also at
 * least a day before notAfter, so a client whose clock runs ahead never sees it expired; for a leaf cut short by a
 * CA about to expire, it still lives long enough not to be minted on every handshake.
 */
function cacheExpiry(issuedAt: number, notAfter: number): number {
  return issuedAt + (notAfter - issuedAt) / 2;
}
