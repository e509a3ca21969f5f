/**
 * Forwards one HTTP request to its origin over a pooled keep-alive connection, streaming the body both ways,
 * and reports exactly one HttpExchangeRecord when it ends. Used for absolute-URI requests (plain forwarding) and
 * for requests decrypted inside an intercepted tunnel (MITM).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  RejectError,
  UpstreamConnectTimeoutError,
  UpstreamError,
  UpstreamFailedError,
  UpstreamResponseTimeoutError,
  toUpstreamError,
} from '../errors.js';
import { appendVia, stripHopByHop } from './hop-by-hop-headers.js';
import { sendErrorResponse } from './error-response.js';
import type { AbsoluteTarget } from './request-target.js';
import type { ExchangeKind, ExchangeObservers } from './exchange-records.js';
import type { UpstreamAgents } from './upstream-agents.js';

export const VIA_PSEUDONYM = 'egress-proxy';

/**
 * Request fields dropped besides hop-by-hop ones. Host is replaced by the target's authority (RFC 9112 §3.2.2:
 * a proxy must ignore a received Host when the request target is absolute). Expect: Node has already answered
 * `100 Continue` to the client, so the upstream must not make the body wait a second time.
 */
const DROP_FROM_REQUEST: ReadonlySet<string> = new Set(['host', 'expect', 'content-length']);

/** A reason phrase we pass on (RFC 9112 §4: HTAB, SP, VCHAR, obs-text); anything else gets Node's default text. */
const VALID_REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

export interface ForwardContext {
  kind: ExchangeKind;
  clientIp: string;
  agents: UpstreamAgents;
  observers: ExchangeObservers;
  connectTimeoutMs: number;
  upstreamResponseTimeoutMs: number;
  /** Name resolution; undefined means the system resolver (dns.lookup). */
  lookup?: LookupFunction;
}

export function forwardRequest(
  req: IncomingMessage,
  res: ServerResponse,
  target: AbsoluteTarget,
  ctx: ForwardContext,
): void {
  const started = performance.now();
  const origin = `${target.protocol}//${target.authority}`;
  let bytesFromClient = 0;
  let bytesToClient = 0;
  let failure: UpstreamError | undefined;
  let rejected = false;
  let responseStarted = false;
  let reported = false;

  const report = (): void => {
    if (reported) return;
    reported = true;
    ctx.observers.onHttpExchange({
      kind: ctx.kind,
      clientIp: ctx.clientIp,
      method: req.method ?? 'GET',
      origin,
      path: target.pathname,
      statusCode: res.headersSent ? res.statusCode : undefined,
      errorCode: failure?.code,
      upstreamFailure: failure?.reason,
      bytesFromClient,
      bytesToClient,
      durationSeconds: (performance.now() - started) / 1000,
    });
  };

  const headers = stripHopByHop(req.rawHeaders, DROP_FROM_REQUEST);
  headers.unshift('Host', defaultPortElided(target));
  // Framing is decided here, never inherited: the client's Transfer-Encoding was stripped as hop-by-hop, and
  // Node does not chunk a GET/DELETE/OPTIONS body by default, so a decoded body would go upstream unframed and be
  // read as a second request on a pooled connection (request smuggling). A body is always re-framed explicitly.
  if (req.headers['transfer-encoding'] !== undefined) headers.push('Transfer-Encoding', 'chunked');
  else if (req.headers['content-length'] !== undefined) headers.push('Content-Length', req.headers['content-length']);
  appendVia(headers, req.httpVersion, VIA_PSEUDONYM);

  const isHttps = target.protocol === 'https:';
  const upstreamReq = (isHttps ? https : http).request({
    host: target.host,
    port: target.port,
    method: req.method,
    path: target.pathWithQuery,
    headers,
    setHost: false,
    ...(ctx.lookup ? { lookup: ctx.lookup } : {}),
    agent: isHttps ? ctx.agents.https : ctx.agents.http,
    // SNI must not carry an IP address (RFC 6066 §3).
    ...(isHttps && isIP(target.host) === 0 ? { servername: target.host } : {}),
  });

  const fail = (err: unknown): void => {
    if (failure || rejected) return;
    if (err instanceof RejectError) {
      // A guard that could only decide once the name was resolved (the target turned out to be ourselves).
      rejected = true;
      req.unpipe(upstreamReq);
      upstreamReq.destroy();
      sendErrorResponse(res, err, true);
      req.resume();
      return;
    }
    failure = toUpstreamError(err, target.authority);
    req.unpipe(upstreamReq);
    upstreamReq.destroy();
    if (res.headersSent) {
      // Mid-response: the only honest signal left is to cut the client's connection.
      res.destroy();
    } else {
      // If the client is still sending a body we stopped reading, this connection's framing is lost.
      sendErrorResponse(res, failure, !req.complete);
      req.resume();
    }
  };

  upstreamReq.on('socket', (socket: Socket) => {
    // Nagle's algorithm holds the last small segment of a body until the previous one is acknowledged, and the
    // upstream delays that ACK (40 ms on Linux) while it waits for the rest: every large POST would stall.
    // https.Agent's TLS sockets do not get the noDelay that plain http.Agent sockets get.
    socket.setNoDelay(true);
    if (!socket.connecting) return;
    const timer = setTimeout(
      () => fail(new UpstreamConnectTimeoutError(target.authority, `connect timed out after ${ctx.connectTimeoutMs} ms`)),
      ctx.connectTimeoutMs,
    );
    socket.once('connect', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
  });
  // Inactivity on the upstream socket, waiting for the response head or mid-body.
  upstreamReq.setTimeout(ctx.upstreamResponseTimeoutMs, () =>
    fail(new UpstreamResponseTimeoutError(target.authority, `no data for ${ctx.upstreamResponseTimeoutMs} ms`)),
  );
  upstreamReq.on('error', fail);
  // A 101 answer to a request whose Upgrade we stripped: Node detaches the socket and emits nothing else, so
  // without this the client would wait for a response that never comes.
  upstreamReq.on('upgrade', (_res: IncomingMessage, socket: Socket) => {
    socket.destroy();
    fail(new UpstreamFailedError(target.authority, 'upstream switched protocols without being asked'));
  });
  upstreamReq.on('close', () => {
    if (!responseStarted && !res.destroyed) fail(Object.assign(new Error('upstream closed before responding'), { code: 'ECONNRESET' }));
  });

  upstreamReq.on('response', (upstreamRes: IncomingMessage) => {
    responseStarted = true;
    const status = upstreamRes.statusCode ?? 0;
    // Node's client parser accepts status lines its server side refuses to write (a code below 100, control
    // characters in the reason): answering with them would throw, so they are a bad gateway, not a crash.
    if (status < 100 || status > 999) {
      upstreamRes.destroy();
      fail(new UpstreamFailedError(target.authority, `invalid status code ${status}`));
      return;
    }
    const reason = upstreamRes.statusMessage && VALID_REASON_PHRASE.test(upstreamRes.statusMessage) ? upstreamRes.statusMessage : undefined;
    const responseHeaders = stripHopByHop(upstreamRes.rawHeaders);
    appendVia(responseHeaders, upstreamRes.httpVersion, VIA_PSEUDONYM);
    try {
      res.writeHead(status, reason, responseHeaders);
    } catch (err) {
      upstreamRes.destroy();
      fail(new UpstreamFailedError(target.authority, `invalid response head: ${(err as Error).message}`));
      return;
    }
    upstreamRes.on('data', (chunk: Buffer) => {
      bytesToClient += chunk.length;
    });
    upstreamRes.on('error', fail);
    upstreamRes.on('aborted', () => fail(Object.assign(new Error('upstream aborted the response'), { code: 'ECONNRESET' })));
    upstreamRes.pipe(res);
  });

  req.on('data', (chunk: Buffer) => {
    bytesFromClient += chunk.length;
  });
  req.pipe(upstreamReq);

  // 'close' fires once the response is done or the client is gone, whichever comes first.
  res.on('close', () => {
    if (!res.writableFinished) upstreamReq.destroy();
    report();
  });
}

/** The Host value for the target: the port is omitted when it is the scheme's default (RFC 9110 §7.2). */
function defaultPortElided(target: AbsoluteTarget): string {
  const defaultPort = target.protocol === 'https:' ? 443 : 80;
  if (target.port !== defaultPort) return target.authority;
  return isIP(target.host) === 6 ? `[${target.host}]` : target.host;
}
