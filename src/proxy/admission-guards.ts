/**
 * Admission: the ordered checks a request or CONNECT passes before the proxy does any upstream work: client
 * address → target port → loop. Each returns a typed RejectError (one status code, one metric label) or undefined.
 */
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ClientDeniedError, LoopDetectedError, PortDeniedError, type RejectError } from '../errors.js';
import { buildBlockList } from '../config/cidr.js';
import type { ProxyTarget } from './request-target.js';

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
    if (!address) return false;
    const family = isIP(address);
    if (family === 0) return false;
    try {
      return this.#blockList.check(address, family === 6 ? 'ipv6' : 'ipv4');
    } catch {
      return false;
    }
  }
}

export interface AdmissionOptions {
  allowedClientCidrs: readonly string[];
  allowedConnectPorts: readonly number[];
}

export class AdmissionGuards {
  readonly #clients: ClientAllowList;
  readonly #connectPorts: ReadonlySet<number>;
  /** host → ports of our own listeners, filled once the listeners are bound. */
  readonly #ownPorts = new Set<number>();
  readonly #ownHosts = new Set<string>();

  constructor(options: AdmissionOptions) {
    this.#clients = new ClientAllowList(options.allowedClientCidrs);
    this.#connectPorts = new Set(options.allowedConnectPorts);
  }

  /**
   * Records a port this process listens on, so requests aimed at ourselves are refused: a proxy forwarding to
   * itself loops until it runs out of sockets, and reaching the admin listener through the proxy would bypass
   * the admin bind address.
   */
  addOwnListener(bindAddress: string, port: number): void {
    this.#ownPorts.add(port);
    for (const host of ['localhost', '127.0.0.1', '::1', '0.0.0.0', '::', bindAddress.toLowerCase()]) {
      this.#ownHosts.add(host);
    }
    for (const addresses of Object.values(networkInterfaces())) {
      for (const a of addresses ?? []) this.#ownHosts.add(a.address.toLowerCase());
    }
  }

  checkClient(clientIp: string | undefined): RejectError | undefined {
    return this.#clients.allows(clientIp) ? undefined : new ClientDeniedError();
  }

  checkConnectPort(target: ProxyTarget): RejectError | undefined {
    if (this.#connectPorts.size === 0 || this.#connectPorts.has(target.port)) return undefined;
    return new PortDeniedError(target.port);
  }

  checkLoop(target: ProxyTarget): RejectError | undefined {
    if (!this.#ownPorts.has(target.port)) return undefined;
    const host = target.host.startsWith('::ffff:') ? target.host.slice(7) : target.host;
    return this.#ownHosts.has(host) || host.startsWith('127.') ? new LoopDetectedError() : undefined;
  }
}

/** The client address as a label and log value: IPv4-mapped IPv6 shown as plain IPv4. */
export function displayClientIp(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
