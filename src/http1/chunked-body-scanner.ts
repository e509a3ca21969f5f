/**
 * Follows a chunked body (RFC 9112 §7.1) byte by byte, validating it strictly, and hands on a canonical copy of
 * its framing: chunk data and sizes as they came, chunk extensions and the trailer section dropped. Everything it
 * passes on is what any parser reads alike, so an origin (or client) behind the relay cannot be made to see a
 * boundary we did not: `0\r\nGET /smuggled HTTP/1.1\r\n...` is refused (a request line is not a field line),
 * and a valid trailer section is read and dropped, never forwarded as it arrived.
 *
 * The grammar, as strict as llhttp's (its BWS handling: none at all) or stricter:
 *   chunk-size line = 1*16HEXDIG *( ";" token [ "=" ( token / quoted-string ) ] ) CRLF
 *   trailer line    = token ":" *( VCHAR / obs-text / SP / HTAB ) CRLF
 * Sizes, extensions and trailers are bounded. Why drop rather than pass on: chunk extensions are hop-by-hop (the
 * coding is a property of one connection, RFC 9112 §7) and a recipient must ignore those it does not know; RFC 9110
 * §6.5.1 lets an intermediary discard trailer fields. Squid does the same when it re-chunks.
 */
import { CR, hexDigitValue, LF, QDTEXT, QUOTED_PAIR_CHAR, TCHAR, FIELD_VALUE_CHAR } from './byte-classes.js';
import { MessageHeadError } from './message-head.js';

const enum State {
  SizeFirst,
  Size,
  ExtensionName,
  ExtensionNameRest,
  ExtensionValue,
  ExtensionToken,
  ExtensionQuoted,
  ExtensionQuotedPair,
  ExtensionAfterQuoted,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerLineStart,
  TrailerName,
  TrailerValue,
  TrailerLf,
  FinalLf,
  Done,
}

const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
/** Hex digits in one chunk-size, leading zeros included. */
const MAX_SIZE_DIGITS = 16;
/**
 * Chunk extension bytes in one message. Node bounds them at 16 KiB per chunk since CVE-2024-22019 (bytes that are
 * not body, which a reader must still count); we bound the whole message, as we drop them anyway.
 */
const MAX_EXTENSION_BYTES = 16 * 1024;
const MAX_TRAILER_BYTES = 16 * 1024;

/**
 * Fields that frame or route a message, which RFC 9110 §6.5.1 keeps out of trailers, and which llhttp acts on even
 * there (`Connection: close` in a trailer closes its connection; a Content-Length is an error): a message with one
 * is refused, though trailers are dropped, so that no reader behind us could ever see it another way.
 */
const FORBIDDEN_TRAILERS: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'keep-alive',
  'proxy-connection',
  'te',
  'host',
]);
const LONGEST_FORBIDDEN_TRAILER = Math.max(...[...FORBIDDEN_TRAILERS].map((name) => name.length));

/** Receives the bytes `data[from, to)` of the buffer being scanned, which the relay passes on. */
export type ChunkedOutput = (from: number, to: number) => void;

export class ChunkedBodyScanner {
  #state = State.SizeFirst;
  #sizeDigits = 0;
  #chunkBytesLeft = 0;
  #extensionBytes = 0;
  #trailerBytes = 0;
  /** The lower-cased name of the trailer field being read, as far as it can still be one of FORBIDDEN_TRAILERS. */
  #trailerName = '';
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
   * `data`, or `data.length` when all of it belongs to the body. The bytes to pass on go to `output`, in order, as
   * ranges of `data` (one range when the body is already canonical). Throws MessageHeadError on a malformed body;
   * what was output before the throw is canonical up to there.
   */
  scan(data: Buffer, start: number, output: ChunkedOutput): number {
    let i = start;
    /** Where the run of bytes being kept started, or -1 while bytes are being dropped. */
    let kept = this.#dropping() ? -1 : start;
    while (i < data.length && this.#state !== State.Done) {
      const state = this.#state;
      if (state === State.Data) {
        const take = Math.min(this.#chunkBytesLeft, data.length - i);
        this.#chunkBytesLeft -= take;
        this.#dataBytes += take;
        i += take;
        if (this.#chunkBytesLeft === 0) this.#state = State.DataCr;
        continue;
      }
      const byte = data[i] as number;
      switch (state) {
        case State.SizeFirst:
        case State.Size: {
          const digit = hexDigitValue(byte);
          if (digit >= 0) {
            if (++this.#sizeDigits > MAX_SIZE_DIGITS) throw new MessageHeadError('chunk size too large');
            this.#chunkBytesLeft = this.#chunkBytesLeft * 16 + digit;
            if (this.#chunkBytesLeft > Number.MAX_SAFE_INTEGER / 16) throw new MessageHeadError('chunk size too large');
            this.#state = State.Size;
          } else if (state === State.Size && byte === SEMICOLON) {
            // No whitespace before the `;` (llhttp refuses it; RFC 9112's BWS is only ever a lenient reading).
            this.#state = State.ExtensionName;
            if (kept < i) output(kept, i);
            kept = -1;
          } else if (state === State.Size && byte === CR) {
            this.#state = State.SizeLf;
          } else {
            throw new MessageHeadError('invalid chunk size');
          }
          break;
        }
        case State.ExtensionName:
          this.#countExtensionByte();
          if (TCHAR[byte] !== 1) throw new MessageHeadError('invalid chunk extension');
          this.#state = State.ExtensionNameRest;
          break;
        case State.ExtensionNameRest:
        case State.ExtensionToken:
        case State.ExtensionAfterQuoted:
          if (byte === CR) {
            this.#state = State.SizeLf;
            kept = i;
            break;
          }
          this.#countExtensionByte();
          if (byte === SEMICOLON) this.#state = State.ExtensionName;
          else if (byte === EQUALS && state === State.ExtensionNameRest) this.#state = State.ExtensionValue;
          else if (TCHAR[byte] !== 1 || state === State.ExtensionAfterQuoted) throw new MessageHeadError('invalid chunk extension');
          break;
        case State.ExtensionValue:
          this.#countExtensionByte();
          if (byte === QUOTE) this.#state = State.ExtensionQuoted;
          else if (TCHAR[byte] === 1) this.#state = State.ExtensionToken;
          else throw new MessageHeadError('invalid chunk extension');
          break;
        case State.ExtensionQuoted:
          this.#countExtensionByte();
          if (byte === QUOTE) this.#state = State.ExtensionAfterQuoted;
          else if (byte === BACKSLASH) this.#state = State.ExtensionQuotedPair;
          else if (QDTEXT[byte] !== 1) throw new MessageHeadError('invalid chunk extension');
          break;
        case State.ExtensionQuotedPair:
          this.#countExtensionByte();
          if (QUOTED_PAIR_CHAR[byte] !== 1) throw new MessageHeadError('invalid chunk extension');
          this.#state = State.ExtensionQuoted;
          break;
        case State.SizeLf:
          this.#expect(byte, LF);
          this.#sizeDigits = 0;
          this.#state = this.#chunkBytesLeft === 0 ? State.TrailerLineStart : State.Data;
          break;
        case State.DataCr:
          this.#expect(byte, CR);
          this.#state = State.DataLf;
          break;
        case State.DataLf:
          this.#expect(byte, LF);
          this.#state = State.SizeFirst;
          break;
        case State.TrailerLineStart:
          if (byte === CR) {
            this.#state = State.FinalLf;
            if (kept < 0) kept = i;
            break;
          }
          // A trailer field: read, checked and dropped.
          if (kept >= 0 && kept < i) output(kept, i);
          kept = -1;
          this.#countTrailerByte();
          // No obs-fold, no empty name (RFC 9112 §5.2, §5.1), as in the head.
          if (TCHAR[byte] !== 1) throw new MessageHeadError('invalid trailer field');
          this.#state = State.TrailerName;
          this.#trailerName = '';
          this.#addToTrailerName(byte);
          break;
        case State.TrailerName:
          this.#countTrailerByte();
          if (byte === COLON) {
            if (FORBIDDEN_TRAILERS.has(this.#trailerName)) throw new MessageHeadError('a trailer field that only a head may hold');
            this.#state = State.TrailerValue;
          } else if (TCHAR[byte] === 1) {
            this.#addToTrailerName(byte);
          } else {
            throw new MessageHeadError('invalid trailer field');
          }
          break;
        case State.TrailerValue:
          this.#countTrailerByte();
          if (byte === CR) this.#state = State.TrailerLf;
          else if (FIELD_VALUE_CHAR[byte] !== 1) throw new MessageHeadError('invalid trailer field');
          break;
        case State.TrailerLf:
          this.#countTrailerByte();
          this.#expect(byte, LF);
          this.#state = State.TrailerLineStart;
          break;
        case State.FinalLf:
          this.#expect(byte, LF);
          this.#state = State.Done;
          break;
      }
      i++;
    }
    if (kept >= 0 && kept < i) output(kept, i);
    return i;
  }

  /** Whether the next byte belongs to what is dropped (an extension or a trailer line). */
  #dropping(): boolean {
    switch (this.#state) {
      case State.ExtensionName:
      case State.ExtensionNameRest:
      case State.ExtensionValue:
      case State.ExtensionToken:
      case State.ExtensionQuoted:
      case State.ExtensionQuotedPair:
      case State.ExtensionAfterQuoted:
      case State.TrailerName:
      case State.TrailerValue:
      case State.TrailerLf:
        return true;
      case State.TrailerLineStart:
        // Decided by the byte itself: a CR is kept (the final line), anything else starts a dropped field.
        return true;
      default:
        return false;
    }
  }

  #addToTrailerName(byte: number): void {
    if (this.#trailerName.length <= LONGEST_FORBIDDEN_TRAILER) this.#trailerName += String.fromCharCode(byte | 0x20);
  }

  #expect(byte: number, expected: number): void {
    if (byte !== expected) throw new MessageHeadError('malformed chunked body');
  }

  #countExtensionByte(): void {
    if (++this.#extensionBytes > MAX_EXTENSION_BYTES) throw new MessageHeadError('chunk extensions too large');
  }

  #countTrailerByte(): void {
    if (++this.#trailerBytes > MAX_TRAILER_BYTES) throw new MessageHeadError('trailer section too large');
  }
}
