/**
 * Decodes a chunked body in the canonical form the relays pass on (size CRLF data CRLF ... 0 CRLF CRLF: no chunk
 * extensions, no trailer fields), strictly: anything else throws, so a test that decodes what was passed on also
 * checks that it was canonical.
 */
export function decodeCanonicalChunked(bytes: Buffer): Buffer {
  const chunks: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    const sizeText = bytes.toString('latin1', at, lineEnd);
    if (lineEnd < 0 || !/^[0-9a-fA-F]{1,16}$/.test(sizeText)) throw new Error(`a non-canonical chunk-size line at ${at}`);
    const size = parseInt(sizeText, 16);
    if (size === 0) {
      if (lineEnd + 4 !== bytes.length || bytes.toString('latin1', lineEnd, lineEnd + 4) !== '\r\n\r\n') throw new Error('a trailer section, or bytes after the body');
      return Buffer.concat(chunks);
    }
    chunks.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    if (bytes.toString('latin1', lineEnd + 2 + size, lineEnd + 4 + size) !== '\r\n') throw new Error('chunk data without its CRLF');
    at = lineEnd + 4 + size;
  }
}
