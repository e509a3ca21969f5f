/**
 * Password hashes for every user list the proxy keeps (admin listener users now, proxy authentication users
 * next): scrypt (RFC 7914) in the PHC string format, so a stored hash carries its own parameters and salt and the
 * defaults can be raised later without invalidating hashes already in config files:
 *
 *     $scrypt$ln=15,r=8,p=3$<salt, base64 without padding>$<hash, base64 without padding>
 *
 * (the same layout passlib and other PHC users write for scrypt). Verification recomputes the hash with the stored
 * parameters and compares in constant time.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { PasswordHashFormatError } from './auth-errors.js';

export interface ScryptParameters {
  /** log2 of the CPU/memory cost N. */
  logN: number;
  /** Block size. */
  r: number;
  /** Parallelisation; Node computes the p lanes one after the other, so it multiplies CPU time, not memory. */
  p: number;
}

/**
 * N = 2^15, r = 8, p = 3: one of OWASP's equivalent scrypt settings (same work as N = 2^17, p = 1) at a quarter
 * of the memory (32 MiB per verification instead of 128 MiB), which matters on a small proxy host verifying a
 * burst of new credentials. About 0.1-0.3 s of CPU per hash on a 2-core machine: paid once per credential, since
 * verifiers cache successes (see credential-verifier.ts).
 */
export const DEFAULT_SCRYPT_PARAMETERS: Readonly<ScryptParameters> = Object.freeze({ logN: 15, r: 8, p: 3 });

const SALT_BYTES = 16;
const HASH_BYTES = 32;

// Bounds on what a stored hash may ask for. A hash comes from a config file, but a typo or a hash made for a big
// server must not make every verification allocate gigabytes or run for minutes.
const MAX_LOG_N = 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;
const MIN_SALT_BYTES = 8;
const MIN_HASH_BYTES = 16;
const MAX_ENCODED_BYTES = 64;

/** A parsed `$scrypt$` string. */
export interface PasswordHash {
  readonly parameters: Readonly<ScryptParameters>;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

// Anchored, with bounded repetitions and no nested quantifiers: linear on any input, whatever a config holds.
const PHC_SCRYPT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]{1,88})\$([A-Za-z0-9+/]{1,88})$/;

/** Parses a stored hash string; throws `PasswordHashFormatError` saying what is wrong (never echoing the hash). */
export function parsePasswordHash(text: string): PasswordHash {
  if (!text.startsWith('$scrypt$')) {
    throw new PasswordHashFormatError('not an scrypt hash: expected "$scrypt$ln=..,r=..,p=..$salt$hash" (make one with `egress-proxy passwd USER`)');
  }
  const match = PHC_SCRYPT.exec(text);
  if (match === null) {
    throw new PasswordHashFormatError('malformed scrypt hash: expected "$scrypt$ln=..,r=..,p=..$salt$hash" with base64 salt and hash');
  }
  const parameters = { logN: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  checkParameters(parameters);
  const salt = decodeBase64(match[4]!, 'salt');
  const hash = decodeBase64(match[5]!, 'hash');
  if (salt.length < MIN_SALT_BYTES) throw new PasswordHashFormatError(`scrypt salt too short: ${salt.length} bytes, at least ${MIN_SALT_BYTES}`);
  if (hash.length < MIN_HASH_BYTES) throw new PasswordHashFormatError(`scrypt hash too short: ${hash.length} bytes, at least ${MIN_HASH_BYTES}`);
  return { parameters, salt, hash };
}

export function formatPasswordHash({ parameters: { logN, r, p }, salt, hash }: PasswordHash): string {
  return `$scrypt$ln=${logN},r=${r},p=${p}$${encodeBase64(salt)}$${encodeBase64(hash)}`;
}

/** A new hash string for `password`, with a fresh random salt. */
export async function hashPassword(password: string, parameters: ScryptParameters = DEFAULT_SCRYPT_PARAMETERS): Promise<string> {
  checkParameters(parameters);
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, HASH_BYTES, parameters);
  return formatPasswordHash({ parameters, salt, hash });
}

/** Whether `password` is the one `stored` was made from. The comparison takes the same time wherever they differ. */
export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const candidate = await derive(password, stored.salt, stored.hash.length, stored.parameters);
  return timingSafeEqual(candidate, stored.hash);
}

/**
 * Passwords are compared as UTF-8 bytes of their NFC form (RFC 8265's OpaqueString profile, which RFC 7617 §2.1
 * points to): "é" typed as one code point or as "e" plus a combining accent is the same password.
 */
function passwordBytes(password: string): Buffer {
  return Buffer.from(password.normalize('NFC'), 'utf8');
}

function derive(password: string, salt: Buffer, length: number, { logN, r, p }: ScryptParameters): Promise<Buffer> {
  const N = 2 ** logN;
  // Node refuses to run when 128·N·r reaches maxmem (default 32 MiB, exactly our default's need): allow twice that.
  const options: ScryptOptions = { N, r, p, maxmem: 2 * 128 * N * r };
  return new Promise((resolve, reject) => {
    scrypt(passwordBytes(password), salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function checkParameters({ logN, r, p }: ScryptParameters): void {
  const within = (value: number, min: number, max: number): boolean => Number.isInteger(value) && value >= min && value <= max;
  if (!within(logN, 1, MAX_LOG_N)) throw new PasswordHashFormatError(`scrypt ln must be an integer from 1 to ${MAX_LOG_N}, got ${logN}`);
  if (!within(r, 1, MAX_R)) throw new PasswordHashFormatError(`scrypt r must be an integer from 1 to ${MAX_R}, got ${r}`);
  if (!within(p, 1, MAX_P)) throw new PasswordHashFormatError(`scrypt p must be an integer from 1 to ${MAX_P}, got ${p}`);
  const memory = 128 * 2 ** logN * r;
  if (memory > MAX_MEMORY_BYTES) {
    throw new PasswordHashFormatError(`scrypt ln=${logN},r=${r} needs ${memory / 2 ** 20} MiB per verification, more than the ${MAX_MEMORY_BYTES / 2 ** 20} MiB allowed`);
  }
}

function encodeBase64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

/** Strict: only the canonical unpadded encoding is accepted, so one hash has exactly one spelling. */
function decodeBase64(text: string, what: string): Buffer {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length > MAX_ENCODED_BYTES || encodeBase64(bytes) !== text) {
    throw new PasswordHashFormatError(`scrypt ${what} is not canonical unpadded base64 of at most ${MAX_ENCODED_BYTES} bytes`);
  }
  return bytes;
}
