/**
 * One routing decision per request head, as a value: relay it over HTTP (`forward`), tunnel its CONNECT as bytes
 * (`tunnel`), decrypt its CONNECT (`intercept`), or refuse it (`reject`). The route resolves what the head asks
 * for; then the request guards run in order, and the first refusal wins. The connection executes the decision
 * (relay.ts): nothing goes down into the connection and back up to the listener.
 */
import { MalformedRequestError, RejectError } from '../errors.js';
import { MessageHeadError, type RequestHead } from '../http1/message-head.js';
import type { ConnectionContext, RequestContext } from './guards.js';
import type { RelaySettings } from './relay-settings.js';
import type { AbsoluteTarget, ProxyTarget } from './request-target.js';
import type { Route } from './route.js';

export interface ForwardDecision {
  readonly kind: 'forward';
  readonly target: AbsoluteTarget;
}
export interface TunnelDecision {
  readonly kind: 'tunnel';
  readonly target: ProxyTarget;
}
export interface InterceptDecision {
  readonly kind: 'intercept';
  readonly target: ProxyTarget;
}
export interface RejectDecision {
  readonly kind: 'reject';
  readonly error: RejectError;
}

export type RoutingDecision = ForwardDecision | TunnelDecision | InterceptDecision | RejectDecision;

/** A CONNECT the connection gives up its socket for. */
export type HandOverDecision = TunnelDecision | InterceptDecision;

export function decide(route: Route, head: RequestHead, connection: ConnectionContext, settings: RelaySettings): RoutingDecision {
  let resolved: ForwardDecision | HandOverDecision;
  try {
    resolved = route.resolve(head, settings);
  } catch (err) {
    return { kind: 'reject', error: asReject(err) };
  }
  if (settings.requestGuards.length === 0) return resolved;
  const context: RequestContext = {
    clientIp: connection.clientIp,
    clientAddress: connection.clientAddress,
    method: head.method,
    route: resolved.kind,
    intercepted: route.intercepted,
    target: resolved.target,
    head,
  };
  for (const guard of settings.requestGuards) {
    const refused = guard.checkRequest(context);
    if (refused !== undefined) return { kind: 'reject', error: refused };
  }
  return resolved;
}

function asReject(err: unknown): RejectError {
  if (err instanceof RejectError) return err;
  if (err instanceof MessageHeadError) return new MalformedRequestError(err.message);
  throw err;
}
