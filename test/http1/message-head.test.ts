// Tests the strict head grammar both relays rely on (RFC 9112 §3-§5): what is parsed, and each shape of head
// that is refused because another parser would read it differently.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fieldHasToken, listItems, MessageHeadError, parseRelayedResponseHead, parseRequestHead, parseResponseHead } from '../../src/http1/message-head.js';

describe('request heads', () => {
  it('parses method, target, version, and lower-cased fields with OWS trimmed', () => {
    const head = parseRequestHead('POST /v1/write/metric?token=x HTTP/1.0\r\nHost: a.example\r\nX-Thing:  spaced value \t\r\nEmpty:\r\nObs: caf\xe9');
    assert.deepEqual(head, {
      method: 'POST',
      target: '/v1/write/metric?token=x',
      minorVersion: 0,
      headers: [
        { name: 'host', value: 'a.example' },
        { name: 'x-thing', value: 'spaced value' },
        { name: 'empty', value: '' },
        { name: 'obs', value: 'caf\xe9' },
      ],
    });
    assert.deepEqual(parseRequestHead('GET http://a.example/ HTTP/1.1').headers, []);
  });

  it('reads every field name as its lower case: common names in any case, and every near miss of one', () => {
    // Common names are matched against constants (message-head.ts); a match must be exact, whatever the case, and
    // a name one tchar away (`Content_Length`, `Hos~`) must stay itself.
    const tchars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (const known of ['host', 'content-length', 'transfer-encoding', 'connection', 'te', 'proxy-authorization', 'x-token']) {
      const names = [known, known.toUpperCase(), known.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase())];
      for (let at = 0; at < known.length; at++) for (const c of tchars) names.push(known.slice(0, at) + c + known.slice(at + 1));
      for (const name of names) {
        assert.equal(parseRequestHead(`GET / HTTP/1.1\r\n${name}: v`).headers[0]?.name, name.toLowerCase(), name);
        assert.equal(parseResponseHead(`HTTP/1.1 200 OK\r\n${name}: v`).headers[0]?.name, name.toLowerCase(), name);
      }
    }
  });

  it('keeps the method as sent, case and all (methods are case-sensitive, RFC 9110 §9.1)', () => {
    for (const method of ['GET', 'get', 'Get', 'POST', 'POSTX', 'POS', 'PATCH', 'DELETE', 'M-SEARCH', 'OPTIONS']) {
      assert.equal(parseRequestHead(`${method} / HTTP/1.1`).method, method);
    }
  });

  for (const [name, head] of [
    ['obs-fold', 'GET / HTTP/1.1\r\nX: a\r\n  folded'],
    ['obs-fold by a tab', 'GET / HTTP/1.1\r\nX: a\r\n\tfolded'],
    ['whitespace before the colon', 'GET / HTTP/1.1\r\nContent-Length : 5'],
    ['a tab before the colon', 'GET / HTTP/1.1\r\nTransfer-Encoding\t: chunked'],
    ['an empty field name', 'GET / HTTP/1.1\r\n: value'],
    ['a field line without a colon', 'GET / HTTP/1.1\r\nHost'],
    ['a non-token field name', 'GET / HTTP/1.1\r\nX\xa0Y: 1'],
    ['a bare LF', 'GET / HTTP/1.1\nHost: a'],
    ['a bare LF in a value', 'GET / HTTP/1.1\r\nX: a\nTransfer-Encoding: chunked'],
    ['a bare CR in a value', 'GET / HTTP/1.1\r\nX: a\rb'],
    ['a bare CR in the request line', 'GET /\r HTTP/1.1'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nX: a\x00b'],
    ['a DEL in a value', 'GET / HTTP/1.1\r\nX: a\x7fb'],
    ['a vertical tab in a value', 'GET / HTTP/1.1\r\nX: a\x0bb'],
    ['HTTP/2.0', 'GET / HTTP/2.0'],
    ['HTTP/1.2', 'GET / HTTP/1.2'],
    ['a lower-case version', 'GET / http/1.1'],
    ['no version (HTTP/0.9)', 'GET /'],
    ['a space after the version', 'GET / HTTP/1.1 '],
    ['a space in the target', 'GET /a b HTTP/1.1'],
    ['two spaces before the target', 'GET  / HTTP/1.1'],
    ['an empty target', 'GET  HTTP/1.1'],
    ['obs-text in the target', 'GET /caf\xe9 HTTP/1.1'],
    ['a DEL in the target', 'GET /a\x7f HTTP/1.1'],
    ['a non-token method', 'G(T / HTTP/1.1'],
    ['an empty method', ' / HTTP/1.1'],
    ['an empty line among the fields', 'GET / HTTP/1.1\r\n\r\nHost: a'],
  ] as const) {
    it(`refuses a request head with ${name}`, () => assert.throws(() => parseRequestHead(head), MessageHeadError));
  }

  // RFC 9112 §3.2, as llhttp reads it (found by the differential test, test/conformance).
  it('accepts the four request-target forms', () => {
    for (const [method, target] of [
      ['GET', '/'],
      ['GET', '//double'],
      ['GET', '/a?q=1#frag'],
      ['GET', 'http://a.example/b?c'],
      ['GET', 'HTTP://a.example'],
      ['GET', "http://u:p@a.b-c_d~e%41!$&'()*+,;=:8080/"],
      ['GET', 'http://[::1]:80/x\\y'],
      ['OPTIONS', '*'],
      ['CONNECT', 'a.example:443'],
    ]) {
      assert.equal(parseRequestHead(`${method} ${target} HTTP/1.1`).target, target);
    }
  });

  for (const target of ['v1/write', 'a%20x', '?q', 'http:/x', 'http:x', 'h2c+x://a/', 'a.example:443', 'http://a\\b/', 'http://a{b/', 'http://a"b/', 'http://a|b/', 'http://a#b', '*x']) {
    it(`refuses the request target ${JSON.stringify(target)}`, () => assert.throws(() => parseRequestHead(`GET ${target} HTTP/1.1`), /invalid request target/));
  }

  it('refuses asterisk-form for any method but OPTIONS', () => assert.throws(() => parseRequestHead('GET * HTTP/1.1'), /invalid request target/));

  // llhttp refuses `Content-Length: 5<HTAB>` and does not read `chunked<HTAB>` as chunked.
  it('refuses a tab in the whitespace after a framing field value, and only there', () => {
    for (const line of ['Content-Length: 5\t', 'Content-Length: 5 \t ', 'Transfer-Encoding: chunked\t', 'transfer-encoding: chunked\t ']) {
      assert.throws(() => parseRequestHead(`POST / HTTP/1.1\r\n${line}`), /a tab after a framing field value/, line);
    }
    assert.equal(parseRequestHead('POST / HTTP/1.1\r\nContent-Length:\t5 ').headers[0]?.value, '5');
    assert.equal(parseRequestHead('POST / HTTP/1.1\r\nX-Other: v\t').headers[0]?.value, 'v');
  });

  it('names a bare line end as such, wherever it is', () => {
    assert.throws(() => parseRequestHead('GET / HTTP/1.1\nHost: a'), /bare CR or LF/);
    assert.throws(() => parseRequestHead('GET / HTTP/1.1\r\nX: a\rb'), /bare CR or LF/);
    assert.throws(() => parseRequestHead('GET / HTTP/1.1\r\nX\n: a'), /bare CR or LF/);
  });
});

describe('status lines', () => {
  it('parses status lines with or without a reason', () => {
    assert.equal(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 0').statusCode, 200);
    assert.equal(parseResponseHead('HTTP/1.1 204').statusCode, 204);
    assert.equal(parseResponseHead('HTTP/1.1 404 ').reason, '');
    assert.equal(parseResponseHead('HTTP/1.0 599 Last \t one\xff').reason, 'Last \t one\xff');
    assert.equal(parseResponseHead('HTTP/1.1 100 Continue').statusCode, 100);
  });

  for (const bad of ['HTTP/1.1 20 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.1 099 x', 'HTTP/1.1 000', 'HTTP/1.1 600 Too far', 'HTTP/1.1 999', 'ICY 200 OK', 'HTTP/1.1  200 OK', 'HTTP/1.1 2OO OK', 'HTTP/1.1 200OK', 'HTTP/1.1 200 O\x01K', 'HTTP/1.1 200 OK\r\nX : y']) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => parseResponseHead(bad), MessageHeadError));
  }

  it('drops a reason phrase with controls when told to, but never accepts a bare CR or LF in it', () => {
    assert.equal(parseRelayedResponseHead('HTTP/1.1 200 O\x01K').reason, undefined);
    assert.throws(() => parseRelayedResponseHead('HTTP/1.1 200 O\rK'), /bare CR or LF/);
    assert.throws(() => parseRelayedResponseHead('HTTP/1.1 200 O\nX: y'), /bare CR or LF/);
  });
});

describe('list fields', () => {
  it('splits on commas and trims SP and HTAB only', () => {
    assert.deepEqual(listItems(' a ,\tb\t,, c'), ['a', 'b', '', 'c']);
    assert.deepEqual(listItems('chunked\xa0'), ['chunked\xa0']);
    assert.deepEqual(listItems(''), ['']);
  });

  it('finds a token in any of the fields of that name, case-insensitively', () => {
    const headers = [
      { name: 'connection', value: 'keep-alive' },
      { name: 'connection', value: 'Upgrade , TE' },
    ];
    assert.equal(fieldHasToken(headers, 'connection', 'upgrade'), true);
    assert.equal(fieldHasToken(headers, 'connection', 'te'), true);
    assert.equal(fieldHasToken(headers, 'connection', 'close'), false);
    assert.equal(fieldHasToken([{ name: 'connection', value: 'close\xa0' }], 'connection', 'close'), false);
  });
});
