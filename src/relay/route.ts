/**
 * What tells the two routes apart, and nothing else (as Go's ReverseProxy varies only in its Rewrite hook): how a
 * request head's target is resolved, and how its head is rewritten for the origin. Everything else (framing,
 * pipelining, timeouts, slots, pooling, failures, records) is the relay's, the same for both.
 *
 * - forward-route.ts: absolute-URI requests on the proxy port (and CONNECT, which it hands over).
 * - src/mitm/intercept-route.ts: origin-form requests decrypted inside a CONNECT tunnel, all to its authority.
 */
import type { RequestHead } from '../http1/message-head.js';
import type { ExchangeKind } from './exchange-records.js';
import type { ConnectionOptions } from './message-heads.js';
import type { RelaySettings } from './relay-settings.js';
import type { AbsoluteTarget } from './request-target.js';
import type { ForwardDecision, HandOverDecision } from './routing.js';

export interface Route {
  /** The `kind` of the exchange records. */
  readonly exchangeKind: ExchangeKind;
  /** Requests come decrypted from inside an intercepted tunnel. */
  readonly intercepted: boolean;
  /** What the head asks for, before the guards; throws a RejectError for what cannot be served at all. */
  resolve(head: RequestHead, settings: RelaySettings): ForwardDecision | HandOverDecision;
  /**
   * The head for the origin. `text` is the head as it arrived (what the parser read), `options` what its Connection
   * fields say; `upgrade` says the request asks to switch protocols and the switch may go on; `via` is our Via
   * pseudonym.
   */
  requestHead(head: RequestHead, text: string, options: ConnectionOptions, target: AbsoluteTarget, upgrade: boolean, via: string): string;
}
