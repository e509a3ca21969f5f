/**
 * The seam between CONNECT handling and MITM: the proxy asks, per CONNECT, whether the tunnel is to be
 * decrypted. Interception is a per-tunnel decision that defaults to passthrough.
 */
import type { Duplex } from 'node:stream';
import type { ProxyTarget } from './request-target.js';
import type { EarlyClientData } from '../proxy/early-client-data.js';

export interface TunnelInterceptor {
  /** Whether this CONNECT's TLS should be terminated and its requests read. */
  shouldIntercept(target: ProxyTarget): boolean;
  /**
   * Takes over a CONNECT socket that has been answered nothing yet. Owns the socket from here on, including its
   * tracking for drain and its record when it closes.
   */
  intercept(clientSocket: Duplex, early: EarlyClientData, target: ProxyTarget, clientIp: string): void;
  /** Closes intercepted keep-alive connections that are between requests: called while draining. */
  closeIdleConnections(): void;
}
