/**
 * The network a security test gives the proxy (startEgressProxy's `lookup` and `connect`), so that whatever a test
 * asks the proxy to reach, and whatever a bug in the policy lets through, nothing leaves the machine:
 *
 * - the resolver answers from a table (the names attackers use, the names of the test's "remote" endpoints) and
 *   says ENOTFOUND for anything else: no DNS query is ever sent;
 * - the connect function dials loopback only. An address the test maps (`10.20.30.40:443` → a loopback port) is
 *   connected to that loopback port instead, so a test can stand a local server in for a remote one. Anything else
 *   is recorded in `offLoopback` and fails with ENETUNREACH without a packet being sent: a test asserts the list
 *   stayed empty.
 */
import net, { type LookupFunction } from 'node:net';
import type { ConnectFunction } from '../../src/relay/upstream-dialer.js';

export interface OfflineNetwork {
  lookup: LookupFunction;
  connect: ConnectFunction;
  /** Every `host:port` the proxy tried to connect to, in order (after the policy: addresses, never names). */
  readonly dialled: string[];
  /** Those that were neither loopback nor mapped: each one a connection that would have left the machine. */
  readonly offLoopback: string[];
  /** Maps `address:port` to a loopback port from now on. */
  map(address: string, port: number, loopbackPort: number): void;
}

export function offlineNetwork(names: Record<string, readonly string[]>): OfflineNetwork {
  const dialled: string[] = [];
  const offLoopback: string[] = [];
  const mapped = new Map<string, number>();
  const lookup: LookupFunction = (hostname, options, callback) => {
    const addresses = names[hostname.toLowerCase()];
    process.nextTick(() => {
      if (addresses === undefined || addresses.length === 0) {
        callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 4);
        return;
      }
      const all = addresses.map((address) => ({ address, family: net.isIP(address) }));
      if (options.all === true) callback(null, all);
      else callback(null, all[0]!.address, all[0]!.family);
    });
  };
  const connect: ConnectFunction = (options, socket) => {
    const key = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
    dialled.push(key);
    const redirected = mapped.get(key);
    const loopback = options.host === '127.0.0.1' || options.host === '::1';
    if (redirected === undefined && !loopback) {
      offLoopback.push(key);
      const refused = socket ?? new net.Socket();
      process.nextTick(() => refused.destroy(Object.assign(new Error(`connect ENETUNREACH ${key} (refused by the test's offline network)`), { code: 'ENETUNREACH' })));
      return refused;
    }
    const target = redirected === undefined ? options : { host: '127.0.0.1', port: redirected };
    return socket === undefined ? net.connect(target) : socket.connect(target);
  };
  return {
    lookup,
    connect,
    dialled,
    offLoopback,
    map(address, port, loopbackPort) {
      mapped.set(`${address.includes(':') ? `[${address}]` : address}:${port}`, loopbackPort);
    },
  };
}
