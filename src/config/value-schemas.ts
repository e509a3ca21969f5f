// The rules for single configuration values, shared by the file, the environment and the command line, so a value
// is judged (and a mistake reported) the same way wherever it was written.
//
// Convention: a schema's error message is the phrase that completes "expected ..., got ..." (see
// validation-error.ts). A check that states a whole problem instead (a bad CIDR) marks its issue with
// WHOLE_PROBLEM_PARAMS.

import net from 'node:net';
import { z } from 'zod';
import { parseCidr } from './cidr.js';
import { userNameProblem } from '../auth/basic-credentials.js';
import { parsePasswordHash } from '../auth/password-hash.js';
import { parseDestinationEntry } from '../policy/destination-entry.js';
import { parsePortRange } from '../policy/port-ranges.js';

/** Issue params marking a message that is a complete problem statement, not an "expected" phrase. */
export const WHOLE_PROBLEM_PARAMS = { wholeProblem: true } as const;

function expecting(phrase: string): { error: string } {
  return { error: phrase };
}

export function integerSchema(min: number, max: number) {
  const expected = expecting(`an integer from ${min} to ${max}`);
  return z.int(expected).min(min, expected).max(max, expected);
}

/** A listen port; 0 asks the OS for a free one. */
export const portSchema = integerSchema(0, 65535);

/** A CONNECT destination port: 0 can never be dialled. */
export const connectPortSchema = integerSchema(1, 65535);

// Node's timers hold a signed 32-bit millisecond count: a longer delay fires after 1 ms instead (with only a
// TimeoutOverflowWarning), which would turn a generous timeout into an instant one.
const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** A duration in seconds, as the file and flags spell durations; may be fractional. */
export const secondsSchema = (() => {
  const expected = expecting(`a number of seconds greater than 0 and at most ${MAX_TIMER_SECONDS}`);
  return z.number(expected).gt(0, expected).max(MAX_TIMER_SECONDS, expected);
})();

/** Seconds to the milliseconds ProxyConfig holds; never 0, which Node's servers read as "no timeout". */
export function secondsToMs(seconds: number): number {
  return Math.max(1, Math.round(seconds * 1000));
}

export const booleanSchema = z.boolean(expecting('true or false'));

const TRUE_WORDS = new Set(['true', '1', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'no']);
/** How a boolean written as text (an environment variable, `--flag=VALUE`) may be spelt, in any case. */
export const BOOLEAN_WORDS_PHRASE = 'true, false, 1, 0, yes or no';

/** A boolean written as text, or undefined when the word is none of BOOLEAN_WORDS_PHRASE. */
export function booleanFromWord(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
}

// Far above any core count this proxy will meet; a larger number is a typo, and each worker costs ~50 MB.
const MAX_WORKERS = 256;

/** The number of worker processes: 1 to MAX_WORKERS, or "auto" (one per CPU the process may use). */
export const workersSchema = (() => {
  // Both branches carry the whole phrase: zod reports the issue of the branch whose type the value has.
  const expected = expecting(`an integer from 1 to ${MAX_WORKERS}, or "auto"`);
  return z.union([z.int(expected).min(1, expected).max(MAX_WORKERS, expected), z.literal('auto', expected)], expected);
})();

export function nonEmptyStringSchema(what: string) {
  const expected = expecting(what);
  return z.string(expected).min(1, expected);
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/i;

/**
 * A listen address: an IP address or a host name. Refusing "0.0.0.0:9530" here beats a baffling ENOTFOUND at
 * startup; the port has its own key.
 */
export const listenAddressSchema = (() => {
  const expected = expecting('an IP address or host name, without a port');
  return z.string(expected).refine((value) => net.isIP(value) !== 0 || HOST_NAME.test(value), expected);
})();

/** One client allow-list entry: an IPv4/IPv6 CIDR or a bare address. */
export const cidrSchema = z
  .string(expecting('a string holding an IPv4/IPv6 address or CIDR'))
  .superRefine((value, ctx) => {
    const result = parseCidr(value);
    if (!result.ok) ctx.addIssue({ code: 'custom', message: result.problem, params: WHOLE_PROBLEM_PARAMS });
  });

export const cidrListSchema = z.array(cidrSchema, expecting('an array of IPv4/IPv6 addresses or CIDRs'));

/**
 * An interception host pattern: an exact host name or address, or `*.suffix`. Lower-cased, because host names
 * compare case-insensitively and the matcher should not have to care.
 */
export const hostPatternSchema = (() => {
  const expected = expecting('a host name or *.suffix pattern');
  const isHostPattern = (value: string): boolean =>
    net.isIP(value) !== 0 || HOST_NAME.test(value.startsWith('*.') ? value.slice(2) : value);
  return z
    .string(expected)
    .refine(isHostPattern, expected)
    .transform((value) => value.toLowerCase());
})();

export const hostPatternListSchema = z.array(
  hostPatternSchema,
  expecting('an array of host names or *.suffix patterns'),
);

/** One `destinations.allow` entry: host, `*.suffix`, IP or CIDR, optionally `:PORT` or `:FROM-TO`. */
export const destinationEntrySchema = z
  .string(expecting('a string holding a host name, *.suffix, IP address or CIDR, optionally with :PORT'))
  .superRefine((value, ctx) => {
    const result = parseDestinationEntry(value);
    if (!result.ok) ctx.addIssue({ code: 'custom', message: result.problem, params: WHOLE_PROBLEM_PARAMS });
  });

export const destinationListSchema = z.array(destinationEntrySchema, expecting('an array of destinations (host, *.suffix, IP or CIDR, optionally :PORT)'));

/**
 * A port (1-65535) or a `"FROM-TO"` range, as port lists hold them. A port written as text (an environment
 * variable, a flag, `"443"` in a file) becomes a number, so every layer yields the same value.
 */
export const portRangeSchema = z
  .union([z.number(), z.string()], expecting('a port number or a "FROM-TO" range'))
  .superRefine((value, ctx) => {
    const result = parsePortRange(value);
    if (!result.ok) ctx.addIssue({ code: 'custom', message: result.problem, params: WHOLE_PROBLEM_PARAMS });
  })
  .transform((value) => (typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : typeof value === 'string' ? value.trim() : value));

export const portRangeListSchema = z.array(portRangeSchema, expecting('an array of ports and "FROM-TO" ranges'));

/** The realm of an authentication challenge: printable ASCII, so every client shows it as written. */
export const realmSchema = (() => {
  const expected = expecting('1 to 100 printable ASCII characters');
  return z.string(expected).regex(/^[\x20-\x7e]{1,100}$/, expected);
})();

/** A file or directory path. */
export const pathSchema = nonEmptyStringSchema('a non-empty path');

/**
 * A user list for Basic authentication: `[{ name, password_hash }]`, as `egress-proxy passwd USER` prints each
 * entry. The hash is parsed here, so a pasted-in plaintext password or a truncated hash stops the start with the
 * key named (and the value never echoed).
 */
export const userListSchema = z
  .array(
    z.strictObject(
      {
        name: z.string(expecting('a user name')).superRefine((value, ctx) => {
          const problem = userNameProblem(value);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `the user name ${problem}`, params: WHOLE_PROBLEM_PARAMS });
        }),
        password_hash: z.string(expecting('a "$scrypt$..." string from `egress-proxy passwd USER`')).superRefine((value, ctx) => {
          try {
            parsePasswordHash(value);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message, params: WHOLE_PROBLEM_PARAMS });
          }
        }),
      },
      expecting('a table { name = "...", password_hash = "$scrypt$..." }'),
    ),
    expecting('an array of { name, password_hash } tables'),
  )
  .superRefine((users, ctx) => {
    const seen = new Set<string>();
    users.forEach((user, index) => {
      if (seen.has(user.name)) {
        ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `the user "${user.name}" is listed twice`, params: WHOLE_PROBLEM_PARAMS });
      }
      seen.add(user.name);
    });
  })
  .transform((users) => users.map((user) => ({ name: user.name, passwordHash: user.password_hash })));
