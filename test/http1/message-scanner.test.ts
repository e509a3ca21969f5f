// Tests the HTTP/1.x framing both relays rely on: bodies followed to their exact end (Content-Length, chunked,
// until close) in any split of the bytes, chunked bodies passed on in canonical form, heads that span reads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestBodyFraming, responseBodyFraming } from '../../src/http1/body-framing.js';
import { MessageHeadError, parseRequestHead, parseResponseHead, type RequestHead, type ResponseHead } from '../../src/http1/message-head.js';
import { MessageScanner } from '../../src/http1/message-scanner.js';

interface Seen {
  heads: string[];
  body: Buffer[];
  ends: number[];
}

function requestScanner(): { scanner: MessageScanner<RequestHead>; seen: Seen } {
  const seen: Seen = { heads: [], body: [], ends: [] };
  let headBytes = 0;
  const parse = (text: string, bytes: Buffer, offset: number): RequestHead => {
    // The head's length with its blank line.
    headBytes = text.length + 4;
    return parseRequestHead(text, bytes, offset);
  };
  const scanner = new MessageScanner<RequestHead>(parse, {
    onHead: (head) => {
      seen.heads.push(`${head.method} ${head.target} ${headBytes}`);
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
      // Body bytes are passed on as they arrived, chunked framing included, but for the chunk extension and the
      // trailer field, which are dropped.
      assert.equal(Buffer.concat(seen.body).toString(), 'hello' + '3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n');
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

  it('gathers a head that arrives in pieces, after empty lines split anywhere, and parses its text and bytes intact', () => {
    const raws: string[] = [];
    const bodies: Buffer[] = [];
    const parse = (text: string, bytes: Buffer, offset: number): RequestHead => {
      // The parser reads the bytes and slices the text: they must be the same head.
      assert.equal(bytes.toString('latin1', offset, offset + text.length), text);
      raws.push(`${text}\r\n\r\n`);
      return parseRequestHead(text, bytes, offset);
    };
    const scanner = new MessageScanner<RequestHead>(parse, {
      onHead: (head) => requestBodyFraming(head.minorVersion, head.headers),
      onBody: (data) => bodies.push(Buffer.from(data)),
      onMessageEnd: () => undefined,
    }, 16 * 1024);
    const first = `POST /a HTTP/1.1\r\nX: ${'x'.repeat(3000)}\r\nContent-Length: 3\r\n\r\n`;
    const second = 'GET /b HTTP/1.1\r\nHost: h\r\n\r\n';
    const wire = Buffer.from(`\r\n\r${'\n'}${first}abc\r\n${second}`);
    for (const size of [1, 5, 1000]) {
      raws.length = 0;
      bodies.length = 0;
      feed(scanner, wire, size);
      assert.deepEqual(raws, [first, second], `pieces of ${size}`);
      assert.equal(Buffer.concat(bodies).toString(), 'abc');
      assert.equal(scanner.inMessage, false);
    }
  });

  it('refuses a head that outgrows the limit a byte at a time, and one whose lines end in a bare LF', () => {
    const { scanner } = requestScanner();
    const wire = Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(17_000)}`);
    assert.throws(() => feed(scanner, wire, 1), /head too large/);
    const { scanner: bare } = requestScanner();
    assert.throws(() => feed(bare, Buffer.from('GET / HTTP/1.1\nHost: x\n'), 1), /bare CR or LF/);
  });

  it('passes a canonical chunked body on as the very buffer pushed, in one piece', () => {
    const pieces: Buffer[] = [];
    const scanner = new MessageScanner<RequestHead>(parseRequestHead, {
      onHead: (head) => requestBodyFraming(head.minorVersion, head.headers),
      onBody: (data) => pieces.push(data),
      onMessageEnd: () => undefined,
    }, 1024);
    scanner.push(Buffer.from('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'));
    const body = Buffer.from('5\r\nhello\r\n0\r\n\r\n');
    scanner.push(body);
    assert.equal(pieces.length, 1);
    assert.equal(pieces[0], body);
  });
});
