// Tests two edges of the head parser found by review: a relayed reason phrase and a head given as text only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRelayedResponseHead, parseRequestHead, parseResponseHead } from '../../src/http1/message-head.js';

describe('a relayed reason phrase', () => {
  // A phrase with a control character is dropped (the relay writes the standard one), but a bare CR or LF anywhere
  // in it is refused, also after that control: a parser that ends lines at LF would read what follows as a field
  // (`HTTP/1.1 200 OK\x01\nContent-Length: 5` was accepted before 415a1b5, the Content-Length read as reason).
  for (const head of [
    'HTTP/1.1 200 OK\x01\nContent-Length: 5\r\nConnection: close',
    'HTTP/1.1 200 O\x01K\rX\r\nA: b',
    'HTTP/1.1 204 \x7f\r',
    'HTTP/1.1 100 \x00\n',
  ]) {
    it(`refuses ${JSON.stringify(head)}`, () => assert.throws(() => parseRelayedResponseHead(head), /bare CR or LF/));
  }

  it('still drops a phrase with a control and no line end in it', () => {
    assert.equal(parseRelayedResponseHead('HTTP/1.1 200 O\x01K\r\nA: b').reason, undefined);
  });
});

describe('a head given as text only', () => {
  // Its bytes are its latin1 encoding, which would keep only the low byte of U+0161 (0x61, `a`, a tchar) or U+012F
  // (0x2f, `/`): the parse must refuse such text, not check the truncated bytes.
  for (const [what, parse] of [
    ['a field name', () => parseRequestHead('GET / HTTP/1.1\r\nX\u0161: v')],
    ['a request target', () => parseRequestHead('GET /\u012f HTTP/1.1')],
    ['a reason phrase', () => parseResponseHead('HTTP/1.1 200 O\u0161K')],
  ] as const) {
    it(`refuses a character above U+00FF in ${what}`, () => assert.throws(parse, /outside latin1/));
  }

  it('accepts latin1 text (obs-text in a value) as before', () => {
    assert.equal(parseRequestHead('GET / HTTP/1.1\r\nX: caf\u00e9').headers[0]?.value, 'caf\u00e9');
  });
});
