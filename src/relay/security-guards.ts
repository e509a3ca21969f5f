/**
 * The guards of issue 10, each a thin adapter from the relay's request or connection context to a policy in
 * src/policy/ or src/auth/ (which know nothing of the relay). In the order egress-proxy.ts lists them:
 *
 * - ClientConnectionLimitGuard (at accept, after the allow-list): `limits.max_connections_per_client`.
 * - PortPolicyGuard: one port policy for CONNECT, `https://` and `http://` (`destinations.connect_ports`,
 *   `destinations.http_ports`). Before authentication: a port no user may reach is refused whoever asks.
 * - (the self-loop guard, guards.ts)
 * - ViaLoopGuard: a request carrying this proxy's Via pseudonym is going round in a circle (508).
 * - ProxyAuthGuard, last: `Proxy-Authorization` on every request on the proxy port and every CONNECT; requests
 *   decrypted inside an intercepted tunnel belong to the CONNECT that was authenticated.
 *
 * Where the destination policy is: in the dialer, on the address actually dialled (upstream-dialer.ts).
 */
import type { ProxyAuthenticator, ProxyAuthResult } from '../auth/proxy-authenticator.js';
import { ProxyAuthBusyError, type RejectError } from '../errors.js';
import type { ClientConnectionLimit } from '../policy/client-connection-limit.js';
import type { PortPolicy } from '../policy/port-policy.js';
import type { ViaLoopDetector } from '../policy/via-loop.js';
import type { ConnectionContext, ConnectionGuard, PendingRefusal, RequestContext, RequestGuard } from './guards.js';
import type { AbsoluteTarget } from './request-target.js';

export class ClientConnectionLimitGuard implements ConnectionGuard {
  readonly #limit: ClientConnectionLimit;

  /** `limit` outlives a reload (the counts of open connections carry over); only the guard around it is new. */
  constructor(limit: ClientConnectionLimit) {
    this.#limit = limit;
  }

  checkConnection(context: ConnectionContext): RejectError | undefined {
    return this.#limit.admit(context.clientIp);
  }

  connectionClosed(context: ConnectionContext): void {
    this.#limit.release(context.clientIp);
  }
}

export class PortPolicyGuard implements RequestGuard {
  readonly #ports: PortPolicy;

  constructor(ports: PortPolicy) {
    this.#ports = ports;
  }

  checkRequest(context: RequestContext): RejectError | undefined {
    // A decrypted request goes where its CONNECT went, and that port was checked then.
    if (context.intercepted) return undefined;
    const { target } = context;
    const plainHttp = context.route === 'forward' && (target as AbsoluteTarget).protocol === 'http:';
    return this.#ports.check(plainHttp ? 'http' : 'tls', target);
  }
}

export class ViaLoopGuard implements RequestGuard {
  readonly #detector: ViaLoopDetector;

  constructor(detector: ViaLoopDetector) {
    this.#detector = detector;
  }

  checkRequest(context: RequestContext): RejectError | undefined {
    let values: string[] | undefined;
    // No array for the common request without Via.
    for (const field of context.head.headers) if (field.name === 'via') (values ??= []).push(field.value);
    return values === undefined ? undefined : this.#detector.check(values);
  }
}

export class ProxyAuthGuard implements RequestGuard {
  readonly #authenticator: ProxyAuthenticator;

  constructor(authenticator: ProxyAuthenticator) {
    this.#authenticator = authenticator;
  }

  checkRequest(context: RequestContext): RejectError | undefined | PendingRefusal {
    if (context.intercepted) return undefined;
    let field: string | undefined;
    for (const header of context.head.headers) {
      if (header.name !== 'proxy-authorization') continue;
      // Two fields are one malformed value (a comma-joined list is no Basic credential): refused, never guessed.
      field = field === undefined ? header.value : `${field}, ${header.value}`;
    }
    const result = this.#authenticator.check(field, context.clientIp, context.socket);
    if (!(result instanceof Promise)) return refusalOf(result);
    // The verifier's promise does not reject; if it ever did, the client gets a 503 rather than a hung request.
    return result.then(refusalOf, () => new ProxyAuthBusyError());
  }
}

function refusalOf(result: ProxyAuthResult): RejectError | undefined {
  return result.ok ? undefined : result.error;
}
