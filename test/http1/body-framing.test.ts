// Tests how a body's length is decided from its head (RFC 9112 §6.3), and that every ambiguous or unsupported
// framing is refused: 400 (MessageHeadError) or 501 (UnsupportedTransferCodingError) for requests, 502 for
// responses (MessageHeadError, which the relays answer with 502).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnsupportedTransferCodingError } from '../../src/errors.js';
import { requestBodyFraming, responseBodyFraming, type BodyFraming } from '../../src/http1/body-framing.js';
import { MessageHeadError } from '../../src/http1/message-head.js';

const h = (...fields: Array<readonly [string, string]>) => fields.map(([name, value]) => ({ name, value }));
const framing = (f: BodyFraming): string => (f.kind === 'length' ? `length ${f.bytes}` : f.kind);

describe('request framing', () => {
  it('frames by chunked alone, by Content-Length, or as bodiless', () => {
    assert.equal(framing(requestBodyFraming(1, h(['transfer-encoding', 'chunked']))), 'chunked');
    assert.equal(framing(requestBodyFraming(1, h(['transfer-encoding', 'Chunked']))), 'chunked');
    assert.equal(framing(requestBodyFraming(1, h(['transfer-encoding', ' CHUNKED\t']))), 'chunked');
    assert.equal(framing(requestBodyFraming(1, h(['content-length', '172787']))), 'length 172787');
    assert.equal(framing(requestBodyFraming(1, h(['content-length', '007']))), 'length 7');
    assert.equal(framing(requestBodyFraming(1, h(['content-length', '999999999999999']))), 'length 999999999999999');
    assert.equal(framing(requestBodyFraming(1, h(['content-length', '0']))), 'none');
    assert.equal(framing(requestBodyFraming(1, h())), 'none');
    assert.equal(framing(requestBodyFraming(0, h(['content-length', '3']))), 'length 3');
  });

  // RFC 9112 §6.1: codings the server does not apply are a 501 (squid: "unsupported Transfer-Encoding").
  for (const value of ['gzip, chunked', 'identity, chunked', 'deflate,chunked', 'x-custom ,\tchunked']) {
    it(`answers Transfer-Encoding: ${value} with 501`, () => {
      assert.throws(() => requestBodyFraming(1, h(['transfer-encoding', value])), UnsupportedTransferCodingError);
    });
  }

  for (const [name, fields, version] of [
    ['both Transfer-Encoding and Content-Length', [['transfer-encoding', 'chunked'], ['content-length', '5']]],
    ['both, with Content-Length first', [['content-length', '5'], ['transfer-encoding', 'chunked']]],
    ['a final coding other than chunked', [['transfer-encoding', 'chunked, gzip']]],
    ['a single coding other than chunked (§6.3 item 4)', [['transfer-encoding', 'gzip']]],
    ['identity alone (no longer a coding)', [['transfer-encoding', 'identity']]],
    ['chunked twice in one field', [['transfer-encoding', 'chunked, chunked']]],
    ['chunked in two fields', [['transfer-encoding', 'chunked'], ['transfer-encoding', 'chunked']]],
    ['two Transfer-Encoding fields of different codings', [['transfer-encoding', 'gzip'], ['transfer-encoding', 'chunked']]],
    ['a trailing comma', [['transfer-encoding', 'chunked,']]],
    ['a leading comma', [['transfer-encoding', ',chunked']]],
    ['an empty item', [['transfer-encoding', 'gzip,,chunked']]],
    ['an empty Transfer-Encoding', [['transfer-encoding', '']]],
    ['a coding with parameters', [['transfer-encoding', 'chunked;q=1']]],
    ['chunked followed by a non-breaking space', [['transfer-encoding', 'chunked\xa0']]],
    ['chunked followed by a vertical tab', [['transfer-encoding', 'chunked\x0b']]],
    ['a lookalike coding', [['transfer-encoding', 'xchunked']]],
    ['a quoted coding', [['transfer-encoding', '"chunked"']]],
    ['Transfer-Encoding in HTTP/1.0', [['transfer-encoding', 'chunked']], 0],
    ['differing Content-Length values', [['content-length', '5'], ['content-length', '6']]],
    ['a signed Content-Length', [['content-length', '+5']]],
    ['a negative Content-Length', [['content-length', '-1']]],
    ['a hexadecimal Content-Length', [['content-length', '0x5']]],
    ['a Content-Length with a fraction', [['content-length', '5.0']]],
    ['an empty Content-Length', [['content-length', '']]],
    ['a Content-Length beyond 15 digits', [['content-length', '1000000000000000']]],
    ['a 64-bit overflowing Content-Length', [['content-length', '18446744073709551617']]],
    ['a Content-Length list that disagrees', [['content-length', '5, 6']]],
    ['a Content-Length with a non-breaking space', [['content-length', '5\xa0'], ['content-length', '5']]],
    // Passed on unchanged, a list another parser may read differently (`,5` as 0): only one plain number passes.
    ['a Content-Length list with an empty item', [['content-length', ',5']]],
    ['a repeated Content-Length, even an identical one', [['content-length', '7'], ['content-length', '7']]],
    ['a Content-Length list of identical values', [['content-length', '7, 7']]],
    ['two numbers separated by a space', [['content-length', '7 7']]],
    // aws/http-desync-guardian (ambiguous.yaml): CGI-style servers read `_` as `-`.
    ['a Content_Length field', [['content_length', '5']]],
    ['a Transfer_Encoding field', [['transfer_encoding', 'chunked']]],
  ] as ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, string]>, number?]>) {
    it(`refuses a request with ${name} (400)`, () => {
      assert.throws(
        () => requestBodyFraming(version ?? 1, h(...fields)),
        (err: unknown) => err instanceof MessageHeadError,
      );
    });
  }
});

describe('response framing', () => {
  it('frames by method and status first, then the fields, else until close', () => {
    assert.equal(framing(responseBodyFraming('HEAD', 200, 1, h(['content-length', '100']))), 'none');
    assert.equal(framing(responseBodyFraming('POST', 100, 1, h())), 'none');
    assert.equal(framing(responseBodyFraming('GET', 204, 1, h())), 'none');
    assert.equal(framing(responseBodyFraming('GET', 304, 1, h(['content-length', '100']))), 'none');
    assert.equal(framing(responseBodyFraming('GET', 200, 1, h(['transfer-encoding', 'chunked']))), 'chunked');
    assert.equal(framing(responseBodyFraming('GET', 200, 1, h(['content-length', '12']))), 'length 12');
    assert.equal(framing(responseBodyFraming('GET', 200, 1, h())), 'close');
    assert.equal(framing(responseBodyFraming('GET', 200, 0, h())), 'close');
    // A Content_Length field means nothing to clients; only requests reach CGI-style servers.
    assert.equal(framing(responseBodyFraming('GET', 200, 1, h(['content_length', '3']))), 'close');
  });

  for (const [name, fields, version] of [
    ['both Transfer-Encoding and Content-Length', [['transfer-encoding', 'chunked'], ['content-length', '3']], 1],
    ['a coding we do not apply before chunked', [['transfer-encoding', 'gzip, chunked']], 1],
    ['a coding other than chunked, which would end at the close', [['transfer-encoding', 'gzip']], 1],
    ['chunked twice', [['transfer-encoding', 'chunked, chunked']], 1],
    ['two Transfer-Encoding fields', [['transfer-encoding', 'chunked'], ['transfer-encoding', 'chunked']], 1],
    ['a trailing comma', [['transfer-encoding', 'chunked,']], 1],
    ['Transfer-Encoding in HTTP/1.0', [['transfer-encoding', 'chunked']], 0],
    ['two Content-Length fields', [['content-length', '3'], ['content-length', '3']], 1],
    ['a signed Content-Length', [['content-length', '+3']], 1],
  ] as ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, string]>, number]>) {
    it(`refuses a response with ${name} (502), even where it can have no body`, () => {
      for (const [method, status] of [['GET', 200], ['HEAD', 200], ['GET', 204], ['GET', 304], ['GET', 103]] as const) {
        assert.throws(() => responseBodyFraming(method, status, version, h(...fields)), (err: unknown) => err instanceof MessageHeadError, `${method} ${status}`);
      }
    });
  }

  // llhttp takes either for the last response on the connection and refuses the final response after it.
  it('refuses an interim response in HTTP/1.0 or with Connection: close', () => {
    assert.throws(() => responseBodyFraming('GET', 100, 0, h()), /interim/);
    assert.throws(() => responseBodyFraming('GET', 103, 1, h(['connection', 'close'])), /interim/);
    assert.equal(framing(responseBodyFraming('GET', 103, 1, h(['link', '</a>; rel=preload']))), 'none');
  });
});
