/**
 * Turns a request path into the `api` label: the query string is dropped (DataKit sends its token there),
 * segments that look like identifiers become `:id`, and long paths are cut, so `/v1/write/metric?token=x` stays
 * `/v1/write/metric` while `/v1/check/token/tkn_0a1b...` becomes `/v1/check/token/:id`. The access log redacts
 * path segments by the same rule (redactIdentifierSegments), so a token never shows in one and not the other.
 */

const MAX_SEGMENTS = 6;
const MAX_SEGMENT_LENGTH = 40;
const ALL_DIGITS = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HAS_DIGIT = /\d/;
const HEX = /^[0-9a-f]+$/i;
// Words a human wrote (letters, with at most short version-like numbers) versus generated tokens.
const LONG_TOKEN_MIN_LENGTH = 16;

export function apiPathLabel(path: string): string {
  const q = path.indexOf('?');
  const pathOnly = q === -1 ? path : path.slice(0, q);
  if (pathOnly === '' || pathOnly === '/') return '/';
  const segments = pathOnly.split('/');
  const out: string[] = [];
  // segments[0] is the empty string before the leading slash.
  for (let i = 1; i < segments.length && out.length < MAX_SEGMENTS; i++) {
    out.push(normaliseSegment(segments[i]!));
  }
  const truncated = segments.length - 1 > MAX_SEGMENTS;
  return '/' + out.join('/') + (truncated ? '/…' : '');
}

/** Every segment of `path` (no query) that looks like an identifier or a token replaced by `:id`; nothing cut. */
export function redactIdentifierSegments(path: string): string {
  return path
    .split('/')
    .map((segment) => normaliseSegment(segment))
    .join('/');
}

function normaliseSegment(segment: string): string {
  return isIdentifierSegment(segment) ? ':id' : segment;
}

/** Numbers, UUIDs, long segments, long ones with digits, hex runs with digits: generated, not written by a person. */
function isIdentifierSegment(segment: string): boolean {
  if (segment === '') return false;
  if (ALL_DIGITS.test(segment) || UUID.test(segment)) return true;
  if (segment.length > MAX_SEGMENT_LENGTH) return true;
  if (segment.length >= LONG_TOKEN_MIN_LENGTH && HAS_DIGIT.test(segment)) return true;
  return segment.length >= 8 && HEX.test(segment) && HAS_DIGIT.test(segment);
}
