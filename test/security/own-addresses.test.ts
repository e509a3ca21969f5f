/**
 * The host's own interface addresses (its eth0 address, say) reach every service listening on 0.0.0.0 or ::, as
 * loopback does: under destinations.block_special_ranges they are refused unless an allow entry names them
 * (security review of main @ 0335356, finding 3). The interface list is injected, so the "own" address is one no
 * test could reach anyway, and the offline network refuses to dial anything but loopback: the proof is a refusal
 * before any dial.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { DestinationPolicy } from '../../src/policy/destination-policy.js';
import { SelfLoopGuard } from '../../src/relay/guards.js';
import { sample } from '../helpers/metrics-text.js';
import { offlineNetwork, type OfflineNetwork } from '../helpers/offline-network.js';
import { startHttpOrigin, type OriginServer } from '../helpers/origin-servers.js';
import { rawExchange } from '../helpers/raw-client.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';

/** A host with a LAN address and an IPv6 global address, as os.networkInterfaces reports them. */
function fakeInterfaces(extra: string[] = []): () => NodeJS.Dict<NetworkInterfaceInfo[]> {
  const info = (address: string): NetworkInterfaceInfo =>
    address.includes(':')
      ? { address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: `${address}/64`, scopeid: 0 }
      : { address, netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: `${address}/24` };
  return () => ({ lo: [info('127.0.0.1')], eth0: ['10.99.0.7', '2001:470:1::7', ...extra].map(info) });
}

function target(host: string, port = 6379): { host: string; port: number; authority: string } {
  return { host, port, authority: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
}

test("the policy refuses the host's own interface addresses, by every spelling, unless an entry names them", () => {
  const self = new SelfLoopGuard(fakeInterfaces());
  const policy = new DestinationPolicy({ allow: [], blockSpecialRanges: true, isOwnAddress: (a) => self.isOwnAddress(a) });
  for (const address of ['10.99.0.7', '::ffff:10.99.0.7', '2001:470:1::7']) {
    assert.equal(policy.checkAddress(address, target(address))?.rule, 'own_address', address);
  }
  assert.match(policy.checkAddress('10.99.0.7', target('10.99.0.7'))!.message, /own interfaces[^]*destinations\.allow/);
  assert.equal(policy.checkAddress('10.99.0.8', target('10.99.0.8')), undefined, 'a neighbour on the LAN stays allowed');
  assert.equal(policy.checkAddress('10.99.0.7', target('dataway.internal'))?.rule, 'own_address', 'a name resolving to it too');

  const named = new DestinationPolicy({ allow: ['10.99.0.7:6379', 'dataway.internal'], blockSpecialRanges: true, isOwnAddress: (a) => self.isOwnAddress(a) });
  assert.equal(named.checkAddress('10.99.0.7', target('10.99.0.7')), undefined, 'the address itself, named');
  assert.equal(named.checkAddress('10.99.0.7', target('dataway.internal')), undefined, 'an exact name, named');
  const wide = new DestinationPolicy({ allow: ['10.0.0.0/8'], blockSpecialRanges: true, isOwnAddress: (a) => self.isOwnAddress(a) });
  assert.equal(wide.checkAddress('10.99.0.7', target('10.99.0.7'))?.rule, 'own_address', 'a CIDR does not name the host');
  const off = new DestinationPolicy({ allow: [], blockSpecialRanges: false, isOwnAddress: (a) => self.isOwnAddress(a) });
  assert.equal(off.checkAddress('10.99.0.7', target('10.99.0.7')), undefined, 'block_special_ranges = false opens it');
});

test('an interface address added later is refused after refreshInterfaces (done at each reload)', () => {
  const extra: string[] = [];
  const self = new SelfLoopGuard(() => fakeInterfaces(extra)());
  const policy = new DestinationPolicy({ allow: [], blockSpecialRanges: true, isOwnAddress: (a) => self.isOwnAddress(a) });
  assert.equal(policy.checkAddress('10.99.0.9', target('10.99.0.9')), undefined);
  extra.push('10.99.0.9');
  self.refreshInterfaces();
  assert.equal(policy.checkAddress('10.99.0.9', target('10.99.0.9'))?.rule, 'own_address');
});

test("this machine's real non-loopback addresses are refused by the default policy (no traffic: policy only)", () => {
  const self = new SelfLoopGuard();
  const policy = new DestinationPolicy({ allow: [], blockSpecialRanges: true, isOwnAddress: (a) => self.isOwnAddress(a) });
  for (const list of Object.values(networkInterfaces())) {
    for (const { address } of list ?? []) assert.notEqual(policy.checkAddress(address, target(address)), undefined, address);
  }
});

describe("the proxy refuses its host's own addresses before dialling", () => {
  let proxy: TestProxy;
  let network: OfflineNetwork;
  let origin: OriginServer;
  before(async () => {
    origin = await startHttpOrigin();
    network = offlineNetwork({ 'own.attacker.test': ['10.99.0.7'] });
    // 10.99.0.8 (a neighbour) is stood in for by a loopback origin: the control that the harness can tell.
    network.map('10.99.0.8', 80, origin.port);
    proxy = await startTestProxy({}, undefined, { ...network, defaultPolicy: true, networkInterfaces: fakeInterfaces() });
  });
  after(async () => {
    await proxy.stop(100);
    await origin.close();
  });

  test('GET http://<own address>/ and CONNECT <own address>:443 get 403 own_address; a neighbour is reached', async () => {
    for (const request of [
      'GET http://10.99.0.7/ HTTP/1.1\r\nHost: 10.99.0.7\r\nConnection: close\r\n\r\n',
      'GET http://own.attacker.test/ HTTP/1.1\r\nHost: own.attacker.test\r\nConnection: close\r\n\r\n',
      'GET http://[::ffff:10.99.0.7]/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'CONNECT 10.99.0.7:443 HTTP/1.1\r\nHost: 10.99.0.7:443\r\n\r\n',
    ]) {
      const { text } = await rawExchange(proxy.port, request, { timeoutMs: 5000 });
      assert.match(text, /^HTTP\/1\.1 403 [^]*EPROXY_DESTINATION_DENIED[^]*own interfaces/, `${request.split('\r\n')[0]}: ${text.slice(0, 300)}`);
    }
    const { text } = await rawExchange(proxy.port, 'GET http://10.99.0.8/ HTTP/1.1\r\nHost: 10.99.0.8\r\nConnection: close\r\n\r\n', { timeoutMs: 5000 });
    assert.match(text, /^HTTP\/1\.1 200 /, text.slice(0, 200));
    assert.deepEqual(network.dialled, ['10.99.0.8:80'], 'only the neighbour was dialled');
    assert.deepEqual(network.offLoopback, []);
    assert.equal(sample(await proxy.metricsText(), 'egress_proxy_destination_refusals_total{rule="own_address"}'), 4);
  });
});
