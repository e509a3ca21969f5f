/**
 * The few DER (X.690) building blocks a leaf certificate needs, and a reader that finds elements by position.
 * Minting leaves with them takes ~0.1 ms of CPU; the generic ASN.1 schema library took ~10 ms per leaf on the
 * event loop, and leaves are minted while a client waits in its handshake.
 */

/** A tag-length-value element. */
export function derElement(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export const derSequence = (...items: Uint8Array[]): Buffer => derElement(0x30, Buffer.concat(items));
export const derSet = (...items: Uint8Array[]): Buffer => derElement(0x31, Buffer.concat(items));
export const derOctetString = (bytes: Uint8Array): Buffer => derElement(0x04, bytes);
export const derUtf8String = (text: string): Buffer => derElement(0x0c, Buffer.from(text, 'utf8'));
export const derNull = (): Buffer => Buffer.from([0x05, 0x00]);
export const derTrue = (): Buffer => Buffer.from([0x01, 0x01, 0xff]);

/** BIT STRING with no unused bits (signatures, whole-byte values). */
export const derBitString = (bytes: Uint8Array): Buffer => derElement(0x03, Buffer.concat([Buffer.from([0]), bytes]));

/** Context-specific tag `[n]`: constructed for EXPLICIT wrappers, primitive for IMPLICIT strings. */
export function derContext(n: number, constructed: boolean, content: Uint8Array): Buffer {
  return derElement(0x80 | (constructed ? 0x20 : 0) | n, content);
}

/** INTEGER from unsigned big-endian bytes, minimal and positive as DER requires. */
export function derUnsignedInteger(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  const trimmed = bytes.subarray(start);
  const content = (trimmed[0] ?? 0) >= 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return derElement(0x02, content.length === 0 ? Buffer.from([0]) : content);
}

/** OBJECT IDENTIFIER from dotted text. */
export function derOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const groups = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) groups.unshift(0x80 | (value & 0x7f));
    bytes.push(...groups);
  }
  return derElement(0x06, Buffer.from(bytes));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; always seconds and `Z`. */
export function derTime(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-11-25T08:46:27.123Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, ''); // 20261125084627
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return derElement(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii'));
  return derElement(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

/** One element found by `derChildren`: its whole encoding and its content. */
export interface DerNode {
  tag: number;
  encoded: Buffer;
  content: Buffer;
}

/** The elements directly inside a constructed element's content. Throws on truncated or indefinite lengths. */
export function derChildren(content: Buffer): DerNode[] {
  const nodes: DerNode[] = [];
  let offset = 0;
  while (offset < content.length) {
    const tag = content[offset] ?? 0;
    let lengthByte = content[offset + 1];
    if (lengthByte === undefined) throw new Error('truncated DER element');
    let headerLength = 2;
    let length = lengthByte;
    if (lengthByte >= 0x80) {
      const count = lengthByte & 0x7f;
      if (count === 0 || count > 4) throw new Error('unsupported DER length');
      length = 0;
      for (let i = 0; i < count; i += 1) {
        lengthByte = content[offset + 2 + i];
        if (lengthByte === undefined) throw new Error('truncated DER length');
        length = length * 256 + lengthByte;
      }
      headerLength += count;
    }
    const end = offset + headerLength + length;
    if (end > content.length) throw new Error('truncated DER element');
    nodes.push({ tag, encoded: content.subarray(offset, end), content: content.subarray(offset + headerLength, end) });
    offset = end;
  }
  return nodes;
}
