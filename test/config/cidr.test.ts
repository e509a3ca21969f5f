// Allow-list parsing and the BlockList the admission guard relies on, including Node's IPv4-mapped IPv6 matching.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBlockList, parseCidr, parseCidrList } from '../../src/config/cidr.js';
import { ConfigError } from '../../src/errors.js';

describe('parseCidr', () => {
  it('accepts IPv4 and IPv6 CIDRs', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), {
      ok: true,
      cidr: { entry: '10.0.0.0/8', address: '10.0.0.0', prefixLength: 8, family: 'ipv4' },
    });
    assert.deepEqual(parseCidr('2001:db8::/32'), {
      ok: true,
      cidr: { entry: '2001:db8::/32', address: '2001:db8::', prefixLength: 32, family: 'ipv6' },
    });
    assert.deepEqual(parseCidr('0.0.0.0/0'), {
      ok: true,
      cidr: { entry: '0.0.0.0/0', address: '0.0.0.0', prefixLength: 0, family: 'ipv4' },
    });
  });

  it('treats a bare address as /32 or /128', () => {
    const v4 = parseCidr('192.168.1.7');
    const v6 = parseCidr('::1');
    assert.ok(v4.ok && v6.ok);
    assert.equal(v4.cidr.prefixLength, 32);
    assert.equal(v6.cidr.prefixLength, 128);
  });

  it('accepts host bits set, as most tools do', () => {
    assert.ok(parseCidr('10.1.2.3/8').ok);
  });

  it('rejects bad prefixes, bad addresses and zone IDs with a message quoting the entry', () => {
    const cases: Array<[string, string]> = [
      ['10.0.0.0/33', '"10.0.0.0/33" is not an IPv4/IPv6 address or CIDR: the prefix length must be 0 to 32 for IPv4'],
      ['::/129', '"::/129" is not an IPv4/IPv6 address or CIDR: the prefix length must be 0 to 128 for IPv6'],
      ['10.0.0.0/', '"10.0.0.0/" is not an IPv4/IPv6 address or CIDR: the prefix length must be 0 to 32 for IPv4'],
      ['10.0.0.0/-1', '"10.0.0.0/-1" is not an IPv4/IPv6 address or CIDR: the prefix length must be 0 to 32 for IPv4'],
      ['10.0.0.0/8/8', '"10.0.0.0/8/8" is not an IPv4/IPv6 address or CIDR'],
      ['10.0.0.256/24', '"10.0.0.256/24" is not an IPv4/IPv6 address or CIDR'],
      ['example.com', '"example.com" is not an IPv4/IPv6 address or CIDR'],
      ['', '"" is not an IPv4/IPv6 address or CIDR'],
      [' 10.0.0.1', '" 10.0.0.1" is not an IPv4/IPv6 address or CIDR'],
      ['fe80::1%eth0', '"fe80::1%eth0" is not an IPv4/IPv6 address or CIDR: zone IDs (%...) are not supported'],
    ];
    for (const [entry, problem] of cases) assert.deepEqual(parseCidr(entry), { ok: false, problem }, entry);
  });
});

describe('parseCidrList', () => {
  it('names the index of the first bad entry', () => {
    assert.throws(
      () => parseCidrList(['10.0.0.0/8', 'nope'], { source: 'proxy.toml', key: 'proxy.allowed_client_cidrs' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message === 'proxy.toml: proxy.allowed_client_cidrs[1]: "nope" is not an IPv4/IPv6 address or CIDR',
    );
  });
});

describe('buildBlockList', () => {
  const blockList = buildBlockList(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1']);

  it('matches IPv4 subnets and bare addresses', () => {
    assert.equal(blockList.check('10.200.3.4', 'ipv4'), true);
    assert.equal(blockList.check('192.168.1.7', 'ipv4'), true);
    assert.equal(blockList.check('192.168.1.8', 'ipv4'), false);
    assert.equal(blockList.check('11.0.0.1', 'ipv4'), false);
  });

  it('matches IPv6 subnets and bare addresses when the family is given', () => {
    assert.equal(blockList.check('2001:db8:1::5', 'ipv6'), true);
    assert.equal(blockList.check('::1', 'ipv6'), true);
    assert.equal(blockList.check('2001:db9::1', 'ipv6'), false);
  });

  it('returns false for IPv6 when the family is left out (why callers must always pass it)', () => {
    assert.equal(blockList.check('2001:db8:1::5'), false);
  });

  it('matches IPv4-mapped IPv6 client addresses against IPv4 subnets', () => {
    assert.equal(blockList.check('::ffff:10.1.2.3', 'ipv6'), true);
    assert.equal(blockList.check('::ffff:a01:203', 'ipv6'), true);
    assert.equal(blockList.check('::ffff:192.168.1.7', 'ipv6'), true);
    assert.equal(blockList.check('::ffff:11.1.2.3', 'ipv6'), false);
  });

  it('masks host bits of a subnet', () => {
    assert.equal(buildBlockList(['10.1.2.3/24']).check('10.1.2.200', 'ipv4'), true);
  });

  it('throws a ConfigError for a bad entry', () => {
    assert.throws(() => buildBlockList(['10.0.0.0/33']), ConfigError);
  });
});
