// Tests the HTTP/1.x framing the intercepting relay relies on: heads parsed strictly, bodies followed to their
// exact end (Content-Length, chunked, until close) in any split of the bytes, and ambiguous framing refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestBodyFraming, responseBodyFraming, type BodyFraming } from '../../src/http1/body-framing.js';
import { MessageHeadError, parseRequestHead, parseResponseHead, type RequestHead, type ResponseHead } from '../../src/http1/message-head.js';
import { MessageScanner } from '../../src/http1/message-scanner.js';

interface Seen {
  heads: string[];
  body: Buffer[];
  ends: number[];
}

function requestScanner(): { scanner: MessageScanner<RequestHead>; seen: Seen } {
  const seen: Seen = { heads: [], body: [], ends: [] };
  const scanner = new MessageScanner<RequestHead>(parseRequestHead, {
    onHead: (head, raw) => {
      seen.heads.push(`${head.method} ${head.target} ${raw.length}`);
      return requestBodyFraming(head.minorVersion, head.headers);
    },
    onBody: (data) => seen.body.push(Buffer.from(data)),
    onMessageEnd: (bytes) => seen.ends.push(bytes),
  }, 16 * 1024);
  return { scanner, seen };
}

/** Feeds `wire` in pieces of `size` bytes. */
function feed(scanner: MessageScanner<unknown>, wire: Buffer, size: number): void {
  for (let i = 0; i < wire.length; i += size) scanner.push(wire.subarray(i, i + size));
}

const PIPELINE = Buffer.from(
  'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
    'POST /b?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\n' +
    '\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n',
);

describe('message scanner', () => {
  for (const size of [1, 2, 3, 7, 64, PIPELINE.length]) {
    it(`frames pipelined requests identically when fed ${size} byte(s) at a time`, () => {
      const { scanner, seen } = requestScanner();
      feed(scanner, PIPELINE, size);
      assert.deepEqual(seen.heads.map((h) => h.split(' ').slice(0, 2).join(' ')), ['POST /a', 'POST /b?q=1', 'GET /c']);
      assert.deepEqual(seen.ends, [5, 19, 0]);
      // Body bytes are passed on as they arrived, chunked framing included.
      assert.equal(Buffer.concat(seen.body).toString(), 'hello' + '3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\n');
      assert.equal(scanner.inMessage, false);
    });
  }

  it('stops where the listener says, leaving the rest unscanned', () => {
    const ends: number[] = [];
    const scanner: MessageScanner<ResponseHead> = new MessageScanner<ResponseHead>(parseResponseHead, {
      onHead: (head) => {
        if (head.statusCode === 101) scanner.stop();
        return responseBodyFraming('GET', head.statusCode, head.minorVersion, head.headers);
      },
      onBody: () => undefined,
      onMessageEnd: (bytes) => ends.push(bytes),
    }, 1024);
    const wire = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello', 'latin1');
    assert.equal(scanner.push(wire), wire.length - 7);
    assert.deepEqual(ends, [0]);
  });

  it('ends a close-delimited response at the connection end, and reports a cut-short message', () => {
    const ends: number[] = [];
    const scanner = new MessageScanner<ResponseHead>(parseResponseHead, {
      onHead: (head) => responseBodyFraming('GET', head.statusCode, head.minorVersion, head.headers),
      onBody: () => undefined,
      onMessageEnd: (bytes) => ends.push(bytes),
    }, 1024);
    scanner.push(Buffer.from('HTTP/1.0 200 OK\r\n\r\nuntil close'));
    assert.deepEqual(scanner.end(), { truncated: false });
    assert.deepEqual(ends, [11]);
    const { scanner: requests } = requestScanner();
    requests.push(Buffer.from('POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nhalf'));
    assert.deepEqual(requests.end(), { truncated: true });
  });

  it('refuses a head larger than the limit, even before its end arrives', () => {
    const { scanner } = requestScanner();
    assert.throws(() => scanner.push(Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(17_000)}`)), /head too large/);
  });

  for (const [name, body] of [
    ['a bare LF after the chunk size', '5\nhello\r\n0\r\n\r\n'],
    ['a non-hex chunk size', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['chunk data longer than its size', '2\r\nhello\r\n0\r\n\r\n'],
    ['an absurd chunk size', 'fffffffffffffff\r\n'],
  ] as const) {
    it(`refuses a chunked body with ${name}`, () => {
      const { scanner } = requestScanner();
      assert.throws(() => scanner.push(Buffer.from(`POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${body}`)), MessageHeadError);
    });
  }
});

describe('message heads', () => {
  it('parses a request head: method, target, version, lower-cased fields with trimmed values', () => {
    const head = parseRequestHead('POST /v1/write/metric?token=x HTTP/1.0\r\nHost: a.example\r\nX-Thing:  spaced value \t');
    assert.deepEqual(head, {
      method: 'POST',
      target: '/v1/write/metric?token=x',
      minorVersion: 0,
      headers: [{ name: 'host', value: 'a.example' }, { name: 'x-thing', value: 'spaced value' }],
    });
  });

  for (const [name, head] of [
    ['obs-fold', 'GET / HTTP/1.1\r\nX: a\r\n  folded'],
    ['whitespace before the colon', 'GET / HTTP/1.1\r\nContent-Length : 5'],
    ['a bare LF', 'GET / HTTP/1.1\nHost: a'],
    ['a bare CR in a value', 'GET / HTTP/1.1\r\nX: a\rb'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nX: a\x00b'],
    ['HTTP/2.0', 'GET / HTTP/2.0'],
    ['a space in the target', 'GET /a b HTTP/1.1'],
    ['a non-token method', 'G(T / HTTP/1.1'],
  ] as const) {
    it(`refuses a request head with ${name}`, () => assert.throws(() => parseRequestHead(head), MessageHeadError));
  }

  it('parses status lines with or without a reason, and refuses malformed ones', () => {
    assert.equal(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 0').statusCode, 200);
    assert.equal(parseResponseHead('HTTP/1.1 204').statusCode, 204);
    assert.equal(parseResponseHead('HTTP/1.1 404 ').statusCode, 404);
    for (const bad of ['HTTP/1.1 20 OK', 'HTTP/1.1 099 x', 'ICY 200 OK', 'HTTP/1.1 200 O\x01K']) {
      assert.throws(() => parseResponseHead(bad), MessageHeadError, bad);
    }
  });
});

describe('body framing (RFC 9112 §6.3)', () => {
  const h = (...fields: Array<[string, string]>) => fields.map(([name, value]) => ({ name, value }));
  const framing = (f: BodyFraming): string => (f.kind === 'length' ? `length ${f.bytes}` : f.kind);

  it('frames requests by chunked, by Content-Length, or as bodiless', () => {
    assert.equal(framing(requestBodyFraming(1, h(['transfer-encoding', 'gzip, chunked']))), 'chunked');
    assert.equal(framing(requestBodyFraming(1, h(['content-length', '172787']))), 'length 172787');
    assert.equal(framing(requestBodyFraming(1, h(['content-length', '0']))), 'none');
    assert.equal(framing(requestBodyFraming(1, h())), 'none');
  });

  for (const [name, fields] of [
    ['both Transfer-Encoding and Content-Length', [['transfer-encoding', 'chunked'], ['content-length', '5']]],
    ['a final coding other than chunked', [['transfer-encoding', 'chunked, gzip']]],
    ['chunked twice', [['transfer-encoding', 'chunked'], ['transfer-encoding', 'chunked']]],
    ['differing Content-Length values', [['content-length', '5'], ['content-length', '6']]],
    ['a signed Content-Length', [['content-length', '+5']]],
    ['a Content-Length list that disagrees', [['content-length', '5, 6']]],
    ['chunked followed by a non-breaking space', [['transfer-encoding', 'chunked\xa0']]],
    ['a Content-Length with a non-breaking space', [['content-length', '5\xa0'], ['content-length', '5']]],
    // Passed on unchanged, a list another parser may read differently (`,5` as 0): only one plain number passes.
    ['a Content-Length list with an empty item', [['content-length', ',5']]],
    ['a repeated Content-Length, even an identical one', [['content-length', '7'], ['content-length', '7']]],
    ['a Content-Length list of identical values', [['content-length', '7, 7']]],
  ] as const) {
    it(`refuses a request with ${name}`, () => {
      assert.throws(() => requestBodyFraming(1, h(...(fields as unknown as Array<[string, string]>))), MessageHeadError);
    });
  }

  it('refuses Transfer-Encoding in HTTP/1.0 messages, whose recipients may ignore it (RFC 9112 §6.1)', () => {
    assert.throws(() => requestBodyFraming(0, h(['transfer-encoding', 'chunked'])), /HTTP\/1\.0/);
    assert.throws(() => responseBodyFraming('GET', 200, 0, h(['transfer-encoding', 'chunked'])), /HTTP\/1\.0/);
    assert.equal(framing(requestBodyFraming(0, h(['content-length', '3']))), 'length 3');
  });

  it('frames responses by method and status first, then the fields, else until close', () => {
    assert.equal(framing(responseBodyFraming('HEAD', 200, 1, h(['content-length', '100']))), 'none');
    assert.equal(framing(responseBodyFraming('POST', 100, 1, h())), 'none');
    assert.equal(framing(responseBodyFraming('GET', 204, 1, h())), 'none');
    assert.equal(framing(responseBodyFraming('GET', 304, 1, h(['content-length', '100']))), 'none');
    assert.equal(framing(responseBodyFraming('GET', 200, 1, h(['transfer-encoding', 'chunked']))), 'chunked');
    assert.equal(framing(responseBodyFraming('GET', 200, 1, h(['transfer-encoding', 'gzip']))), 'close');
    assert.equal(framing(responseBodyFraming('GET', 200, 1, h(['content-length', '12']))), 'length 12');
    assert.equal(framing(responseBodyFraming('GET', 200, 1, h())), 'close');
    assert.throws(() => responseBodyFraming('GET', 200, 1, h(['transfer-encoding', 'chunked'], ['content-length', '3'])), MessageHeadError);
  });
});
