/**
 * Admission: the ordered checks a connection or a request passes before the proxy does any upstream work. Each is
 * a small guard returning a typed RejectError (one status code, one metric label, and any header fields the
 * refusal needs, such as a 407's `Proxy-Authenticate`) or undefined.
 *
 * - ConnectionGuard: once per client connection, at accept, before a byte is read (the client allow-list, then the
 *   per-client connection cap). A refused connection gets its answer at once and costs nothing more.
 * - RequestGuard: once per request head, CONNECT included, after the route has resolved the target (the port
 *   policy, the self-loop, Via loops, then proxy authentication: security-guards.ts). It sees the client, the
 *   method, the route the request would take and its parsed target and head fields. A guard may answer with a
 *   promise when it cannot decide at once (proxy authentication of credentials it has not verified yet): the
 *   request then waits, its body held, and the guards after it run once it is settled.
 *
 * The destination policy is not a guard: it judges the address actually dialled, so it sits in the upstream dialer
 * (upstream-dialer.ts), after DNS.
 *
 * The guards in force are part of the live settings (relay-settings.ts): a reload swaps the list, and each new
 * connection or request is checked against the list of its moment.
 */
import { BlockList, isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { ClientDeniedError, LoopDetectedError, type RejectError } from '../errors.js';
import { buildBlockList } from '../config/cidr.js';
import type { RequestHead } from '../http1/message-head.js';
import type { DialTarget } from './upstream-dialer.js';
import type { ProxyTarget } from './request-target.js';

/** Who is connecting. */
export interface ConnectionContext {
  /** The client's address as a label and log value (IPv4-mapped IPv6 shown as IPv4). */
  readonly clientIp: string;
  /** The socket's remote address as Node reports it (undefined if the socket is already gone). */
  readonly clientAddress: string | undefined;
  /** The client's socket, only to tell whether it is open: a slow guard (proxy auth) drops work for a client that left. */
  readonly socket?: { readonly destroyed: boolean };
}

/** The ways a request can be served: relayed over HTTP (plain or decrypted), or tunnelled as bytes. */
export type RouteKind = 'forward' | 'tunnel' | 'intercept';

/** What a request asks for, as a guard sees it. */
export interface RequestContext extends ConnectionContext {
  readonly method: string;
  /** `intercept` for a CONNECT that will be decrypted; `forward` for every request relayed over HTTP. */
  readonly route: RouteKind;
  /** Whether the request came decrypted from inside an intercepted tunnel. */
  readonly intercepted: boolean;
  readonly target: ProxyTarget;
  readonly head: RequestHead;
}

export interface ConnectionGuard {
  checkConnection(context: ConnectionContext): RejectError | undefined;
  /** The connection this guard admitted has closed (a guard that counts connections gives its place back). */
  connectionClosed?(context: ConnectionContext): void;
}

/** A refusal, or none, still being decided. Never rejects. */
export type PendingRefusal = Promise<RejectError | undefined>;

export interface RequestGuard {
  checkRequest(context: RequestContext): RejectError | undefined | PendingRefusal;
}

export class ClientAllowList {
  readonly #blockList: BlockList | undefined;

  /** Empty `cidrs`: every client is allowed (the reference's behaviour; bind 127.0.0.1 keeps that safe). */
  constructor(cidrs: readonly string[]) {
    this.#blockList = cidrs.length > 0 ? buildBlockList(cidrs) : undefined;
  }

  /**
   * Fails closed: an address we cannot parse is denied. BlockList matches IPv4-mapped IPv6 (::ffff:10.1.2.3)
   * against IPv4 subnets; the family must be passed, or IPv6 addresses never match.
   */
  allows(address: string | undefined): boolean {
    if (!this.#blockList) return true;
    return address !== undefined && inBlockList(this.#blockList, address);
  }
}

/** `allowed_client_cidrs`, checked at accept. */
export class ClientAllowListGuard implements ConnectionGuard {
  readonly #list: ClientAllowList;

  constructor(cidrs: readonly string[]) {
    this.#list = new ClientAllowList(cidrs);
  }

  checkConnection(context: ConnectionContext): RejectError | undefined {
    return this.#list.allows(context.clientAddress) ? undefined : new ClientDeniedError();
  }
}

/**
 * Refuses targets that are this proxy itself: forwarding to our own port loops until sockets run out, and reaching
 * the admin listener through the proxy would bypass the admin bind address. As a request guard it catches
 * literal spellings (`127.1`, `[::ffff:7f00:1]`, `localhost`); as the dialer's address check it catches names that
 * resolve to this host, on the address actually dialled.
 */
export class SelfLoopGuard implements RequestGuard {
  /** Ports of our own listeners, filled once the listeners are bound. */
  readonly #ownPorts = new Set<number>();
  /** The addresses our listeners are bound to. */
  readonly #bindAddresses = new Set<string>();
  /** Addresses that reach this host: loopback, the unspecified addresses, every local interface. */
  #ownAddresses = new BlockList();
  readonly #interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]>;

  /** `interfaces`: where the host's interface addresses come from (a test gives its own list). */
  constructor(interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces) {
    this.#interfaces = interfaces;
    this.refreshInterfaces();
  }

  /**
   * Reads the host's interface addresses again (at start and at each reload: an address DHCP or an operator added
   * since is then known). A BlockList cannot forget an entry, so the list is rebuilt.
   */
  refreshInterfaces(): void {
    const own = new BlockList();
    own.addSubnet('127.0.0.0', 8, 'ipv4');
    for (const address of ['0.0.0.0', '::1', '::', ...this.#bindAddresses]) addAddress(own, address);
    for (const list of Object.values(this.#interfaces())) {
      for (const a of list ?? []) addAddress(own, a.address);
    }
    this.#ownAddresses = own;
  }

  /** Records a port this process listens on (and the address it is bound to). */
  addOwnListener(bindAddress: string, port: number): void {
    this.#ownPorts.add(port);
    this.#bindAddresses.add(bindAddress);
    addAddress(this.#ownAddresses, bindAddress);
  }

  /** Whether an IP address is one of this host's (IPv4-mapped IPv6 forms included). */
  isOwnAddress(address: string): boolean {
    return inBlockList(this.#ownAddresses, address);
  }

  checkRequest(context: RequestContext): RejectError | undefined {
    return this.checkTarget(context.target);
  }

  checkTarget(target: ProxyTarget): RejectError | undefined {
    if (!this.#ownPorts.has(target.port)) return undefined;
    return target.host === 'localhost' || this.isOwnAddress(target.host) ? new LoopDetectedError() : undefined;
  }

  /** The dialer's address check: an address of this host on one of our ports. */
  readonly checkAddress = (address: string, target: DialTarget): RejectError | undefined =>
    this.#ownPorts.has(target.port) && this.isOwnAddress(address) ? new LoopDetectedError() : undefined;
}

function addAddress(list: BlockList, address: string): void {
  const family = isIP(address);
  if (family !== 0) list.addAddress(address, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Whether `address` is in `list`; false for anything that is not an IP address. BlockList matches IPv4-mapped IPv6
 * (::ffff:10.1.2.3) against IPv4 subnets, but only when told the family: without it IPv6 addresses never match.
 */
function inBlockList(list: BlockList, address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  try {
    return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  } catch {
    return false;
  }
}

/** The client address as a label and log value: IPv4-mapped IPv6 shown as plain IPv4. */
export function displayClientIp(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
