/**
 * The forwarding route: what a client sends on the proxy port. An absolute-URI request (`GET http://host/path`) is
 * relayed to the URI's origin with an origin-form target and the URI's authority as Host (RFC 9112 §3.2.2); a
 * CONNECT is handed over, to be tunnelled or, when the MITM host lists say so, decrypted. An origin-form request is
 * someone talking to us as if we were a server.
 */
import { MalformedRequestError, NotAProxyRequestError } from '../errors.js';
import { fieldValues, type RequestHead } from '../http1/message-head.js';
import type { ExchangeKind } from './exchange-records.js';
import { hostFieldValue, requestHeadForOrigin, type ConnectionOptions } from './message-heads.js';
import type { RelaySettings } from './relay-settings.js';
import { parseAbsoluteTarget, parseConnectAuthority, type AbsoluteTarget } from './request-target.js';
import type { Route } from './route.js';
import type { ForwardDecision, HandOverDecision } from './routing.js';

export class ForwardRoute implements Route {
  readonly exchangeKind: ExchangeKind = 'forward';
  readonly intercepted = false;

  resolve(head: RequestHead, settings: RelaySettings): ForwardDecision | HandOverDecision {
    if (head.method === 'CONNECT') {
      const target = parseConnectAuthority(head.target);
      return { kind: settings.interception?.shouldIntercept(target) === true ? 'intercept' : 'tunnel', target };
    }
    const text = head.target;
    if (text.startsWith('/') || text === '*') throw new NotAProxyRequestError();
    // RFC 9112 §3.2: an HTTP/1.1 request without Host, or with more than one, is answered 400 (even though a proxy
    // then replaces it with the URI's authority).
    if (head.minorVersion === 1 && fieldValues(head.headers, 'host').length !== 1) throw new MalformedRequestError('an HTTP/1.1 request needs one Host field');
    return { kind: 'forward', target: parseAbsoluteTarget(text) };
  }

  requestHead(head: RequestHead, text: string, options: ConnectionOptions, target: AbsoluteTarget, upgrade: boolean, via: string): string {
    return requestHeadForOrigin(head, text, options, { originForm: target.pathWithQuery, host: hostFieldValue(target), upgrade, via });
  }
}

/** One is enough: the route holds no state. */
export const FORWARD_ROUTE = new ForwardRoute();
