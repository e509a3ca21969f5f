/**
 * Label values taken from what clients and origins send, mapped onto closed sets: every distinct value is a time
 * series for the life of the process, and 20,000 made-up request methods once grew one counter to 12 MB per
 * scrape (a 541 ms event-loop stall). Method and status text are closed here; `api` and `client_ip` are capped by
 * LabelValueLimiter; every reason label is a union type of its own.
 */
import { STATUS_CODES } from 'node:http';
import { OVERFLOW_LABEL } from './label-value-limiter.js';

/** RFC 9110 §9 and PATCH (RFC 5789): every method DataKit and ordinary clients use. */
const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** The `method` label: the method if it is a known one (methods are case-sensitive, RFC 9110 §9.1), else `other`. */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : OVERFLOW_LABEL;
}

/**
 * The `status` label as the reference writes it: the standard status text (`OK`), `nil response` when there was no
 * response, `other` for a code without one (an origin may send any code from 100 to 599).
 */
export function statusTextLabel(statusCode: number | undefined): string {
  if (statusCode === undefined) return 'nil response';
  return STATUS_CODES[statusCode] ?? OVERFLOW_LABEL;
}
