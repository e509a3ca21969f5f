/**
 * Generates HTTP/1.1 request streams and responses for the differential test: mostly well-formed messages with the
 * variety real peers send (pipelining, Content-Length, chunked bodies with extensions and trailers, OWS, obs-text),
 * some built with one of the framing tricks of published desync research, then mutated at the byte level.
 * Everything comes from a SeededRandom, so a seed names a case list.
 */
import type { SeededRandom } from './seeded-random.js';

/** Methods llhttp knows and treats alike for framing (not CONNECT, which it reads as a tunnel). */
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const;
const TARGETS = ['/', '/v1/write/metric?token=tkn_0a1b', '/a?b=c&d', 'http://origin.test/p?q', '/%20x', "/a;b,c'd", '/~user/!$&()*+'];
const FIELD_LINES = [
  'Accept: */*',
  'User-Agent: datakit-1.84.1',
  'X-Points:12',
  'X-Spaced:   value with spaces   ',
  'X-Tab:\tv\t',
  'Empty:',
  'Obs-Text: caf\xe9',
  'Content-Type: application/json; charset=utf-8',
  'Connection: keep-alive',
  'x-lower: v',
];
const BODY_PIECES = ['hello', '0\r\n\r\n', 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n', '\r\n', '\x00\xff', '{"a":1}', 'Content-Length: 5\r\n'];
const TE_VALUES = ['chunked', 'Chunked', ' chunked ', 'CHUNKED', '\tchunked'];
const TE_NAMES = ['Transfer-Encoding', 'transfer-encoding', 'TRANSFER-ENCODING'];
const CL_NAMES = ['Content-Length', 'content-length'];
const EXTENSIONS = ['', '', '', ';a', ';a=b', ';name="quoted value"', ';n="\\"esc\\""', ';a;b=c', ';x=\xe9' /* not a token */];
const TRAILERS = ['X-Checksum: 1234', 'Empty:', 'T:\tv ', 'Obs: \xe9'];

/**
 * Framing tricks from published request smuggling research (Linhart et al. 2005, Kettle 2019-2022, aws/http-desync-
 * guardian's cases, llhttp's tests), as field lines or body prefixes; most must be refused, some are legitimate.
 */
const TRICK_FIELDS = [
  'Content-Length: 5\r\nTransfer-Encoding: chunked',
  'Transfer-Encoding: chunked\r\nContent-Length: 5',
  'Content-Length: 5\r\nContent-Length: 6',
  'Content-Length: 5, 5',
  'Content-Length: +5',
  'Content-Length:5 ',
  'Content-Length : 5',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding: chunked, identity',
  'Transfer-Encoding: chunked,',
  'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
  'Transfer-Encoding: xchunked',
  'Transfer-Encoding:\x0bchunked',
  'Transfer-Encoding: chunked\r\n foo',
  'Transfer_Encoding: chunked',
  'X: y\nTransfer-Encoding: chunked',
  'X: y\rTransfer-Encoding: chunked',
  ' Transfer-Encoding: chunked',
  'Transfer-Encoding\t: chunked',
  'Connection: close',
  'Connection: Content-Length',
];

/** Bytes for mutations: every class of character the grammar treats specially. */
const INTERESTING = [' ', '\t', '\r', '\n', '\x00', '\x0b', '\x0c', '\x7f', '\x80', '\xa0', '\xff', ';', ',', '"', '\\', ':', '=', '0', '1', '9', 'a', 'f', 'F', 'z', '-', '_', '/', '.', 'x', '+'];
const SNIPPETS = ['Transfer-Encoding: chunked\r\n', 'Content-Length: 0\r\n', 'Content-Length: 5\r\n', ' ', '\t', '0\r\n\r\n', 'GET /x HTTP/1.1\r\n\r\n', '\r\n', ';ext', '\r\n\r\n'];

export interface GeneratedRequests {
  bytes: Buffer;
  /** What was done to it, for the failure message. */
  recipe: string[];
}

export interface GeneratedResponse {
  /** The method of the request this response answers. */
  method: 'GET' | 'HEAD' | 'POST';
  bytes: Buffer;
  recipe: string[];
}

export function generateRequests(random: SeededRandom): GeneratedRequests {
  const recipe: string[] = [];
  let text = '';
  const count = random.int(1, 3);
  for (let i = 0; i < count; i++) {
    if (random.chance(0.1)) text += '\r\n';
    const method = random.pick(METHODS);
    const target = method === 'OPTIONS' && random.chance(0.3) ? '*' : random.pick(TARGETS);
    const version = random.chance(0.1) ? '1.0' : '1.1';
    text += `${method} ${target} HTTP/${version}\r\n`;
    if (random.chance(0.8)) text += 'Host: origin.test\r\n';
    text += fields(random) + framedBody(random, recipe, version === '1.1' && method !== 'HEAD');
  }
  return { bytes: mutate(random, Buffer.from(text, 'latin1'), recipe), recipe };
}

export function generateResponse(random: SeededRandom): GeneratedResponse {
  const recipe: string[] = [];
  const method = random.pick(['GET', 'GET', 'GET', 'HEAD', 'POST'] as const);
  let text = '';
  for (let i = random.chance(0.2) ? random.int(1, 2) : 0; i > 0; i--) {
    text += `HTTP/1.1 ${random.pick(['100 Continue', '102 Processing', '103 Early Hints'])}\r\n${random.chance(0.5) ? 'Link: </a>; rel=preload\r\n' : ''}\r\n`;
  }
  const status = random.pick([200, 200, 200, 201, 204, 206, 301, 304, 404, 500, 503, 599, random.int(200, 599)]);
  const reason = random.pick([' OK', ' Reason With Words', ' ', '', ' caf\xe9', ' \t']);
  const version = random.chance(0.1) ? '1.0' : '1.1';
  text += `HTTP/${version} ${status}${reason}\r\n` + fields(random);
  text += framedBody(random, recipe, version === '1.1', true);
  return { method, bytes: mutate(random, Buffer.from(text, 'latin1'), recipe), recipe };
}

function fields(random: SeededRandom): string {
  let text = '';
  for (let i = random.int(0, 4); i > 0; i--) text += `${random.pick(FIELD_LINES)}\r\n`;
  return text;
}

/** Framing fields, the blank line and a body (or a framing trick and a body that may or may not fit it). */
function framedBody(random: SeededRandom, recipe: string[], chunkedAllowed: boolean, response = false): string {
  const body = bodyText(random);
  if (random.chance(0.12)) {
    const trick = random.pick(TRICK_FIELDS);
    recipe.push(`trick ${JSON.stringify(trick)}`);
    return `${trick}\r\n\r\n${random.chance(0.5) ? chunkedBody(random, body) : body}`;
  }
  const kind = random.pick(response ? ['none', 'length', 'chunked', 'close'] : ['none', 'length', 'chunked']);
  if (kind === 'length' || (kind === 'chunked' && !chunkedAllowed)) {
    const value = random.chance(0.1) ? `00${body.length}` : String(body.length);
    return `${random.pick(CL_NAMES)}:${random.pick([' ', '', '  '])}${value}${random.pick(['', ' ', '\t'])}\r\n\r\n${body}`;
  }
  if (kind === 'chunked') return `${random.pick(TE_NAMES)}: ${random.pick(TE_VALUES)}\r\n\r\n${chunkedBody(random, body)}`;
  // 'none' for requests; for responses, 'close' and 'none' both mean a body that runs until the close.
  return `\r\n${kind === 'close' ? body : ''}`;
}

function bodyText(random: SeededRandom): string {
  let body = '';
  for (let i = random.int(0, 3); i > 0; i--) body += random.pick(BODY_PIECES);
  return body;
}

function chunkedBody(random: SeededRandom, body: string): string {
  let text = '';
  let at = 0;
  while (at < body.length) {
    const size = Math.min(body.length - at, random.int(1, 12));
    const hex = size.toString(16);
    text += `${random.chance(0.1) ? '0' : ''}${random.chance(0.5) ? hex : hex.toUpperCase()}${random.pick(EXTENSIONS)}\r\n${body.slice(at, at + size)}\r\n`;
    at += size;
  }
  text += `0${random.pick(EXTENSIONS)}\r\n`;
  for (let i = random.chance(0.3) ? random.int(1, 2) : 0; i > 0; i--) text += `${random.pick(TRAILERS)}\r\n`;
  return `${text}\r\n`;
}

/** Applies 0-3 byte-level mutations (60% of cases get at least one). */
function mutate(random: SeededRandom, bytes: Buffer, recipe: string[]): Buffer {
  if (!random.chance(0.6)) return bytes;
  let text = bytes.toString('latin1');
  for (let i = random.int(1, 3); i > 0; i--) {
    const at = random.int(0, text.length);
    const op = random.int(0, 6);
    switch (op) {
      case 0: {
        const inserted = random.pick(INTERESTING);
        text = text.slice(0, at) + inserted + text.slice(at);
        recipe.push(`insert ${JSON.stringify(inserted)} at ${at}`);
        break;
      }
      case 1:
        text = text.slice(0, at) + text.slice(at + 1);
        recipe.push(`delete at ${at}`);
        break;
      case 2: {
        const replacement = random.pick(INTERESTING);
        text = text.slice(0, at) + replacement + text.slice(at + 1);
        recipe.push(`replace at ${at} by ${JSON.stringify(replacement)}`);
        break;
      }
      case 3: {
        // Duplicate the line that holds `at`.
        const start = text.lastIndexOf('\r\n', at - 1) + 2;
        const end = text.indexOf('\r\n', at);
        if (start >= 2 && end > start) text = text.slice(0, end + 2) + text.slice(start, end + 2) + text.slice(end + 2);
        recipe.push(`duplicate the line at ${at}`);
        break;
      }
      case 4: {
        const code = text.charCodeAt(at);
        const swapped = code >= 0x61 && code <= 0x7a ? code - 0x20 : code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
        text = text.slice(0, at) + String.fromCharCode(swapped) + text.slice(at + 1);
        recipe.push(`swap case at ${at}`);
        break;
      }
      case 5: {
        const snippet = random.pick(SNIPPETS);
        const lineStart = text.lastIndexOf('\r\n', at - 1) + 2;
        text = text.slice(0, lineStart) + snippet + text.slice(lineStart);
        recipe.push(`insert ${JSON.stringify(snippet)} at ${lineStart}`);
        break;
      }
      default:
        text = text.slice(0, at);
        recipe.push(`truncate at ${at}`);
        break;
    }
  }
  return Buffer.from(text, 'latin1');
}
