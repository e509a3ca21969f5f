/**
 * The intercept route: requests decrypted inside a CONNECT tunnel. What sets it apart from forwarding is only how
 * the target is found and how the head is rewritten (the relay engine does the rest, the same for both):
 *
 * - The authority is the CONNECT's, always: bytes only ever go to the target the client CONNECTed to, as in a
 *   plain tunnel. The request line is origin-form (an absolute form must name that same authority).
 * - Host must name that authority too (RFC 9110 §7.2: one Host in HTTP/1.1), or the request is refused with 400:
 *   an origin routing by Host would otherwise answer for a host the client never connected to, and the records
 *   would name the wrong one.
 * - The head goes on with the client's own Host line.
 */
import { MalformedRequestError, NotAProxyRequestError, RejectError } from '../errors.js';
import { fieldValues, type RequestHead } from '../http1/message-head.js';
import type { ExchangeKind } from '../relay/exchange-records.js';
import { requestHeadForOrigin, type ConnectionOptions } from '../relay/message-heads.js';
import { checkOriginForm, hostFieldNames, parseAbsoluteTarget, type AbsoluteTarget, type ProxyTarget } from '../relay/request-target.js';
import type { Route } from '../relay/route.js';
import type { ForwardDecision } from '../relay/routing.js';

/** Inside TLS the scheme is https, and a Host without a port means 443. */
const HTTPS_PORT = 443;

export class InterceptRoute implements Route {
  readonly exchangeKind: ExchangeKind = 'mitm';
  readonly intercepted = true;
  /** The CONNECT's target: where every request of this tunnel goes. */
  readonly #tunnel: ProxyTarget;
  /** Its origin, one string for all of the tunnel's requests (AbsoluteTarget.origin). */
  readonly #origin: string;

  constructor(tunnel: ProxyTarget) {
    this.#tunnel = tunnel;
    this.#origin = `https://${tunnel.authority}`;
  }

  resolve(head: RequestHead): ForwardDecision {
    if (head.method === 'CONNECT') throw new MalformedRequestError('CONNECT inside an intercepted tunnel');
    const tunnel = this.#tunnel;
    const hosts = fieldValues(head.headers, 'host');
    if (hosts.length > 1 || (head.minorVersion === 1 && hosts.length === 0)) throw new MalformedRequestError('an HTTP/1.1 request needs one Host field');
    if (hosts.length === 1 && !hostFieldNames(hosts[0] as string, tunnel, HTTPS_PORT)) throw new MalformedRequestError('Host does not name the tunnel\'s target');
    return { kind: 'forward', target: this.#targetOf(head.target) };
  }

  requestHead(head: RequestHead, text: string, options: ConnectionOptions, target: AbsoluteTarget, upgrade: boolean, via: string): string {
    return requestHeadForOrigin(head, text, options, { originForm: target.pathWithQuery, host: undefined, upgrade, via });
  }

  #targetOf(requestTarget: string): AbsoluteTarget {
    const tunnel = this.#tunnel;
    let pathWithQuery: string;
    if (requestTarget.startsWith('/')) {
      checkOriginForm(requestTarget);
      pathWithQuery = requestTarget;
    } else if (requestTarget === '*') {
      throw new NotAProxyRequestError();
    } else {
      let absolute: AbsoluteTarget;
      try {
        absolute = parseAbsoluteTarget(requestTarget);
      } catch (err) {
        throw err instanceof RejectError ? err : new MalformedRequestError('invalid request target');
      }
      // The request goes to the tunnel's target whatever it says, and a record naming another host would be a lie.
      if (absolute.authority !== tunnel.authority) throw new MalformedRequestError('request target does not match the tunnel');
      pathWithQuery = absolute.pathWithQuery;
    }
    const query = pathWithQuery.indexOf('?');
    return {
      protocol: 'https:',
      origin: this.#origin,
      host: tunnel.host,
      port: tunnel.port,
      authority: tunnel.authority,
      pathWithQuery,
      pathname: query === -1 ? pathWithQuery : pathWithQuery.slice(0, query),
    };
  }
}
