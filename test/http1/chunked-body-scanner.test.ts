// Tests the chunked body scanner (RFC 9112 §7.1): the strict chunk-size line and extension grammar, trailer fields
// checked and dropped, bounded sizes, and the canonical bytes it passes on, however the body is split.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkedBodyScanner } from '../../src/http1/chunked-body-scanner.js';
import { MessageHeadError } from '../../src/http1/message-head.js';

/** Scans `body` in pieces of `size` bytes; returns what was passed on, the decoded length and the bytes left over. */
function scan(body: string, size = body.length): { out: string; dataBytes: number; rest: string } {
  const scanner = new ChunkedBodyScanner();
  const wire = Buffer.from(body, 'latin1');
  let out = '';
  for (let i = 0; i < wire.length; i += size) {
    const piece = wire.subarray(i, Math.min(i + size, wire.length));
    const end = scanner.scan(piece, 0, (from, to) => {
      assert.ok(from < to, 'never an empty range');
      out += piece.toString('latin1', from, to);
    });
    if (scanner.done) return { out, dataBytes: scanner.dataBytes, rest: wire.toString('latin1', i + end) };
    assert.equal(end, piece.length);
  }
  throw new Error(`body did not end: passed on ${JSON.stringify(out)}`);
}

const SPLITS = [1, 2, 3, 5, 1000];

describe('chunked bodies passed on', () => {
  for (const [name, body, canonical, dataBytes] of [
    ['a canonical body', '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n', '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n', 11],
    ['upper- and lower-case hex, leading zeros', 'A\r\n0123456789\r\n0f\r\n0123456789abcde\r\n000\r\n\r\n', 'A\r\n0123456789\r\n0f\r\n0123456789abcde\r\n000\r\n\r\n', 25],
    ['extensions, dropped', '5;a=b;c\r\nhello\r\n1;q="x \\" y";r=s\r\n!\r\n0;last\r\n\r\n', '5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n', 6],
    ['an extension with obs-text in a quoted value', '1;a="caf\xe9"\r\nx\r\n0\r\n\r\n', '1\r\nx\r\n0\r\n\r\n', 1],
    ['trailer fields, dropped', '3\r\nabc\r\n0\r\nX-Checksum: 1234\r\nEmpty:\r\nObs: caf\xe9 \t\r\nContent-Length-Ish: 1\r\nHosts: x\r\n\r\n', '3\r\nabc\r\n0\r\n\r\n', 3],
    ['an empty body', '0\r\n\r\n', '0\r\n\r\n', 0],
  ] as const) {
    for (const size of SPLITS) {
      it(`passes on ${name} in canonical form (pieces of ${size})`, () => {
        const result = scan(body + 'NEXT', size);
        assert.equal(result.out, canonical);
        assert.equal(result.dataBytes, dataBytes);
        assert.equal(result.rest, 'NEXT');
      });
    }
  }
});

describe('chunked bodies refused', () => {
  for (const [name, body] of [
    // The request smuggled through a lenient origin's trailer reading (issue 9, behaviour 2).
    ['a request line in the trailer section', '1\r\na\r\n0\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['whitespace before a trailer field name', '0\r\n X: y\r\n\r\n'],
    // RFC 9110 §6.5.1; llhttp acts on these even in trailers (found by the differential test, test/conformance).
    ['a Content-Length trailer', '0\r\nContent-Length: 5\r\n\r\n'],
    ['a Transfer-Encoding trailer', '0\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['a Connection trailer', '0\r\nX: y\r\nCONNECTION: close\r\n\r\n'],
    ['a Host trailer', '0\r\nHost: elsewhere\r\n\r\n'],
    ['whitespace before a trailer colon', '0\r\nX : y\r\n\r\n'],
    ['an empty trailer field name', '0\r\n: y\r\n\r\n'],
    ['a trailer line without a colon', '0\r\nX\r\n\r\n'],
    ['a NUL in a trailer value', '0\r\nX: a\x00\r\n\r\n'],
    ['a bare LF ending a trailer line', '0\r\nX: y\n\r\n'],
    ['a bare LF ending the trailer section', '0\r\n\n'],
    ['a bare CR in a trailer value', '0\r\nX: a\rb\r\n\r\n'],
    ['junk after the size', '5x\r\nhello\r\n0\r\n\r\n'],
    ['a space after the size (llhttp: strict)', '5 \r\nhello\r\n0\r\n\r\n'],
    ['a space before the extension', '5 ;a=b\r\nhello\r\n0\r\n\r\n'],
    ['a tab before the extension', '5\t;a=b\r\nhello\r\n0\r\n\r\n'],
    ['a space after the semicolon', '5; a=b\r\nhello\r\n0\r\n\r\n'],
    ['a space before the equals sign', '5;a =b\r\nhello\r\n0\r\n\r\n'],
    ['a space after the equals sign', '5;a= b\r\nhello\r\n0\r\n\r\n'],
    ['a space after the extension value', '5;a=b \r\nhello\r\n0\r\n\r\n'],
    ['an empty extension', '5;\r\nhello\r\n0\r\n\r\n'],
    ['an empty extension name', '5;=b\r\nhello\r\n0\r\n\r\n'],
    ['two semicolons', '5;;a\r\nhello\r\n0\r\n\r\n'],
    ['an empty extension value', '5;a=\r\nhello\r\n0\r\n\r\n'],
    ['a NUL in an extension', '5;a\x00\r\nhello\r\n0\r\n\r\n'],
    ['a NUL in a quoted extension value', '5;a="\x00"\r\nhello\r\n0\r\n\r\n'],
    ['a control escaped in a quoted extension value', '5;a="\\\x01"\r\nhello\r\n0\r\n\r\n'],
    ['an unterminated quoted extension value', '5;a="bc\r\nhello\r\n0\r\n\r\n'],
    ['junk after a quoted extension value', '5;a="b"c\r\nhello\r\n0\r\n\r\n'],
    ['a quote inside a token extension value', '5;a=b"\r\nhello\r\n0\r\n\r\n'],
    ['a bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
    ['a bare LF after an extension', '5;a\nhello\r\n0\r\n\r\n'],
    ['a bare CR after the size', '5\rhello\r\n0\r\n\r\n'],
    ['a non-hex chunk size', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['a signed chunk size', '+5\r\nhello\r\n0\r\n\r\n'],
    ['a 0x prefix', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['an empty chunk size', '\r\nhello\r\n0\r\n\r\n'],
    ['a line that is only an extension', ';a=b\r\nhello\r\n0\r\n\r\n'],
    ['chunk data longer than its size', '2\r\nhello\r\n0\r\n\r\n'],
    ['chunk data shorter than its size', '9\r\nhello\r\n0\r\n\r\n'],
    ['chunk data ended by a bare LF', '5\r\nhello\n0\r\n\r\n'],
    ['an absurd chunk size', 'fffffffffffffff\r\n'],
    ['seventeen size digits, even zeros', '00000000000000005\r\nhello\r\n0\r\n\r\n'],
  ] as const) {
    for (const size of [1, 1000]) {
      it(`refuses ${name} (pieces of ${size})`, () => assert.throws(() => scan(body, size), MessageHeadError));
    }
  }

  it('bounds the extension bytes of a message and the size of its trailer section', () => {
    const manyExtensions = `1;${'e'.repeat(10_000)}\r\na\r\n1;${'e'.repeat(10_000)}\r\na\r\n0\r\n\r\n`;
    assert.throws(() => scan(manyExtensions), /chunk extensions too large/);
    const bigTrailers = `0\r\n${`X: ${'v'.repeat(1000)}\r\n`.repeat(20)}\r\n`;
    assert.throws(() => scan(bigTrailers), /trailer section too large/);
    // Just under both bounds is fine.
    assert.equal(scan(`1;${'e'.repeat(16_000)}\r\na\r\n0\r\nX: ${'v'.repeat(16_000)}\r\n\r\n`).out, '1\r\na\r\n0\r\n\r\n');
  });
});
