// Tests how a body's length is decided from its head (RFC 9112 §6.3), and that ambiguous framing is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestBodyFraming, responseBodyFraming, type BodyFraming } from '../../src/http1/body-framing.js';
import { MessageHeadError } from '../../src/http1/message-head.js';

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
