/**
 * The one way the proxy reaches an upstream, for forwarding, MITM and tunnels: resolve the name, check every
 * address, connect to an address that passed the check (never to the name again: a second resolution could
 * answer differently, which is how DNS rebinding gets past a check), then TLS on top for `https` origins,
 * verified against the trusted roots with SNI for the name.
 *
 * The resolver and the connect function are injectable: a test gives a resolver that maps names to loopback and a
 * connect function that refuses anything else, so no test can send traffic off the machine. The address check is
 * the destination policy: the self-loop guard (an address of this host on one of our own ports), then
 * `destinations.*` (src/policy/destination-policy.ts); the name check refuses, before any DNS query, a name no
 * `destinations.allow` entry could allow.
 *
 * With a parent proxy (`proxy.upstream_proxy`, parent-proxy.ts) the dial goes to the parent instead: for a TLS
 * origin or a tunnel, a CONNECT through it (parent-connect.ts) and then TLS to the origin over that; for plain
 * `http://` forwarding, the connection to the parent itself, which the exchange sends absolute-form requests on.
 * The relay still only ever asks for "a connection to this origin". The parent's own address gets the parent
 * check (the self-loop guard: a parent that is this proxy would loop), not the origin's destination policy: the
 * parent resolves the origin's name, which is why a parent is used.
 */
import { lookup as dnsLookup } from 'node:dns';
import net, { isIP, type LookupFunction } from 'node:net';
import tls from 'node:tls';
import { RejectError } from '../errors.js';
import { addListeners } from './listeners.js';
import { discardSocket, TLS_WRITE_BUFFER_BYTES, type StreamBufferOption } from './socket-writes.js';
import type { UpstreamTlsSettings } from './upstream-tls.js';
import type { ParentProxy } from './parent-proxy.js';
import { connectThroughParent } from './parent-connect.js';
import { toUpstreamError } from '../errors.js';

export interface DialTarget {
  /** Host name or IP address, without IPv6 brackets. */
  host: string;
  port: number;
  /** `host:port` (IPv6 in brackets): what failures name. */
  authority: string;
  /** TLS to the origin (`https`). */
  tls: boolean;
  /**
   * A byte stream to the origin is needed (a CONNECT tunnel). Only matters with a parent proxy, where a plain
   * `http://` dial otherwise gives the connection to the parent itself (absolute-form forwarding).
   */
  tunnel?: boolean;
}

/**
 * Connects a TCP socket to an IP address (never a name: the dialer resolved and checked it): `socket` when one is
 * given (a tunnel's, made before its address was known, see tunnelSocket), a new socket otherwise.
 */
export type ConnectFunction = (options: { host: string; port: number }, socket?: net.Socket) => net.Socket;

/** How a tunnel's upstream socket reads (tunnel-relay.ts): set when it is made, before it connects. */
export interface TunnelSocketOptions {
  allowHalfOpen?: boolean;
  onread?: net.OnReadOpts;
}

/** The destination policy before DNS: a refusal for `target`'s name whatever it resolves to, or undefined. */
export type NameCheck = (target: DialTarget) => RejectError | undefined;

/** The destination policy: a refusal for connecting to `address` for `target`, or undefined to allow it. */
export type AddressCheck = (address: string, target: DialTarget) => RejectError | undefined;

export interface UpstreamDialerOptions {
  /** Name resolution; default dns.lookup (the system resolver, as Node's own connect uses). */
  lookup?: LookupFunction | undefined;
  /** TCP connect; default net.connect. */
  connect?: ConnectFunction | undefined;
  upstreamTls: UpstreamTlsSettings;
  checkAddress: AddressCheck;
  /** Default: every name is resolved. */
  checkName?: NameCheck | undefined;
  /** Told of every dial refused by the checks (for metrics and a rate-limited warning). */
  onRefused?: ((refusal: RejectError, target: DialTarget) => void) | undefined;
  /** The parent proxy of the moment (the live settings'), or undefined: straight to the origin. */
  parent?: (() => ParentProxy | undefined) | undefined;
  /** The check on the parent's own addresses. Default: `checkAddress`. */
  checkParentAddress?: AddressCheck | undefined;
}

/** Called once: a connected (and for TLS, verified) socket, or why there is none. */
export type DialCallback = (err: Error | undefined, socket: net.Socket | undefined) => void;

interface ResolvedAddress {
  address: string;
  family: number;
}

const defaultConnect: ConnectFunction = (options, socket) => (socket === undefined ? net.connect(options) : socket.connect(options));

export class UpstreamDialer {
  readonly #lookup: LookupFunction;
  readonly #connect: ConnectFunction;
  readonly #tls: UpstreamTlsSettings;
  readonly #check: AddressCheck;
  readonly #checkName: NameCheck | undefined;
  readonly #onRefused: ((refusal: RejectError, target: DialTarget) => void) | undefined;
  readonly #parent: () => ParentProxy | undefined;
  readonly #checkParent: AddressCheck;

  constructor(options: UpstreamDialerOptions) {
    this.#lookup = options.lookup ?? dnsLookup;
    this.#connect = options.connect ?? defaultConnect;
    this.#tls = options.upstreamTls;
    this.#check = options.checkAddress;
    this.#checkName = options.checkName;
    this.#onRefused = options.onRefused;
    this.#parent = options.parent ?? (() => undefined);
    this.#checkParent = options.checkParentAddress ?? options.checkAddress;
  }

  /** The parent proxy a connection to `host` goes through now, or undefined (none, or `host` bypasses it). */
  parentFor(host: string): ParentProxy | undefined {
    const parent = this.#parent();
    return parent !== undefined && parent.carries(host) ? parent : undefined;
  }

  /**
   * Dials `target`: its addresses in the resolver's order, the next one when connecting to one fails. Returns what
   * abandons the dial (the socket being connected is closed; the callback is not called).
   */
  dial(target: DialTarget, callback: DialCallback): () => void {
    let abandoned = false;
    let current: net.Socket | undefined;
    let detach: (() => void) | undefined;
    const parent = this.parentFor(target.host);
    // Through a parent, failures name the origin and say how it was reached (never the parent's address: clients
    // are answered with this).
    const named = parent === undefined ? undefined : `${target.authority} through the upstream proxy`;
    const finish = (err: Error | undefined, socket: net.Socket | undefined): void => {
      if (abandoned) return;
      abandoned = true;
      detach?.();
      callback(err !== undefined && named !== undefined && !(err instanceof RejectError) ? toUpstreamError(err, named) : err, socket);
    };
    const connected = (socket: net.Socket): void => {
      if (parent === undefined || !(target.tls || target.tunnel === true)) return afterTunnel(socket);
      detach = connectThroughParent(socket, parent, target.authority, named!, (err) => {
        detach = undefined;
        if (err !== undefined) {
          discardSocket(socket);
          finish(err, undefined);
        } else afterTunnel(socket);
      });
    };
    const afterTunnel = (socket: net.Socket): void => {
      if (target.tls) this.#startTls(socket, target, finish, (d) => (detach = d), (s) => (current = s));
      else finish(undefined, socket);
    };
    const tryAddress = (addresses: ResolvedAddress[], index: number): void => {
      const { address } = addresses[index] as ResolvedAddress;
      const socket = this.#connect({ host: address, port: parent?.port ?? target.port });
      current = socket;
      socket.setNoDelay(true);
      const failed = (err: Error): void => {
        detach?.();
        discardSocket(socket);
        if (index + 1 < addresses.length && isConnectFailure(err)) tryAddress(addresses, index + 1);
        else finish(err, undefined);
      };
      detach = addListeners(socket, {
        error: failed,
        connect: () => {
          detach?.();
          detach = undefined;
          connected(socket);
        },
      });
    };
    this.#resolveHop(target, parent, (err, addresses) => {
      if (abandoned) return;
      if (err !== undefined) return finish(err, undefined);
      tryAddress(addresses, 0);
    });
    return () => {
      if (abandoned) return;
      abandoned = true;
      detach?.();
      if (current !== undefined) discardSocket(current);
    };
  }

  /**
   * Resolves and checks `target` as a dial would, without connecting: the refusal when the policy refuses every
   * address it has, undefined otherwise (a resolver failure included: the dial that follows reports that). What
   * MITM asks before it answers a CONNECT and mints a certificate for a name.
   */
  check(target: DialTarget, callback: (refusal: RejectError | undefined) => void): void {
    // Through a parent proxy, as a dial would: the origin's name is checked, its addresses are the parent's concern.
    this.#resolveHop(target, this.parentFor(target.host), (err) => callback(err instanceof RejectError ? err : undefined));
  }

  /**
   * A socket for code that must hold it before it connects (a CONNECT tunnel: the tracker, the connect timeout and
   * the relay's read mode take it at once). It is connected, by the same resolve, check and connect as dial(), to
   * the first address of `target` that passed (an IP literal included: net.connect would skip a lookup for it); a
   * refusal or a resolver failure is destroyed into it as its 'error'. With a parent proxy for `target`
   * (`parentFor`), it is connected to the parent instead, which the caller then asks for the tunnel.
   */
  tunnelSocket(target: DialTarget, options: TunnelSocketOptions): net.Socket {
    // `onread` is read by the Socket constructor (net.connect passes its options there), though typed on connect.
    const socket = new net.Socket(options);
    socket.setNoDelay(true);
    const parent = this.parentFor(target.host);
    this.#resolveHop(target, parent, (err, addresses, hop) => {
      if (socket.destroyed) return;
      if (err !== undefined) return void socket.destroy(err);
      this.#connect({ host: (addresses[0] as ResolvedAddress).address, port: hop.port }, socket);
    });
    return socket;
  }

  /**
   * The addresses to connect to for `target`: its own, or with `parent` the parent's. Through a parent the origin's
   * name still meets the name check (`destinations.allow` names); its addresses are the parent's to resolve, and
   * the parent's own addresses get the parent check (the self-loop guard), not the destination rules.
   */
  #resolveHop(
    target: DialTarget,
    parent: ParentProxy | undefined,
    callback: (err: Error | undefined, addresses: ResolvedAddress[], hop: DialTarget) => void,
  ): void {
    if (parent === undefined) return this.#resolve(target, this.#check, true, (err, addresses) => callback(err, addresses, target));
    const hop: DialTarget = { host: parent.host, port: parent.port, authority: parent.display, tls: false };
    const refusedName = isIP(target.host) === 0 ? this.#checkName?.(target) : undefined;
    if (refusedName !== undefined) {
      process.nextTick(() => this.#refuse(refusedName, target, (err, addresses) => callback(err, addresses, hop)));
      return;
    }
    this.#resolve(hop, this.#checkParent, false, (err, addresses) => callback(err, addresses, hop));
  }

  /**
   * The addresses of `target` that pass the check, in the resolver's order; the first refusal if none does.
   * `nameCheck`: the destination name check applies (not to a parent proxy's name).
   */
  #resolve(target: DialTarget, check: AddressCheck, nameCheck: boolean, callback: (err: Error | undefined, addresses: ResolvedAddress[]) => void): void {
    const checked = (resolved: ResolvedAddress[]): void => {
      const allowed: ResolvedAddress[] = [];
      let refusal: RejectError | undefined;
      for (const entry of resolved) {
        const refused = check(entry.address, target);
        if (refused === undefined) allowed.push(entry);
        else refusal ??= refused;
      }
      if (allowed.length > 0) callback(undefined, allowed);
      else if (refusal !== undefined) this.#refuse(refusal, target, callback);
      else callback(notFound(target.host), []);
    };
    const family = isIP(target.host);
    if (family !== 0) {
      // Asynchronous like a lookup: a caller is never called back before dial() has returned.
      process.nextTick(checked, [{ address: target.host, family }]);
      return;
    }
    const refusedName = nameCheck ? this.#checkName?.(target) : undefined;
    if (refusedName !== undefined) {
      process.nextTick(() => this.#refuse(refusedName, target, callback));
      return;
    }
    this.#lookup(target.host, { all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      checked(Array.isArray(addresses) ? addresses : [{ address: addresses, family: 4 }]);
    });
  }

  #refuse(refusal: RejectError, target: DialTarget, callback: (err: Error | undefined, addresses: ResolvedAddress[]) => void): void {
    this.#onRefused?.(refusal, target);
    callback(refusal, []);
  }

  #startTls(
    socket: net.Socket,
    target: DialTarget,
    finish: DialCallback,
    setDetach: (detach: () => void) => void,
    setCurrent: (socket: net.Socket) => void,
  ): void {
    const options: tls.ConnectionOptions & StreamBufferOption = {
      socket,
      // The name the certificate must carry (the IP address itself for an IP target).
      host: target.host,
      // SNI must not carry an IP address (RFC 6066 §3).
      ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
      secureContext: this.#tls.secureContext,
      rejectUnauthorized: this.#tls.rejectUnauthorized,
      ALPNProtocols: ['http/1.1'],
      highWaterMark: TLS_WRITE_BUFFER_BYTES,
    };
    const secure = tls.connect(options);
    setCurrent(secure);
    // The TCP socket's own errors reach the TLS socket; this only keeps one arriving late from being unhandled.
    socket.on('error', ignoreError);
    setDetach(
      addListeners(secure, {
        error: (err: Error) => {
          discardSocket(secure);
          finish(err, undefined);
        },
        secureConnect: () => finish(undefined, secure),
      }),
    );
  }
}

/** Failures that are about the address (refused, unreachable): another address of the name may work. */
function isConnectFailure(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL' || code === 'ETIMEDOUT';
}

function notFound(host: string): Error {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
}

function ignoreError(): void {}
