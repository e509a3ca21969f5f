/**
 * Every failure the proxy can answer a client with, as a typed error with a stable code.
 *
 * One place (this file) decides the HTTP status, the short text body a client sees, and the label the metrics
 * use for each failure, so the forwarding code only ever throws or passes one of these and never invents a status.
 */

/** Why a request was refused before any upstream work: the `type` label of the reject counters. */
export type RejectReason =
  | 'ip'
  | 'method'
  | 'port'
  | 'loop'
  | 'bad_request'
  | 'not_proxy_request'
  | 'unsupported_transfer_coding'
  | 'destination'
  | 'proxy_auth'
  | 'proxy_auth_rate_limited'
  | 'proxy_auth_busy'
  | 'client_limit';

/**
 * Why an exchange ended on the client's side: the `reason` label of the client failure counter. Kept apart from
 * upstream failures, so a slow or vanished client never shows up as an upstream timeout.
 */
export type ClientFailureReason = 'headers_timeout' | 'body_timeout' | 'stalled' | 'aborted';

/** Why talking to the upstream failed: the `reason` label of the upstream error counter. */
export type UpstreamFailureReason = 'dns' | 'refused' | 'timeout' | 'reset' | 'tls' | 'unreachable' | 'fd_exhausted' | 'other';

export abstract class ProxyError extends Error {
  abstract readonly code: string;
  /** HTTP status the client is answered with. */
  abstract readonly statusCode: number;
  /** Short, safe text for the response body: never includes internal detail beyond the target. */
  abstract readonly publicMessage: string;
}

export abstract class RejectError extends ProxyError {
  abstract readonly reason: RejectReason;
  /**
   * Header fields the refusal carries besides our own (a 407 needs `Proxy-Authenticate`): name and value, written
   * as given. Empty for most refusals.
   */
  readonly responseFields: ReadonlyArray<readonly [string, string]> = [];
}

/** The client's address is outside `allowed_client_cidrs`, or could not be parsed (fail closed). */
export class ClientDeniedError extends RejectError {
  override readonly name = 'ClientDeniedError';
  readonly code = 'EPROXY_CLIENT_DENIED';
  readonly statusCode = 403;
  readonly reason = 'ip';
  // The reference's exact body text: clients and runbooks grep for it.
  readonly publicMessage = 'IP access denied';
}

/** An origin-form request (`GET /path`) reached the proxy port: somebody is talking to us as if we were a server. */
export class NotAProxyRequestError extends RejectError {
  override readonly name = 'NotAProxyRequestError';
  readonly code = 'EPROXY_NOT_PROXY_REQUEST';
  readonly statusCode = 400;
  readonly reason = 'not_proxy_request';
  readonly publicMessage =
    'This is a forward proxy: send absolute-URI requests (GET http://host/path) or CONNECT host:port.';
}

/** The request line or headers are not valid HTTP/1.1, or the target cannot be parsed. */
export class MalformedRequestError extends RejectError {
  override readonly name = 'MalformedRequestError';
  readonly code = 'EPROXY_MALFORMED_REQUEST';
  readonly statusCode = 400;
  readonly reason = 'bad_request';
  readonly publicMessage: string;
  constructor(detail: string) {
    super(detail);
    this.publicMessage = `Bad request: ${detail}`;
  }
}

/**
 * A request body sent with transfer codings other than `chunked` alone (`gzip, chunked`): RFC 9112 §6.1 answers a
 * coding the server does not apply with 501, as squid does. Passed on, the codings would reach an origin that may
 * frame the body differently from us.
 */
export class UnsupportedTransferCodingError extends RejectError {
  override readonly name = 'UnsupportedTransferCodingError';
  readonly code = 'EPROXY_UNSUPPORTED_TRANSFER_CODING';
  readonly statusCode = 501;
  readonly reason = 'unsupported_transfer_coding';
  readonly publicMessage = 'Not implemented: request bodies must be sent with Content-Length or Transfer-Encoding: chunked alone';
}

/** A request head grew past 16 KiB before it ended (Node's own limit): answered 431 as Node's HTTP server does. */
export class RequestHeadTooLargeError extends RejectError {
  override readonly name = 'RequestHeadTooLargeError';
  readonly code = 'EPROXY_REQUEST_HEAD_TOO_LARGE';
  readonly statusCode = 431;
  readonly reason = 'bad_request';
  readonly publicMessage = 'Request header fields too large';
}

/**
 * A request head was not complete within `timeouts.client_headers` of its first byte (or of the accept): a slow
 * head holds a connection for nothing (slowloris). Counted as a reject, as every refused head is, and as a
 * client failure (`headers_timeout`).
 */
export class RequestHeadersTimeoutError extends RejectError {
  override readonly name = 'RequestHeadersTimeoutError';
  readonly code = 'EPROXY_CLIENT_HEADERS_TIMEOUT';
  readonly statusCode = 408;
  readonly reason = 'bad_request';
  readonly publicMessage = 'Request timeout: headers not received in time';
}

/** The method cannot be proxied (for example an absolute-URI request with a scheme other than http). */
export class MethodNotAllowedError extends RejectError {
  override readonly name = 'MethodNotAllowedError';
  readonly code = 'EPROXY_METHOD_NOT_ALLOWED';
  readonly statusCode = 405;
  readonly reason = 'method';
  readonly publicMessage: string;
  constructor(detail: string) {
    super(detail);
    this.publicMessage = detail;
  }
}

/**
 * A destination port outside the port policy: `destinations.connect_ports` for CONNECT (tunnelled or decrypted) and
 * `https://` URIs, `destinations.http_ports` for `http://` URIs. `setting` names the list, so the answer says what
 * would allow the port.
 */
export class PortDeniedError extends RejectError {
  override readonly name = 'PortDeniedError';
  readonly code = 'EPROXY_PORT_DENIED';
  readonly statusCode = 403;
  readonly reason = 'port';
  readonly publicMessage: string;
  constructor(port: number, setting?: string) {
    super(`port ${port} is not allowed${setting === undefined ? '' : ` by ${setting}`}`);
    this.publicMessage =
      setting === undefined ? `Port ${port} is not allowed by this proxy` : `Port ${port} is not allowed by this proxy (${setting})`;
  }
}

/** Which rule of the destination policy refused: the allow-list, or a category of special addresses. */
export type DestinationRule = 'not_allowed' | 'loopback' | 'unspecified' | 'link_local' | 'metadata' | 'multicast' | 'broadcast' | 'reserved' | 'own_address';

/**
 * The destination policy refused the address that would be dialled (`destinations.allow`,
 * `destinations.block_special_ranges`). The message names the rule and the setting that would allow it.
 */
export class DestinationDeniedError extends RejectError {
  override readonly name = 'DestinationDeniedError';
  readonly code = 'EPROXY_DESTINATION_DENIED';
  readonly statusCode = 403;
  readonly reason = 'destination';
  readonly rule: DestinationRule;
  readonly publicMessage: string;
  constructor(rule: DestinationRule, message: string) {
    super(message);
    this.rule = rule;
    this.publicMessage = `Destination not allowed: ${message}`;
  }
}

/**
 * Proxy authentication is on (`proxy_auth.users`) and the request carries no valid `Proxy-Authorization`. One
 * answer for every failure (missing, malformed, unknown user, wrong password): which part was wrong is not the
 * client's business (RFC 7235 §3.2).
 */
export class ProxyAuthRequiredError extends RejectError {
  override readonly name = 'ProxyAuthRequiredError';
  readonly code = 'EPROXY_PROXY_AUTH_REQUIRED';
  readonly statusCode = 407;
  readonly reason = 'proxy_auth';
  readonly publicMessage = 'Proxy authentication required';
  override readonly responseFields: ReadonlyArray<readonly [string, string]>;
  constructor(challenge: string) {
    super('proxy authentication required');
    this.responseFields = [['Proxy-Authenticate', challenge]];
  }
}

/**
 * A client failed proxy authentication more often than `proxy_auth.max_failures_per_minute` allows: its further
 * attempts are refused without being checked until its budget refills, so guessing passwords costs it time and
 * costs us nothing (RFC 6585 §4).
 */
export class ProxyAuthRateLimitedError extends RejectError {
  override readonly name = 'ProxyAuthRateLimitedError';
  readonly code = 'EPROXY_PROXY_AUTH_RATE_LIMITED';
  readonly statusCode = 429;
  readonly reason = 'proxy_auth_rate_limited';
  readonly publicMessage = 'Too many failed proxy authentication attempts; try again later';
  override readonly responseFields: ReadonlyArray<readonly [string, string]>;
  constructor(retryAfterSeconds: number) {
    super('too many failed proxy authentication attempts');
    this.responseFields = [retryAfterField(retryAfterSeconds)];
  }
}

/** `Retry-After` in whole seconds, at least 1 (RFC 9110 §10.2.3: a 0 would invite an immediate retry). */
function retryAfterField(seconds: number): readonly [string, string] {
  return ['Retry-After', String(Math.max(1, Math.ceil(seconds)))];
}

/** Too many new credentials are waiting for their (deliberately slow) password check: try again in a second. */
export class ProxyAuthBusyError extends RejectError {
  override readonly name = 'ProxyAuthBusyError';
  readonly code = 'EPROXY_PROXY_AUTH_BUSY';
  readonly statusCode = 503;
  readonly reason = 'proxy_auth_busy';
  readonly publicMessage = 'Too many logins being checked; try again in a second';
  override readonly responseFields: ReadonlyArray<readonly [string, string]> = [['Retry-After', '1']];
}

/**
 * Refusals of the admin listener's Basic authentication (`admin.users`). Not proxy rejects (they are not counted in
 * the reject series, which are about client traffic): `egress_proxy_admin_auth_failures_total` counts them.
 */
export abstract class AdminAuthRefusal extends ProxyError {
  /** Header fields the answer carries (the challenge, Retry-After). */
  abstract readonly responseFields: ReadonlyArray<readonly [string, string]>;
}

/**
 * The admin request carries no valid `Authorization`. One answer for every failure (missing, malformed, unknown
 * user, wrong password): which part was wrong is not the client's business (RFC 7235 §3.1).
 */
export class AdminAuthRequiredError extends AdminAuthRefusal {
  override readonly name = 'AdminAuthRequiredError';
  readonly code = 'EPROXY_ADMIN_AUTH_REQUIRED';
  readonly statusCode = 401;
  readonly publicMessage = 'Authentication required';
  readonly responseFields: ReadonlyArray<readonly [string, string]>;
  constructor(challenge: string) {
    super('admin authentication required');
    this.responseFields = [['WWW-Authenticate', challenge]];
  }
}

/**
 * A client failed admin authentication more often than `admin.max_failures_per_minute` allows: its further attempts
 * are refused without being checked until its budget refills (RFC 6585 §4), exactly as on the proxy port.
 */
export class AdminAuthRateLimitedError extends AdminAuthRefusal {
  override readonly name = 'AdminAuthRateLimitedError';
  readonly code = 'EPROXY_ADMIN_AUTH_RATE_LIMITED';
  readonly statusCode = 429;
  readonly publicMessage = 'Too many failed logins; try again later';
  readonly responseFields: ReadonlyArray<readonly [string, string]>;
  constructor(retryAfterSeconds: number) {
    super('too many failed admin logins');
    this.responseFields = [retryAfterField(retryAfterSeconds)];
  }
}

/** Too many new admin credentials are waiting for their (deliberately slow) password check. */
export class AdminAuthBusyError extends AdminAuthRefusal {
  override readonly name = 'AdminAuthBusyError';
  readonly code = 'EPROXY_ADMIN_AUTH_BUSY';
  readonly statusCode = 503;
  readonly publicMessage = 'Too many logins being checked; try again in a second';
  readonly responseFields: ReadonlyArray<readonly [string, string]> = [['Retry-After', '1']];
}

/**
 * The client already holds `limits.max_connections_per_client` connections: refused at accept, so one client cannot
 * take the connections every other client needs.
 */
export class ClientConnectionLimitError extends RejectError {
  override readonly name = 'ClientConnectionLimitError';
  readonly code = 'EPROXY_CLIENT_CONNECTION_LIMIT';
  readonly statusCode = 503;
  readonly reason = 'client_limit';
  readonly publicMessage = 'Too many connections from this client';
  override readonly responseFields: ReadonlyArray<readonly [string, string]> = [['Retry-After', '1']];
}

/**
 * The request already carries this proxy's Via token: it has been through this proxy before, so two proxies (or a
 * proxy and a redirecting origin) are passing it round in a circle (RFC 9110 §7.6.3, RFC 5842 §7.2's 508).
 */
export class ViaLoopDetectedError extends RejectError {
  override readonly name = 'ViaLoopDetectedError';
  readonly code = 'EPROXY_VIA_LOOP';
  readonly statusCode = 508;
  readonly reason = 'loop';
  readonly publicMessage = 'Loop detected: this request has already passed through this proxy';
}

/** The target is this proxy itself: forwarding would loop until sockets run out. */
export class LoopDetectedError extends RejectError {
  override readonly name = 'LoopDetectedError';
  readonly code = 'EPROXY_LOOP_DETECTED';
  readonly statusCode = 508;
  readonly reason = 'loop';
  readonly publicMessage = 'Loop detected: the target is this proxy';
}

/** The client's side of an exchange failed: it went quiet, stopped reading, or left. Never an upstream failure. */
export abstract class ClientFailureError extends ProxyError {
  abstract readonly reason: ClientFailureReason;
}

/**
 * A request body stopped arriving: no byte of it for `timeouts.client_body` while the proxy was reading. Answered
 * 408 when no response has begun (RFC 9110 §15.5.9), else the connection is cut; the upstream is let go at once.
 */
export class ClientBodyTimeoutError extends ClientFailureError {
  override readonly name = 'ClientBodyTimeoutError';
  readonly code = 'EPROXY_CLIENT_BODY_TIMEOUT';
  readonly statusCode = 408;
  readonly reason = 'body_timeout';
  readonly publicMessage = 'Request timeout: the request body stopped arriving';
}

/**
 * The client read none of its response for `timeouts.upstream_response` while the proxy held more for it: the
 * origin is not the one being slow, so this is not an upstream timeout. The connection is cut.
 */
export class ClientStalledError extends ClientFailureError {
  override readonly name = 'ClientStalledError';
  readonly code = 'EPROXY_CLIENT_STALLED';
  readonly statusCode = 408;
  readonly reason = 'stalled';
  readonly publicMessage = 'Request timeout: the client stopped reading';
}

/**
 * The client closed (or half-closed) its connection with an exchange in flight: it has given up on it, and the
 * upstream side is let go at once. Nothing is answered; 499 is nginx's "client closed request", as for tunnels.
 */
export class ClientAbortedError extends ClientFailureError {
  override readonly name = 'ClientAbortedError';
  readonly code = 'EPROXY_CLIENT_ABORTED';
  readonly statusCode = 499;
  readonly reason = 'aborted';
  readonly publicMessage = 'Client closed the request';
}

export abstract class UpstreamError extends ProxyError {
  abstract readonly reason: UpstreamFailureReason;
  readonly target: string;
  constructor(target: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.target = target;
  }
}

/** DNS could not resolve the target host. */
export class UpstreamDnsError extends UpstreamError {
  override readonly name = 'UpstreamDnsError';
  readonly code = 'EPROXY_UPSTREAM_DNS';
  readonly statusCode = 502;
  readonly reason = 'dns';
  get publicMessage(): string {
    return `Bad gateway: cannot resolve ${this.target}`;
  }
}

/** The target refused the TCP connection, or no route to it exists. */
export class UpstreamUnreachableError extends UpstreamError {
  override readonly name = 'UpstreamUnreachableError';
  readonly code = 'EPROXY_UPSTREAM_UNREACHABLE';
  readonly statusCode = 502;
  readonly reason: UpstreamFailureReason;
  constructor(target: string, message: string, reason: 'refused' | 'unreachable', options?: { cause?: unknown }) {
    super(target, message, options);
    this.reason = reason;
  }
  get publicMessage(): string {
    return `Bad gateway: cannot connect to ${this.target}`;
  }
}

/** The TCP connection to the target did not complete within `timeouts.connect`. */
export class UpstreamConnectTimeoutError extends UpstreamError {
  override readonly name = 'UpstreamConnectTimeoutError';
  readonly code = 'EPROXY_UPSTREAM_CONNECT_TIMEOUT';
  readonly statusCode = 504;
  readonly reason = 'timeout';
  get publicMessage(): string {
    return `Gateway timeout: connecting to ${this.target} timed out`;
  }
}

/** The target accepted the request but sent no response head within `timeouts.upstream_response`. */
export class UpstreamResponseTimeoutError extends UpstreamError {
  override readonly name = 'UpstreamResponseTimeoutError';
  readonly code = 'EPROXY_UPSTREAM_RESPONSE_TIMEOUT';
  readonly statusCode = 504;
  readonly reason = 'timeout';
  get publicMessage(): string {
    return `Gateway timeout: ${this.target} did not answer in time`;
  }
}

/** The upstream connection was reset or closed before a full response arrived. */
export class UpstreamResetError extends UpstreamError {
  override readonly name = 'UpstreamResetError';
  readonly code = 'EPROXY_UPSTREAM_RESET';
  readonly statusCode = 502;
  readonly reason = 'reset';
  get publicMessage(): string {
    return `Bad gateway: connection to ${this.target} was reset`;
  }
}

/** TLS to the upstream failed: most often its certificate does not verify against the trusted roots. */
export class UpstreamTlsError extends UpstreamError {
  override readonly name = 'UpstreamTlsError';
  readonly code = 'EPROXY_UPSTREAM_TLS';
  readonly statusCode = 502;
  readonly reason = 'tls';
  get publicMessage(): string {
    return `Bad gateway: TLS to ${this.target} failed (${this.message})`;
  }
}

/**
 * The proxy ran out of file descriptors (EMFILE: this process's open-files limit; ENFILE: the system's) opening the
 * upstream connection. Its own reason, so the metric and the log line say what to fix.
 */
export class UpstreamDescriptorsExhaustedError extends UpstreamError {
  override readonly name = 'UpstreamDescriptorsExhaustedError';
  readonly code = 'EPROXY_FD_EXHAUSTED';
  readonly statusCode = 502;
  readonly reason = 'fd_exhausted';
  get publicMessage(): string {
    return `Bad gateway: the proxy cannot open a connection to ${this.target} now`;
  }
}

/** Any other upstream socket failure. */
export class UpstreamFailedError extends UpstreamError {
  override readonly name = 'UpstreamFailedError';
  readonly code = 'EPROXY_UPSTREAM_FAILED';
  readonly statusCode = 502;
  readonly reason = 'other';
  get publicMessage(): string {
    return `Bad gateway: ${this.target} failed`;
  }
}

/**
 * The parent proxy (`proxy.upstream_proxy`) answered 407: it wants credentials, or refused ours. The operator's
 * problem (the credentials in the config), so it is logged as such; the client gets a 502 that does not pretend
 * the client could fix it by authenticating (a 407 passed on would ask the client for the parent's password).
 */
export class ParentProxyAuthError extends UpstreamError {
  override readonly name = 'ParentProxyAuthError';
  readonly code = 'EPROXY_PARENT_PROXY_AUTH';
  readonly statusCode = 502;
  readonly reason = 'other';
  get publicMessage(): string {
    return `Bad gateway: the upstream proxy refused this proxy's credentials (reaching ${this.target})`;
  }
}

/** The parent proxy answered a CONNECT with something other than 2xx (a 403 by its policy, a 502 of its own...). */
export class ParentProxyRefusedError extends UpstreamError {
  override readonly name = 'ParentProxyRefusedError';
  readonly code = 'EPROXY_PARENT_PROXY_REFUSED';
  readonly statusCode = 502;
  readonly reason = 'other';
  readonly parentStatus: number;
  constructor(target: string, parentStatus: number) {
    super(target, `the upstream proxy answered CONNECT ${target} with ${parentStatus}`);
    this.parentStatus = parentStatus;
  }
  get publicMessage(): string {
    return `Bad gateway: the upstream proxy refused the connection to ${this.target} (${this.parentStatus})`;
  }
}

/** A configuration value is wrong. The message is one line naming the file and the key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'EPROXY_CONFIG';
  readonly source: string;
  readonly key: string;
  constructor(source: string, key: string, problem: string) {
    super(`${source}: ${key ? `${key}: ` : ''}${problem}`);
    this.source = source;
    this.key = key;
  }
}

/**
 * A listener could not start: its address does not resolve or is not on this machine, or its port is taken or
 * needs privileges. Says which listener, so the message can name the setting to change (see src/cli/startup-failure.ts).
 */
export class ListenerStartError extends Error {
  override readonly name = 'ListenerStartError';
  readonly code = 'EPROXY_LISTEN';
  readonly listener: 'proxy' | 'admin';
  constructor(listener: 'proxy' | 'admin', cause: unknown) {
    super(`${listener} listener: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.listener = listener;
  }
}

/** The start did not finish within its time limit (a lock never freed, a name that never resolves, a stuck disk). */
export class StartupTimeoutError extends Error {
  override readonly name = 'StartupTimeoutError';
  readonly code = 'EPROXY_STARTUP_TIMEOUT';
}

/** The start failed for a reason the operator can fix; the message is the one line that says so. */
export class StartupFailedError extends Error {
  override readonly name = 'StartupFailedError';
  readonly code = 'EPROXY_STARTUP_FAILED';
}

/** Bad command-line usage: printed with the command's usage text, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'EPROXY_USAGE';
}

const TLS_ERROR_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

/**
 * Turns a socket/DNS error from talking to `target` into the typed upstream error the client is answered with.
 * Already-typed errors pass through unchanged.
 */
export function toUpstreamError(err: unknown, target: string): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  const message = err instanceof Error ? err.message : String(err);
  const options = { cause: err };
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
      return new UpstreamDnsError(target, message, options);
    case 'ECONNREFUSED':
      return new UpstreamUnreachableError(target, message, 'refused', options);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return new UpstreamUnreachableError(target, message, 'unreachable', options);
    case 'ETIMEDOUT':
      return new UpstreamConnectTimeoutError(target, message, options);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return new UpstreamResetError(target, message, options);
    case 'EMFILE':
    case 'ENFILE':
      return new UpstreamDescriptorsExhaustedError(target, message, options);
    default:
      if (TLS_ERROR_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
        return new UpstreamTlsError(target, message, options);
      }
      return new UpstreamFailedError(target, message, options);
  }
}
