/**
 * One routing decision per request head, as a value: relay it over HTTP (`forward`), tunnel its CONNECT as bytes
 * (`tunnel`), decrypt its CONNECT (`intercept`), or refuse it (`reject`). The route resolves what the head asks
 * for; then the request guards run in order, and the first refusal wins. The connection executes the decision
 * (relay.ts): nothing goes down into the connection and back up to the listener.
 *
 * A guard that cannot decide at once (proxy authentication of new credentials) makes the decision carry `pending`:
 * the refusal or none, once it and the guards after it have decided. The request waits for it before anything goes
 * upstream (connection-relay.ts), the CONNECT before its tunnel opens (proxy-server.ts).
 */
import { MalformedRequestError, RejectError } from '../errors.js';
import { MessageHeadError, type RequestHead } from '../http1/message-head.js';
import type { ConnectionContext, PendingRefusal, RequestContext, RequestGuard } from './guards.js';
import type { RelaySettings } from './relay-settings.js';
import type { AbsoluteTarget, ProxyTarget } from './request-target.js';
import type { Route } from './route.js';

export interface ForwardDecision {
  readonly kind: 'forward';
  readonly target: AbsoluteTarget;
  /** Guards still deciding: nothing goes upstream before it settles without a refusal. */
  readonly pending?: PendingRefusal;
}
export interface TunnelDecision {
  readonly kind: 'tunnel';
  readonly target: ProxyTarget;
  readonly pending?: PendingRefusal;
}
export interface InterceptDecision {
  readonly kind: 'intercept';
  readonly target: ProxyTarget;
  readonly pending?: PendingRefusal;
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
    socket: connection.socket,
    method: head.method,
    route: resolved.kind,
    intercepted: route.intercepted,
    target: resolved.target,
    head,
  };
  const guards = settings.requestGuards;
  for (let index = 0; index < guards.length; index++) {
    const refused = (guards[index] as RequestGuard).checkRequest(context);
    if (refused === undefined) continue;
    if (refused instanceof Promise) return { ...resolved, pending: remainingGuards(refused, guards, index + 1, context) };
    return { kind: 'reject', error: refused };
  }
  return resolved;
}

/** The refusal of a guard still deciding, or else of the guards after it, in order. */
async function remainingGuards(pending: PendingRefusal, guards: readonly RequestGuard[], next: number, context: RequestContext): PendingRefusal {
  const refused = await pending;
  if (refused !== undefined) return refused;
  for (let index = next; index < guards.length; index++) {
    const later = await (guards[index] as RequestGuard).checkRequest(context);
    if (later !== undefined) return later;
  }
  return undefined;
}

function asReject(err: unknown): RejectError {
  if (err instanceof RejectError) return err;
  if (err instanceof MessageHeadError) return new MalformedRequestError(err.message);
  throw err;
}
