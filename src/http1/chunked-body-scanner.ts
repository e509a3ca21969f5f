/**
 * Follows a chunked body (RFC 9112 §7.1) byte by byte without decoding it, to find where it ends: the relay
 * passes the bytes on unchanged and only needs the boundary, and the count of data bytes for its records.
 * Strict CRLFs, bounded chunk-size, extension and trailer lengths: a body this scanner cannot follow is an error,
 * never a guess.
 */
import { MessageHeadError } from './message-head.js';

const enum State {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerLineStart,
  TrailerLine,
  TrailerLf,
  FinalLf,
  Done,
}

const CR = 0x0d;
const LF = 0x0a;
/** 13 hex digits: 2^52, still an exact integer in a double. */
const MAX_SIZE_DIGITS = 13;
const MAX_EXTENSION_BYTES = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;

export class ChunkedBodyScanner {
  #state = State.Size;
  #sizeDigits = 0;
  #chunkBytesLeft = 0;
  #extensionBytes = 0;
  #trailerBytes = 0;
  #dataBytes = 0;

  /** Chunk data bytes seen so far (the decoded body's length). */
  get dataBytes(): number {
    return this.#dataBytes;
  }

  get done(): boolean {
    return this.#state === State.Done;
  }

  /**
   * Scans `data` from `start`; returns the offset just past the body's last byte when the body ends inside
   * `data`, or `data.length` when all of it belongs to the body. Throws MessageHeadError on a malformed body.
   */
  scan(data: Buffer, start: number): number {
    let i = start;
    while (i < data.length && this.#state !== State.Done) {
      switch (this.#state) {
        case State.Data: {
          const take = Math.min(this.#chunkBytesLeft, data.length - i);
          this.#chunkBytesLeft -= take;
          this.#dataBytes += take;
          i += take;
          if (this.#chunkBytesLeft === 0) this.#state = State.DataCr;
          continue;
        }
        case State.Size: {
          const byte = data[i] as number;
          const digit = hexValue(byte);
          if (digit >= 0) {
            if (++this.#sizeDigits > MAX_SIZE_DIGITS) throw new MessageHeadError('chunk size too large');
            this.#chunkBytesLeft = this.#chunkBytesLeft * 16 + digit;
          } else if (this.#sizeDigits > 0 && (byte === 0x3b || byte === 0x20 || byte === 0x09)) {
            this.#state = State.Extension; // chunk-ext, or whitespace before it (BWS)
          } else if (this.#sizeDigits > 0 && byte === CR) {
            this.#state = State.SizeLf;
          } else {
            throw new MessageHeadError('invalid chunk size');
          }
          break;
        }
        case State.Extension: {
          const byte = data[i] as number;
          if (byte === CR) this.#state = State.SizeLf;
          else if (byte === LF || ++this.#extensionBytes > MAX_EXTENSION_BYTES) throw new MessageHeadError('invalid chunk extension');
          break;
        }
        case State.SizeLf:
          this.#expect(data[i], LF);
          this.#extensionBytes = 0;
          this.#sizeDigits = 0;
          this.#state = this.#chunkBytesLeft === 0 ? State.TrailerLineStart : State.Data;
          break;
        case State.DataCr:
          this.#expect(data[i], CR);
          this.#state = State.DataLf;
          break;
        case State.DataLf:
          this.#expect(data[i], LF);
          this.#state = State.Size;
          break;
        case State.TrailerLineStart:
          this.#state = data[i] === CR ? State.FinalLf : State.TrailerLine;
          if (this.#state === State.TrailerLine) this.#countTrailerByte(data[i]);
          break;
        case State.TrailerLine:
          if (data[i] === CR) this.#state = State.TrailerLf;
          else this.#countTrailerByte(data[i]);
          break;
        case State.TrailerLf:
          this.#expect(data[i], LF);
          this.#state = State.TrailerLineStart;
          break;
        case State.FinalLf:
          this.#expect(data[i], LF);
          this.#state = State.Done;
          break;
      }
      i++;
    }
    return i;
  }

  #expect(byte: number | undefined, expected: number): void {
    if (byte !== expected) throw new MessageHeadError('malformed chunked body');
  }

  #countTrailerByte(byte: number | undefined): void {
    if (byte === LF || ++this.#trailerBytes > MAX_TRAILER_BYTES) throw new MessageHeadError('invalid or oversized trailer section');
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}
