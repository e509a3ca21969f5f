/**
 * A parent HTTP proxy (`proxy.upstream_proxy`), for networks where even the egress host must go through a
 * corporate proxy. What goes through it, and how (RFC 9110 §9.3.6, RFC 9112 §3.2.2):
 *
 * - plain `http://` forwarding: the request goes to the parent in absolute-form (`GET http://host/path`), over
 *   connections to the parent, pooled by the parent rather than by origin (they can carry any origin's requests);
 * - everything that needs a byte stream to the origin (CONNECT tunnels, forwarded `https://` URIs, MITM's upstream
 *   side): a CONNECT to the origin's authority through the parent, then (for https) TLS to the origin over it,
 *   verified against the origin's name as always.
 *
 * Our Basic credentials for the parent go in `Proxy-Authorization` on what we send the parent, and nowhere else;
 * a client's own Proxy-Authorization is hop-by-hop and never forwarded (message-heads.ts). Hosts in
 * `proxy.upstream_proxy_bypass` are reached directly. Names are resolved by the parent, not here.
 */
import { basicCredentialsField } from '../auth/basic-credentials.js';
import type { UpstreamProxyConfig } from '../config/proxy-config.js';
import { HostPatterns } from '../mitm/host-matcher.js';
import type { AbsoluteTarget } from './request-target.js';

export class ParentProxy {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`: what logs show (never the credentials). */
  readonly display: string;
  /** The pool key of connections to the parent: not a `scheme://authority`, so it never meets an origin's. */
  readonly poolKey: string;
  /** The Proxy-Authorization field line (with its CRLF), or empty without credentials. Built once. */
  readonly #authorization: string;
  readonly #bypass: HostPatterns;

  constructor(config: UpstreamProxyConfig, bypass: readonly string[]) {
    this.host = config.host;
    this.port = config.port;
    this.display = config.display;
    this.poolKey = `parent ${config.display}`;
    this.#authorization =
      config.username === undefined ? '' : `Proxy-Authorization: ${basicCredentialsField(config.username, config.password ?? '')}\r\n`;
    this.#bypass = new HostPatterns(bypass);
  }

  /** Whether a connection to `host` goes through the parent (not listed in `upstream_proxy_bypass`). */
  carries(host: string): boolean {
    return !this.#bypass.matches(host.toLowerCase().replace(/\.$/, ''));
  }

  /** The CONNECT request for `authority` (`host:port`, IPv6 in brackets). */
  connectRequest(authority: string): string {
    return `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${this.#authorization}\r\n`;
  }

  /**
   * A request head made for the origin (origin-form, message-heads.ts) as the parent must get it: the same head
   * with the absolute URI as its target, and our credentials. Only the request line changes: the target was checked
   * and built by us (request-target.ts), so the URI holds no space or CR/LF.
   */
  forwardHead(originHead: string, target: AbsoluteTarget): string {
    const lineEnd = originHead.indexOf('\r\n');
    const line = originHead.slice(0, lineEnd);
    const method = line.slice(0, line.indexOf(' '));
    const version = line.slice(line.lastIndexOf(' ') + 1);
    return `${method} ${target.protocol}//${target.authority}${target.pathWithQuery} ${version}\r\n${this.#authorization}${originHead.slice(lineEnd + 2)}`;
  }
}
