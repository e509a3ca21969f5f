/** The destination policy, port lists and allow entries, as pure functions (no sockets: the dialer tests use them). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DestinationDeniedError } from '../../src/errors.js';
import { parseDestinationEntry } from '../../src/policy/destination-entry.js';
import { DestinationPolicy, type DestinationTarget } from '../../src/policy/destination-policy.js';
import { effectiveAddress, embeddedIpv4, ipv6Groups } from '../../src/policy/ip-address.js';
import { DEFAULT_CONNECT_PORTS, DEFAULT_HTTP_PORTS, parsePortRange, PortSet } from '../../src/policy/port-ranges.js';
import { specialRangeOf } from '../../src/policy/special-ranges.js';

function target(host: string, port = 443): DestinationTarget {
  return { host, port, authority: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
}

test('IPv6 groups, and the IPv4 address mapped, NAT64 and 6to4 forms lead to', () => {
  assert.deepEqual(ipv6Groups('::1'), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(ipv6Groups('fe80::1%eth0'), [0xfe80, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(ipv6Groups('::ffff:127.0.0.1'), [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
  assert.deepEqual(ipv6Groups('1:2:3:4:5:6:7:8'), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(embeddedIpv4('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(embeddedIpv4('::ffff:7f00:1'), '127.0.0.1');
  assert.equal(embeddedIpv4('0:0:0:0:0:ffff:a9fe:a9fe'), '169.254.169.254');
  assert.equal(embeddedIpv4('64:ff9b::7f00:1'), '127.0.0.1');
  assert.equal(embeddedIpv4('2002:7f00:1::'), '127.0.0.1');
  assert.equal(embeddedIpv4('2001:db8::1'), undefined);
  assert.equal(embeddedIpv4('127.0.0.1'), undefined);
  assert.deepEqual(effectiveAddress('::ffff:10.1.2.3'), { address: '10.1.2.3', family: 'ipv4' });
});

test('special ranges: every category, by every IP spelling a resolver can return', () => {
  const cases: Array<[string, string | undefined]> = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['2002:7f00:1::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['169.254.169.254', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['169.254.170.2', 'link_local'],
    ['fe80::1', 'link_local'],
    ['febf:ffff::1', 'link_local'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['::127.0.0.1', 'reserved'],
    ['fec0::1', 'reserved'],
    ['100::1', 'reserved'],
    // Private and public: allowed.
    ['10.1.2.3', undefined],
    ['172.16.0.1', undefined],
    ['192.168.1.1', undefined],
    ['100.64.0.1', undefined],
    ['100.100.100.201', undefined],
    ['fd00::1', undefined],
    ['fd00:ec2::253', undefined],
    ['8.8.8.8', undefined],
    ['::ffff:8.8.8.8', undefined],
    ['2606:4700::1111', undefined],
    ['2002:808:808::1', undefined],
    ['169.253.255.255', undefined],
    ['128.0.0.1', undefined],
  ];
  for (const [address, category] of cases) assert.equal(specialRangeOf(address)?.category, category, address);
});

test('port entries and sets; the defaults are squid\'s', () => {
  assert.deepEqual(parsePortRange(443), { ok: true, range: { from: 443, to: 443 } });
  assert.deepEqual(parsePortRange('8000-8999'), { ok: true, range: { from: 8000, to: 8999 } });
  for (const bad of [0, 65536, '1-', '-5', 'http', '9-1', '1.5', '80,443']) assert.equal(parsePortRange(bad).ok, false, String(bad));
  const connect = PortSet.parse(DEFAULT_CONNECT_PORTS);
  assert.ok(connect.has(443));
  assert.ok(!connect.has(8443) && !connect.has(80) && !connect.has(25));
  const http = PortSet.parse(DEFAULT_HTTP_PORTS);
  for (const port of [80, 21, 443, 70, 210, 280, 488, 591, 777, 1025, 9528, 65535]) assert.ok(http.has(port), String(port));
  for (const port of [22, 25, 53, 110, 143, 1024, 1]) assert.ok(!http.has(port), String(port));
  assert.ok(PortSet.parse([]).has(25), 'empty: any port');
});

test('allow entries: names, wildcards, IPs, CIDRs, with ports and ranges; bad ones say why', () => {
  const ok = (text: string) => {
    const parsed = parseDestinationEntry(text);
    assert.ok(parsed.ok, `${text}: ${parsed.ok ? '' : parsed.problem}`);
    return parsed.entry;
  };
  assert.deepEqual(ok('Openway.Guance.com:443').name, { kind: 'exact', value: 'openway.guance.com' });
  assert.deepEqual(ok('*.guance.com:443').name, { kind: 'suffix', value: '.guance.com' });
  assert.deepEqual(ok('10.1.2.0/24:9528').ports, { from: 9528, to: 9528 });
  assert.equal(ok('10.1.2.0/24').prefix?.length, 24);
  assert.equal(ok('fd00::/8').prefix?.family, 'ipv6');
  assert.deepEqual(ok('[fd00::/8]:8000-8999').ports, { from: 8000, to: 8999 });
  assert.equal(ok('[::1]:54321').prefix?.length, 128);
  assert.equal(ok('[::1]').ports, undefined);
  assert.equal(ok('localhost:54321').name?.value, 'localhost');
  for (const bad of ['', 'host:', 'host:0', 'host:http', '*.', '*', '127.1', '2130706433', '0x7f000001', '0177.0.0.1:80', '10.0.0.0/33', '[10.0.0.1]:80', 'a b', 'http://host/', 'host:1-2-3']) {
    const parsed = parseDestinationEntry(bad);
    assert.equal(parsed.ok, false, bad);
    assert.ok(!parsed.ok && parsed.problem.includes(bad), `the problem quotes the entry: ${bad}`);
  }
  const shorthand = parseDestinationEntry('0x7f000001:80');
  assert.ok(!shorthand.ok && shorthand.problem.endsWith('write the address as 127.0.0.1'));
});

test('default policy: private and public destinations pass, every special range is refused with its rule and the way to allow it', () => {
  const policy = new DestinationPolicy({ allow: [], blockSpecialRanges: true });
  assert.equal(policy.checkAddress('10.1.2.3', target('dataway', 9528)), undefined);
  assert.equal(policy.checkAddress('203.0.114.7', target('openway.guance.com')), undefined);
  const refused = policy.checkAddress('127.0.0.1', target('127.0.0.1', 8080));
  assert.ok(refused instanceof DestinationDeniedError);
  assert.equal(refused.rule, 'loopback');
  assert.equal(refused.statusCode, 403);
  assert.match(refused.publicMessage, /127\.0\.0\.1:8080 is a loopback address \(127\.0\.0\.0\/8\), refused by destinations\.block_special_ranges/);
  assert.match(refused.publicMessage, /--dest-allow 127\.0\.0\.1:8080/);
  const byName = policy.checkAddress('::1', target('localhost', 8080));
  assert.equal(byName?.rule, 'loopback');
  assert.match(byName?.publicMessage ?? '', /localhost:8080 resolves to a loopback address.*"localhost:8080"/);
  assert.equal(policy.checkAddress('169.254.169.254', target('169.254.169.254', 80))?.rule, 'metadata');
  assert.equal(policy.checkAddress('::ffff:127.0.0.1', target('::ffff:7f00:1', 80))?.rule, 'loopback');
  assert.equal(policy.checkName(target('localhost')), undefined, 'no allow-list: names are judged by their addresses');
});

test('an explicit entry allows a special address; broad entries and wildcards do not', () => {
  const policy = new DestinationPolicy({
    allow: ['127.0.0.1:54321', 'localhost:8080', '169.254.0.0/16:80', '0.0.0.0/0', '*.rebind.example'],
    blockSpecialRanges: true,
  });
  assert.equal(policy.checkAddress('127.0.0.1', target('127.0.0.1', 54321)), undefined);
  assert.equal(policy.checkAddress('127.0.0.1', target('127.0.0.1', 54322))?.rule, 'loopback', 'another port is not named');
  assert.equal(policy.checkAddress('::1', target('localhost', 8080)), undefined, 'an exact name entry names what it resolves to');
  assert.equal(policy.checkAddress('127.0.0.1', target('localhost', 8081))?.rule, 'loopback');
  assert.equal(policy.checkAddress('169.254.1.1', target('169.254.1.1', 80)), undefined, 'a /16 entry names link-local');
  assert.equal(policy.checkAddress('169.254.169.254', target('169.254.169.254', 80))?.rule, 'metadata', 'the /16 is broader than the metadata /32');
  assert.equal(policy.checkAddress('127.0.0.1', target('x.rebind.example', 80))?.rule, 'loopback', 'a wildcard never names a special address');
  assert.equal(policy.checkAddress('10.0.0.1', target('x.rebind.example', 80)), undefined);
});

test('a non-empty allow-list refuses the rest, before DNS when only names are listed', () => {
  const names = new DestinationPolicy({ allow: ['openway.guance.com:443', '*.guance.com:443'], blockSpecialRanges: true });
  assert.equal(names.checkName(target('openway.guance.com')), undefined);
  assert.equal(names.checkName(target('Eu.Guance.com.')), undefined);
  assert.equal(names.checkName(target('guance.com'))?.rule, 'not_allowed', 'the wildcard is for subdomains');
  assert.equal(names.checkName(target('openway.guance.com', 80))?.rule, 'not_allowed');
  assert.match(names.checkName(target('evil.example'))?.publicMessage ?? '', /evil\.example:443 is not in destinations\.allow/);
  assert.equal(names.checkAddress('203.0.114.7', target('openway.guance.com')), undefined);
  assert.equal(names.checkAddress('203.0.114.7', target('203.0.114.7'))?.rule, 'not_allowed');
  const cidrs = new DestinationPolicy({ allow: ['10.1.2.0/24:9528', 'fd00::/8'], blockSpecialRanges: true });
  assert.equal(cidrs.checkName(target('dataway', 9528)), undefined, 'a name may resolve into a CIDR: left to the dialer');
  assert.equal(cidrs.checkAddress('10.1.2.9', target('dataway', 9528)), undefined);
  assert.equal(cidrs.checkAddress('::ffff:10.1.2.9', target('dataway', 9528)), undefined);
  assert.equal(cidrs.checkAddress('10.1.3.9', target('dataway', 9528))?.rule, 'not_allowed');
  assert.equal(cidrs.checkAddress('10.1.2.9', target('dataway', 9529))?.rule, 'not_allowed');
  assert.equal(cidrs.checkAddress('fd12::1', target('v6', 1234)), undefined);
});

test('block_special_ranges = false with an empty allow-list checks nothing', () => {
  const open = new DestinationPolicy({ allow: [], blockSpecialRanges: false });
  assert.ok(open.allowsEverything);
  assert.equal(open.checkAddress('127.0.0.1', target('127.0.0.1', 22)), undefined);
  assert.equal(open.checkAddress('169.254.169.254', target('169.254.169.254', 80)), undefined);
});
