/**
 * Reads `Basic` credentials (RFC 7617) out of an `Authorization` or `Proxy-Authorization` field value, strictly:
 * the admin listener uses it now, proxy authentication next. Every way a value can be wrong has its own reason,
 * so callers can count failures by kind without ever logging the value.
 */

/** Why a field value yields no credentials. */
export type CredentialsFailure =
  /** No field, or an empty one. */
  | 'missing'
  /** A scheme other than Basic (Bearer, Digest, ...). */
  | 'not_basic'
  /** Not `Basic <token68>`, not canonical base64, or no colon after decoding. */
  | 'malformed'
  /** Longer than MAX_CREDENTIALS_FIELD_LENGTH: refused before any decoding. */
  | 'too_long'
  /** The decoded bytes are not UTF-8, the charset we announce (RFC 7617 §2.1). */
  | 'not_utf8'
  /** A control character in the user-id or password, which RFC 7617 §2 forbids. */
  | 'control_character';

export type ParsedCredentials =
  | { ok: true; username: string; password: string }
  | { ok: false; reason: CredentialsFailure };

/**
 * Longest field value considered: far above any real user name and password (a 255-byte name and a 1 KiB password
 * encode to ~1.7 KB), and small enough that a hostile header costs nothing to refuse.
 */
export const MAX_CREDENTIALS_FIELD_LENGTH = 4096;

// RFC 7235 §2.1: credentials = auth-scheme [ 1*SP token68 ]. Basic's token68 is base64 (RFC 4648 §4, padded).
// Both patterns are anchored single character classes: linear time on any input.
const SCHEME_AND_TOKEN = /^([A-Za-z]+) +([A-Za-z0-9+/]+={0,2})$/;
// RFC 5234 CTL: %x00-1F / %x7F.
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;
// With the u flag a surrogate matches only when unpaired: text that has no UTF-8 form.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function parseBasicCredentials(fieldValue: string | undefined): ParsedCredentials {
  if (fieldValue === undefined || fieldValue.length === 0) return { ok: false, reason: 'missing' };
  if (fieldValue.length > MAX_CREDENTIALS_FIELD_LENGTH) return { ok: false, reason: 'too_long' };
  const match = SCHEME_AND_TOKEN.exec(fieldValue.trim());
  if (match === null) {
    // Some other scheme's syntax (`Digest a="b"`): say so rather than "malformed".
    const scheme = /^[A-Za-z]+/.exec(fieldValue.trim())?.[0];
    return { ok: false, reason: scheme !== undefined && scheme.toLowerCase() !== 'basic' ? 'not_basic' : 'malformed' };
  }
  // RFC 7235 §2.1: the scheme is case-insensitive.
  if (match[1]!.toLowerCase() !== 'basic') return { ok: false, reason: 'not_basic' };
  const token = match[2]!;
  const bytes = Buffer.from(token, 'base64');
  // Node's decoder skips bad characters and tolerates missing padding; only the canonical spelling is accepted, so
  // two different field values never mean the same credentials.
  if (token.length % 4 !== 0 || bytes.toString('base64') !== token) return { ok: false, reason: 'malformed' };
  let decoded: string;
  try {
    decoded = utf8.decode(bytes);
  } catch {
    return { ok: false, reason: 'not_utf8' };
  }
  // RFC 7617 §2: the user-id cannot contain a colon; the password can, so split at the first one.
  const colon = decoded.indexOf(':');
  if (colon === -1) return { ok: false, reason: 'malformed' };
  if (CONTROL_CHARACTER.test(decoded)) return { ok: false, reason: 'control_character' };
  // RFC 7617 §2.1 / RFC 8265: names compared in Unicode Normalization Form C. Passwords are normalised where they
  // are hashed and verified (password-hash.ts), so both sides of a comparison always agree.
  return { ok: true, username: decoded.slice(0, colon).normalize('NFC'), password: decoded.slice(colon + 1) };
}

/**
 * The field value that sends `username` and `password` as Basic credentials (for `Authorization` or
 * `Proxy-Authorization`): UTF-8, as the challenges above announce (RFC 7617 §2.1).
 */
export function basicCredentialsField(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** The challenge for a 401 (`WWW-Authenticate`) or 407 (`Proxy-Authenticate`): Basic, UTF-8 (RFC 7617 §2.1). */
export function basicChallenge(realm: string): string {
  return `Basic realm="${realm.replace(/["\\]/g, '\\$&')}", charset="UTF-8"`;
}

/**
 * Checks a user name for a user list: what a client can send in Basic credentials and what a config file can
 * hold. Returns the problem, or undefined when the name is usable.
 */
export function userNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (LONE_SURROGATE.test(name)) return 'is not valid Unicode';
  if (name.length > 128) return 'is longer than 128 characters';
  if (name.includes(':')) return 'contains a colon, which Basic authentication cannot carry in a user name (RFC 7617 §2)';
  if (CONTROL_CHARACTER.test(name)) return 'contains a control character';
  if (name !== name.normalize('NFC')) return 'is not in Unicode Normalization Form C (retype it, or run `egress-proxy passwd` again)';
  return undefined;
}

/** Same for a password at the time it is hashed. */
export function passwordProblem(password: string): string | undefined {
  if (password.length === 0) return 'is empty';
  if (LONE_SURROGATE.test(password)) return 'is not valid Unicode';
  if (password.length > 1024) return 'is longer than 1024 characters';
  if (CONTROL_CHARACTER.test(password)) return 'contains a control character, which Basic authentication cannot carry (RFC 7617 §2)';
  return undefined;
}
