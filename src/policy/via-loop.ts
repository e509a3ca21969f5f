/**
 * Loop detection by Via (RFC 9110 §7.6.3): a request that already carries this proxy's pseudonym has been here
 * before, so two proxies (or a proxy and anything that sends requests back to it) are passing it round; it is
 * answered 508 at once instead of going round until sockets run out. The request-target loop guard catches a proxy
 * asked to reach itself; this catches the loops that go through somebody else.
 *
 * Via is a list of `received-protocol received-by [comment]` (`1.1 egress-proxy-3f2a9c01d4e5 (note, with comma)`):
 * the scan below walks it once, skipping comments (which may hold commas and nest), so its cost is linear in the
 * field's length whatever a client puts there.
 */
import { ViaLoopDetectedError } from '../errors.js';

export class ViaLoopDetector {
  readonly #pseudonym: string;

  constructor(pseudonym: string) {
    this.#pseudonym = pseudonym.toLowerCase();
  }

  /** A refusal when any of the request's Via field values names this proxy. */
  check(viaValues: readonly string[]): ViaLoopDetectedError | undefined {
    for (const value of viaValues) if (viaNames(value, this.#pseudonym)) return new ViaLoopDetectedError();
    return undefined;
  }
}

/** Whether one Via field value has an element whose received-by is `pseudonym` (lower-case), with or without a port. */
export function viaNames(value: string, pseudonym: string): boolean {
  // Cheap rejection first: most requests carry no Via at all, and other proxies' Via never holds our pseudonym.
  if (!value.toLowerCase().includes(pseudonym)) return false;
  let index = 0;
  const length = value.length;
  while (index < length) {
    // One element: protocol, whitespace, received-by, then anything up to the next comma outside a comment.
    const words: string[] = [];
    let word = '';
    let depth = 0;
    for (; index < length; index++) {
      const char = value[index]!;
      if (depth > 0) {
        if (char === '\\') index++;
        else if (char === '(') depth++;
        else if (char === ')') depth--;
        continue;
      }
      if (char === ',') break;
      if (char === '(') {
        depth = 1;
        continue;
      }
      if (char === ' ' || char === '\t') {
        if (word !== '') words.push(word);
        word = '';
        continue;
      }
      word += char;
    }
    if (word !== '') words.push(word);
    index++;
    const receivedBy = words[1]?.toLowerCase();
    if (receivedBy !== undefined && (receivedBy === pseudonym || receivedBy.startsWith(`${pseudonym}:`))) return true;
  }
  return false;
}
