/**
 * Splits one direction of an HTTP/1.x connection into messages as its bytes go by: heads are parsed, bodies are
 * followed (Content-Length, chunked, or until close) and handed on as the bytes that arrived, except that a chunked
 * body's extensions and trailer section are dropped (chunked-body-scanner.ts). The listener decides each body's
 * framing from the head, because a response's depends on the request it answers.
 *
 * Linear time in the bytes pushed, however they are split: a head that arrives a byte at a time is gathered in a
 * buffer that grows by doubling, not copied again on every push.
 */
import type { BodyFraming } from './body-framing.js';
import { CR, LF } from './byte-classes.js';
import { ChunkedBodyScanner } from './chunked-body-scanner.js';
import { HeadTooLargeError, MessageHeadError } from './message-head.js';

/**
 * Parses a head: `text` is its latin1 text without the final blank line, and `bytes` from `offset` on hold the same
 * bytes (message-head.ts reads the bytes, and slices its strings from the text).
 */
export type HeadParser<Head> = (text: string, bytes: Buffer, offset: number) => Head;

export interface MessageListener<Head> {
  /** A complete head. Throws MessageHeadError to refuse it. */
  onHead(head: Head): BodyFraming;
  /**
   * Body bytes to pass on, a view of the pushed buffer: as they arrived, chunked framing included, but for a chunked
   * body's extensions and trailer fields, which are left out.
   */
  onBody(data: Buffer): void;
  /** The message ended; `bodyBytes` is its decoded body length. */
  onMessageEnd(bodyBytes: number): void;
}

/** Node's own limit for a message head (its `maxHeaderSize`): what the relays allow before answering 431 / 502. */
export const MAX_HEAD_BYTES = 16 * 1024;

const HEAD_END = Buffer.from('\r\n\r\n');
/** First size of the buffer for a head that spans reads. */
const INITIAL_HEAD_BUFFER = 1024;

export class MessageScanner<Head> {
  readonly #parseHead: HeadParser<Head>;
  readonly #listener: MessageListener<Head>;
  readonly #maxHeadBytes: number;
  /**
   * Head bytes received so far, in the first #partialLength bytes (copied: the next chunk may arrive in a reused
   * buffer).
   */
  #partialHead: Buffer | undefined;
  #partialLength = 0;
  #framing: BodyFraming | undefined;
  #lengthLeft = 0;
  #bodyBytes = 0;
  #chunked: ChunkedBodyScanner | undefined;
  #stopped = false;
  /** The buffer whose ranges the chunked scanner is passing on (set for the length of one scan call). */
  #scanning: Buffer | undefined;

  constructor(parseHead: HeadParser<Head>, listener: MessageListener<Head>, maxHeadBytes: number) {
    this.#parseHead = parseHead;
    this.#listener = listener;
    this.#maxHeadBytes = maxHeadBytes;
  }

  /** Whether part of a message has been seen and its end has not. */
  get inMessage(): boolean {
    return this.#framing !== undefined || this.#partialHead !== undefined;
  }

  /** Makes push() return at once, leaving the rest of its input unscanned (after a protocol switch, say). */
  stop(): void {
    this.#stopped = true;
  }

  /** Undoes stop(): the next push() scans again (a requested protocol switch that did not happen). */
  resume(): void {
    this.#stopped = false;
  }

  /**
   * Scans `data`; returns where scanning stopped: `data.length`, or less if the listener called stop().
   * Throws MessageHeadError when the bytes are not HTTP/1.x that can be framed.
   */
  push(data: Buffer): number {
    let offset = 0;
    while (offset < data.length && !this.#stopped) {
      offset = this.#framing === undefined ? this.#scanHead(data, offset) : this.#scanBody(data, offset);
    }
    return offset;
  }

  /**
   * The connection's end arrived. Ends a body that runs until close; returns whether a message was cut short
   * (an incomplete head or body), which means the exchange failed.
   */
  end(): { truncated: boolean } {
    if (this.#framing?.kind === 'close') {
      this.#finishMessage();
      return { truncated: false };
    }
    return { truncated: this.inMessage };
  }

  #scanHead(data: Buffer, start: number): number {
    // `bytes` is the head so far: a view of `data` when the head starts in it, else the partial head with as much
    // of `data` appended as a head could still take (the rest is scanned on the next turn of push()).
    const earlier = this.#partialLength;
    const continued = this.#partialHead !== undefined;
    let bytes: Buffer;
    let taken: number;
    if (!continued) {
      // Usually the whole read (a head at the start of it): no view to make.
      bytes = start === 0 ? data : data.subarray(start);
      taken = bytes.length;
    } else {
      taken = Math.min(data.length - start, this.#maxHeadBytes + HEAD_END.length - earlier);
      bytes = this.#appendToPartial(data.subarray(start, start + taken));
    }
    // RFC 9112 §2.2: empty lines before a request line are to be ignored (some clients send one after a body).
    let skip = 0;
    while (bytes.length - skip >= 2 && bytes[skip] === CR && bytes[skip + 1] === LF) skip += 2;
    const waiting = bytes.length - skip;
    if (waiting === 0 || (waiting === 1 && bytes[skip] === CR)) {
      // Nothing but empty lines so far, or a CR that may start another one.
      this.#keepPartial(bytes, skip, continued);
      return start + taken;
    }
    // The blank line may straddle the previous chunk and this one.
    const end = bytes.indexOf(HEAD_END, Math.max(skip, earlier - 3));
    if (end < 0) {
      if (waiting > this.#maxHeadBytes) throw new HeadTooLargeError();
      // A head whose lines end in bare LFs never ends by our reading: refuse it now rather than at a timeout.
      if (hasBareLineEnd(bytes, Math.max(skip, earlier - 1))) throw new MessageHeadError('bare CR or LF in head');
      this.#keepPartial(bytes, skip, continued);
      return start + taken;
    }
    const headEnd = end + HEAD_END.length;
    if (headEnd - skip > this.#maxHeadBytes) throw new HeadTooLargeError();
    this.#partialHead = undefined;
    this.#partialLength = 0;
    const head = this.#parseHead(bytes.toString('latin1', skip, end), bytes, skip);
    this.#startBody(this.#listener.onHead(head));
    return start + (headEnd - earlier);
  }

  /** The partial head with `more` appended; grows the buffer by doubling, so a head in many reads costs linear time. */
  #appendToPartial(more: Buffer): Buffer {
    let buffer = this.#partialHead as Buffer;
    const length = this.#partialLength + more.length;
    if (length > buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(length, buffer.length * 2));
      buffer.copy(grown, 0, 0, this.#partialLength);
      buffer = grown;
      this.#partialHead = grown;
    }
    more.copy(buffer, this.#partialLength);
    this.#partialLength = length;
    return buffer.subarray(0, length);
  }

  /** Keeps `bytes` from `skip` on as the partial head; `inPlace`: they are the partial head's buffer already. */
  #keepPartial(bytes: Buffer, skip: number, inPlace: boolean): void {
    const length = bytes.length - skip;
    if (length === 0) {
      this.#partialHead = undefined;
      this.#partialLength = 0;
      return;
    }
    if (inPlace) {
      if (skip > 0) bytes.copyWithin(0, skip);
    } else {
      this.#partialHead = Buffer.allocUnsafe(Math.max(INITIAL_HEAD_BUFFER, length));
      bytes.copy(this.#partialHead, 0, skip);
    }
    this.#partialLength = length;
  }

  #startBody(framing: BodyFraming): void {
    this.#bodyBytes = 0;
    if (framing.kind === 'none') {
      this.#framing = framing;
      this.#finishMessage();
      return;
    }
    this.#framing = framing;
    if (framing.kind === 'length') this.#lengthLeft = framing.bytes;
    if (framing.kind === 'chunked') this.#chunked = new ChunkedBodyScanner();
  }

  #scanBody(data: Buffer, start: number): number {
    const framing = this.#framing as BodyFraming;
    if (framing.kind === 'chunked') {
      const chunked = this.#chunked as ChunkedBodyScanner;
      this.#scanning = data;
      let end: number;
      try {
        end = chunked.scan(data, start, this.#passOn);
      } finally {
        this.#scanning = undefined;
      }
      if (chunked.done) {
        this.#bodyBytes = chunked.dataBytes;
        this.#finishMessage();
      }
      return end;
    }
    let end = data.length;
    if (framing.kind === 'length') end = start + Math.min(this.#lengthLeft, data.length - start);
    this.#lengthLeft -= end - start;
    this.#bodyBytes += end - start;
    if (end > start) this.#listener.onBody(start === 0 && end === data.length ? data : data.subarray(start, end));
    if (framing.kind === 'length' && this.#lengthLeft === 0) this.#finishMessage();
    return end;
  }

  /** Hands `[from, to)` of the buffer being scanned (chunked) to the listener, as the buffer itself when that is all of it. */
  readonly #passOn = (from: number, to: number): void => {
    const data = this.#scanning as Buffer;
    this.#listener.onBody(from === 0 && to === data.length ? data : data.subarray(from, to));
  };

  #finishMessage(): void {
    this.#framing = undefined;
    this.#chunked = undefined;
    this.#listener.onMessageEnd(this.#bodyBytes);
  }
}

/** An LF not preceded by CR, or a CR followed by anything but LF, in `bytes` from `from` on. */
function hasBareLineEnd(bytes: Buffer, from: number): boolean {
  for (let i = bytes.indexOf(LF, from); i !== -1; i = bytes.indexOf(LF, i + 1)) {
    if (i === 0 || bytes[i - 1] !== CR) return true;
  }
  // A CR in the last byte may still be followed by its LF.
  for (let i = bytes.indexOf(CR, from); i !== -1 && i < bytes.length - 1; i = bytes.indexOf(CR, i + 1)) {
    if (bytes[i + 1] !== LF) return true;
  }
  return false;
}
