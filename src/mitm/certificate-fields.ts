/**
 * Values every certificate minted here shares, CA and leaf alike: the random serial number, the clock-skew
 * allowance on notBefore, and the common-name length limit.
 */

import { randomBytes } from 'node:crypto';

export const HOUR_MS = 60 * 60 * 1000;
export const DAY_MS = 24 * HOUR_MS;
/** Certificates start an hour in the past so a client whose clock runs a little behind still accepts them. */
export const CLOCK_SKEW_ALLOWANCE_MS = HOUR_MS;
/** RFC 5280 §4.1.2.2 allows 20 octets; 16 random ones are unguessable, as CA/B BR §7.1 asks (≥ 64 bits). */
const SERIAL_NUMBER_BYTES = 16;
/** ub-common-name, RFC 5280 Appendix A. */
const MAX_COMMON_NAME_LENGTH = 64;

/** A random positive serial number: unpredictable serials defeat chosen-prefix collision attacks on signatures. */
export function randomSerialNumber(): Buffer {
  const bytes = randomBytes(SERIAL_NUMBER_BYTES);
  // DER INTEGER is signed, so a clear top bit keeps it positive; and DER is minimal, so the first byte must not be
  // zero either (a leading 0x00 is only allowed before a byte with its top bit set). 1 leaf in 128 broke that rule.
  bytes[0] = (bytes[0] ?? 0) & 0x7f || 0x01;
  return bytes;
}

/** A common name cut to 64 characters, by code point (never inside a surrogate pair). */
export function truncateCommonName(name: string): string {
  return Array.from(name).slice(0, MAX_COMMON_NAME_LENGTH).join('');
}

/** The whole-second time DER encodes (X.509 times carry no fractions), so the returned dates equal the encoded ones. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}
