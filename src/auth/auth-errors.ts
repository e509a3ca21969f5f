/**
 * Typed errors of the password side (stored hash strings), each with a stable code. They are
 * config-time or command-line failures, never answered with an HTTP status, so they extend `Error` like
 * `ConfigError`. To be merged into `src/errors.ts` with the other failure types.
 */

/** A stored password hash string is not one this proxy can verify (unknown scheme, bad parameters, bad encoding). */
export class PasswordHashFormatError extends Error {
  override readonly name = 'PasswordHashFormatError';
  readonly code = 'EPROXY_PASSWORD_HASH_FORMAT';
}
