/**
 * The character classes of HTTP/1.1's grammar (RFC 9110 §5.5-§5.6, RFC 9112), as lookup tables indexed by byte
 * (or by the char code of a latin1 string, which is the same number). Every parser in src/http1 reads peer bytes
 * one at a time against these tables, never with a regular expression: V8's regex engine backtracks, and a pattern
 * such as `(.*?)[ \t]*$` costs time quadratic in a run of spaces (a 16 KiB header of them took ~0.3 s), which any
 * client or origin could send.
 */

function table(...ranges: Array<string | [number, number]>): Uint8Array {
  const bytes = new Uint8Array(256);
  for (const range of ranges) {
    if (typeof range === 'string') for (let i = 0; i < range.length; i++) bytes[range.charCodeAt(i)] = 1;
    else for (let code = range[0]; code <= range[1]; code++) bytes[code] = 1;
  }
  return bytes;
}

const DIGIT: [number, number] = [0x30, 0x39];
const ALPHA_UPPER: [number, number] = [0x41, 0x5a];
const ALPHA_LOWER: [number, number] = [0x61, 0x7a];
const OBS_TEXT: [number, number] = [0x80, 0xff];

/** tchar (RFC 9110 §5.6.2): what methods, field names, transfer codings and chunk extension names are made of. */
export const TCHAR = table("!#$%&'*+-.^_`|~", DIGIT, ALPHA_UPPER, ALPHA_LOWER);

/**
 * A field value's characters (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB. Every other control (NUL, CR, LF, DEL,
 * ...) is refused: parsers disagree on what they mean, and that is how values smuggle line ends.
 */
export const FIELD_VALUE_CHAR = table('\t', [0x20, 0x7e], OBS_TEXT);

/**
 * A request-target's characters: visible ASCII. Not obs-text: llhttp refuses it, and an origin behind us that reads
 * a byte as the start of a multi-byte character would see another path than we logged.
 */
export const TARGET_CHAR = table([0x21, 0x7e]);

/** An absolute-form target's authority (RFC 3986 §3.2): unreserved, pct-encoded, sub-delims, `:`, `@`, `[`, `]`. */
export const AUTHORITY_CHAR = table("-._~%!$&'()*+,;=:@[]", DIGIT, ALPHA_UPPER, ALPHA_LOWER);

/** RFC 9110 §5.6.4: qdtext, what a quoted-string holds between its quotes without escaping. */
export const QDTEXT = table('\t ', [0x21, 0x21], [0x23, 0x5b], [0x5d, 0x7e], OBS_TEXT);

/** RFC 9110 §5.6.4: what may follow the backslash of a quoted-pair. */
export const QUOTED_PAIR_CHAR = table('\t', [0x20, 0x7e], OBS_TEXT);

export const SP = 0x20;
export const HTAB = 0x09;
export const CR = 0x0d;
export const LF = 0x0a;

/** The value of a hexadecimal digit, or -1. */
export function hexDigitValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  return -1;
}

/** Whether a char code is optional whitespace (OWS: SP or HTAB, RFC 9110 §5.6.3). */
export function isOws(code: number): boolean {
  return code === SP || code === HTAB;
}
