/**
 * The connection one bench worker sends all its requests over: exactly one keep-alive connection, to the target
 * directly or through a proxy, the way the reference's Go client (and DataKit's uploader) uses `http.ProxyURL`:
 * a CONNECT tunnel for https targets, absolute-URI requests for http targets.
 */
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { Client, ProxyAgent, type Dispatcher } from 'undici';

/** How a worker's TLS connection to the target is verified: build once per run, share between workers. */
export interface TargetTls {
  rejectUnauthorized: boolean;
  secureContext?: SecureContext;
}

/**
 * The target TLS settings for a run. An extra CA means a SecureContext holding the system roots plus that CA:
 * built here once, because building it parses ~140 root certificates (tens of ms), and per connection that cost
 * would land inside the timed run.
 */
export function targetTls(options: { insecure?: boolean | undefined; caPem?: string | undefined }): TargetTls {
  const tls: TargetTls = { rejectUnauthorized: options.insecure !== true };
  // Node replaces its default roots when `ca` is given; keep them so an extra CA does not untrust the world.
  if (options.caPem !== undefined) tls.secureContext = createSecureContext({ ca: [...rootCertificates, options.caPem] });
  return tls;
}

export interface WorkerConnectionOptions {
  /** The target URL (only its origin matters here). */
  target: URL;
  /** Forward proxy URL, `http://host:port`. */
  proxy?: URL | undefined;
  /** From `targetTls()`. */
  tls: TargetTls;
  /** Bound on connecting, on waiting for a response head, and on each gap in a response body. */
  timeoutMs: number;
}

/** Dispatcher with a single connection; close it when the worker is done. */
export function createWorkerDispatcher(options: WorkerConnectionOptions): Dispatcher {
  const connectTls = { ...options.tls, timeout: options.timeoutMs };
  const timeouts = { headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs };

  if (options.proxy === undefined) {
    return new Client(options.target.origin, { ...timeouts, pipelining: 1, connect: connectTls });
  }

  // One Client per origin, whatever undici would pick: its default factory makes an unbounded Pool for the
  // non-tunnelling path, and a worker must stay on one connection so keep-alive through the proxy is measured.
  const oneConnection = (origin: string | URL, opts: object): Dispatcher =>
    new Client(origin, { ...timeouts, pipelining: 1, ...(opts as Client.Options) });

  return new ProxyAgent({
    uri: options.proxy.href,
    // Go tunnels only https; http targets go as absolute-URI requests the proxy can see and forward.
    proxyTunnel: options.target.protocol === 'https:',
    connections: 1,
    factory: oneConnection,
    requestTls: connectTls,
    proxyTls: { timeout: options.timeoutMs },
    ...timeouts,
  });
}
