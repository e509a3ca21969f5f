/**
 * Decides per CONNECT whether to decrypt: a host in `passthrough_hosts` never is; otherwise a host is decrypted
 * when `intercept_hosts` is empty or lists it. Patterns are exact names or `*.suffix` (which matches any
 * subdomain of suffix, not suffix itself), compared case-insensitively.
 */
import type { MitmConfig } from '../config/proxy-config.js';
import type { InterceptionPolicy } from '../relay/relay-settings.js';

/** Which CONNECTs to decrypt, from `mitm.intercept_hosts` and `mitm.passthrough_hosts` (a live setting). */
export function interceptionPolicy(options: Pick<MitmConfig, 'interceptHosts' | 'passthroughHosts'>): InterceptionPolicy {
  const hosts = new HostMatcher(options.interceptHosts, options.passthroughHosts);
  return { shouldIntercept: (target) => hosts.shouldIntercept(target.host) };
}

export class HostMatcher {
  readonly #intercept: HostPatterns;
  readonly #passthrough: HostPatterns;

  constructor(interceptHosts: readonly string[], passthroughHosts: readonly string[]) {
    this.#intercept = new HostPatterns(interceptHosts);
    this.#passthrough = new HostPatterns(passthroughHosts);
  }

  shouldIntercept(host: string): boolean {
    const name = host.toLowerCase().replace(/\.$/, '');
    if (this.#passthrough.matches(name)) return false;
    return this.#intercept.isEmpty || this.#intercept.matches(name);
  }
}

/** Exact names or addresses and `*.suffix` patterns, matched against a lower-cased name without its final dot. */
export class HostPatterns {
  readonly #exact = new Set<string>();
  readonly #suffixes: string[] = [];

  constructor(patterns: readonly string[]) {
    for (const raw of patterns) {
      const pattern = raw.trim().toLowerCase();
      if (pattern.startsWith('*.')) this.#suffixes.push(pattern.slice(1));
      else if (pattern) this.#exact.add(pattern);
    }
  }

  get isEmpty(): boolean {
    return this.#exact.size === 0 && this.#suffixes.length === 0;
  }

  matches(name: string): boolean {
    return this.#exact.has(name) || this.#suffixes.some((suffix) => name.endsWith(suffix));
  }
}
