/** Unit checks of the small pure pieces: the allow-list's fail-closed parsing, targets, hop-by-hop stripping. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientAllowList, SelfLoopGuard, displayClientIp } from '../../src/relay/guards.js';
import { parseAbsoluteTarget, parseConnectAuthority } from '../../src/relay/request-target.js';
import { MalformedRequestError, MethodNotAllowedError } from '../../src/errors.js';

test('allow-list fails closed on anything it cannot parse', () => {
  const list = new ClientAllowList(['10.0.0.0/8', '2001:db8::/32']);
  assert.equal(list.allows('10.1.2.3'), true);
  assert.equal(list.allows('::ffff:10.1.2.3'), true);
  assert.equal(list.allows('2001:db8::1'), true);
  assert.equal(list.allows('11.0.0.1'), false);
  for (const bad of [undefined, '', 'garbage', '10.1.2', 'fe80::1%eth0', '10.1.2.3 ']) {
    assert.equal(list.allows(bad), false, `${String(bad)} must be denied`);
  }
  assert.equal(new ClientAllowList([]).allows(undefined), true, 'empty list: every client, like the reference');
});

test('client addresses display IPv4-mapped IPv6 as IPv4', () => {
  assert.equal(displayClientIp('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(displayClientIp('::1'), '::1');
  assert.equal(displayClientIp(undefined), 'unknown');
});

test('CONNECT authorities: host:port, [v6]:port; everything else is malformed', () => {
  assert.deepEqual(parseConnectAuthority('Example.COM:443'), { host: 'example.com', port: 443, authority: 'example.com:443' });
  assert.deepEqual(parseConnectAuthority('[::1]:8443'), { host: '::1', port: 8443, authority: '[::1]:8443' });
  assert.equal(parseConnectAuthority('2130706433:443').host, '127.0.0.1', 'numeric spellings canonicalised');
  assert.equal(parseConnectAuthority('0x7f000001:443').host, '127.0.0.1');
  assert.equal(parseConnectAuthority('[::FFFF:127.0.0.1]:443').host, '::ffff:7f00:1');
  assert.throws(() => parseConnectAuthority(`${'a'.repeat(64)}.example:443`), MalformedRequestError, 'label over 63');
  for (const bad of ['example.com', ':443', 'example.com:0', 'example.com:65536', '[zz]:443', 'a/b:443', 'exa mple:443', '::1:443', undefined]) {
    assert.throws(() => parseConnectAuthority(bad), MalformedRequestError, String(bad));
  }
});

test('absolute URIs: default ports, query kept for the origin but not in pathname', () => {
  const t = parseAbsoluteTarget('http://ingest.example:9528/v1/write/metric?token=abc');
  assert.equal(t.authority, 'ingest.example:9528');
  assert.equal(t.pathWithQuery, '/v1/write/metric?token=abc');
  assert.equal(t.pathname, '/v1/write/metric');
  assert.equal(parseAbsoluteTarget('https://[2001:db8::1]/x').authority, '[2001:db8::1]:443');
  assert.throws(() => parseAbsoluteTarget('ftp://x/y'), MethodNotAllowedError);
  assert.throws(() => parseAbsoluteTarget('http://user:pw@x/y'), MalformedRequestError);
  assert.throws(() => parseAbsoluteTarget('http://x:0/'), MalformedRequestError);
});

test('absolute URIs: the path and query go on exactly as sent (RFC 9110 §7.1), never normalised', () => {
  const dotted = parseAbsoluteTarget('http://x/a/../b/%2e%2e/c?sig=a%2Fb&x=%7B%7D');
  assert.equal(dotted.pathWithQuery, '/a/../b/%2e%2e/c?sig=a%2Fb&x=%7B%7D');
  assert.equal(dotted.pathname, '/a/../b/%2e%2e/c');
  assert.equal(parseAbsoluteTarget('http://x').pathWithQuery, '/');
  assert.equal(parseAbsoluteTarget('http://x:8080?q=1').pathWithQuery, '/?q=1');
  assert.equal(parseAbsoluteTarget('http://x/p#frag').pathWithQuery, '/p');
  assert.equal(parseAbsoluteTarget('HTTP://X/p').pathWithQuery, '/p');
  // WHATWG parsers read a backslash as a slash: `http://x\@evil/` would be host x, path /@evil/.
  for (const bad of ['http:///127.0.0.1:80/x', 'http:////x/y', 'http://x\\@evil/', 'http://x/a\\b', 'http:x/y', 'http:/x/y', 'http://x/caf\u00e9']) {
    assert.throws(() => parseAbsoluteTarget(bad), MalformedRequestError, bad);
  }
});

test('loop guard recognises our own listener by any local name, not other ports', () => {
  const guard = new SelfLoopGuard();
  guard.addOwnListener('127.0.0.1', 9530);
  for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2', '::ffff:127.0.0.1']) {
    assert.ok(guard.checkTarget({ host, port: 9530, authority: `${host}:9530` }), host);
  }
  assert.equal(guard.checkTarget({ host: '127.0.0.1', port: 9531, authority: '127.0.0.1:9531' }), undefined);
  assert.equal(guard.checkTarget({ host: 'example.com', port: 9530, authority: 'example.com:9530' }), undefined);
  // As the dialer's check, on a resolved address.
  const dialled = { host: 'self.example', port: 9530, authority: 'self.example:9530', tls: false };
  assert.ok(guard.checkAddress('127.0.0.1', dialled));
  assert.equal(guard.checkAddress('127.0.0.1', { ...dialled, port: 80 }), undefined);
});
