/**
 * Admission: the ordered checks a request or CONNECT passes before the proxy does any upstream work: client
 * address → target port → loop. Each returns a typed RejectError (one status code, one metric label) or undefined.
 */
import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
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
  /** Ports of our own listeners, filled once the listeners are bound. */
  readonly #ownPorts = new Set<number>();
  /** Addresses that reach this host: loopback, the unspecified addresses, every local interface. */
  readonly #ownAddresses = new BlockList();

  constructor(options: AdmissionOptions) {
    this.#clients = new ClientAllowList(options.allowedClientCidrs);
    this.#connectPorts = new Set(options.allowedConnectPorts);
    this.#ownAddresses.addSubnet('127.0.0.0', 8, 'ipv4');
    for (const address of ['0.0.0.0', '::1', '::']) this.#addOwnAddress(address);
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) this.#addOwnAddress(a.address);
    }
  }

  /**
   * Records a port this process listens on, so requests aimed at ourselves are refused: a proxy forwarding to
   * itself loops until it runs out of sockets, and reaching the admin listener through the proxy would bypass
   * the admin bind address.
   */
  addOwnListener(bindAddress: string, port: number): void {
    this.#ownPorts.add(port);
    this.#addOwnAddress(bindAddress);
  }

  #addOwnAddress(address: string): void {
    const family = isIP(address);
    if (family !== 0) this.#ownAddresses.addAddress(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** Whether an IP address is one of this host's (IPv4-mapped IPv6 forms included). */
  isOwnAddress(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    try {
      return this.#ownAddresses.check(address, family === 6 ? 'ipv6' : 'ipv4');
    } catch {
      return false;
    }
  }

  /**
   * For a target on one of our own ports, a resolver that refuses names resolving to this host (`localtest.me`
   * and friends): the literal check in checkLoop cannot see through DNS. Undefined for every other port, so the
   * common path keeps the plain resolver.
   */
  loopSafeLookup(port: number, base: LookupFunction | undefined): LookupFunction | undefined {
    if (!this.#ownPorts.has(port)) return base;
    const resolve = base ?? dnsLookup;
    return (hostname, options, callback) => {
      resolve(hostname, options, (err, address, family) => {
        if (err) return callback(err, address, family);
        const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address];
        if (addresses.some((a) => this.isOwnAddress(a))) {
          return callback(new LoopDetectedError(), '', 4);
        }
        callback(null, address, family);
      });
    };
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
    return target.host === 'localhost' || this.isOwnAddress(target.host) ? new LoopDetectedError() : undefined;
  }
}

/** The client address as a label and log value: IPv4-mapped IPv6 shown as plain IPv4. */
export function displayClientIp(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
