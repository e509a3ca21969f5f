/**
 * Reads the proxy's answers on a client connection, one message at a time, with the strict scanner (what the
 * proxy sends must itself be strict HTTP/1.1): status, decoded body, whether it came whole, and whether the
 * connection then ends. Every wait is bounded.
 */
import type { Duplex } from 'node:stream';
import { responseBodyFraming } from '../../src/http1/body-framing.js';
import { parseResponseHead, type ResponseHead } from '../../src/http1/message-head.js';
import { MAX_HEAD_BYTES, MessageScanner } from '../../src/http1/message-scanner.js';
import { decodeCanonicalChunked } from './canonical-chunked.js';

export interface ReadResponse {
  status: number;
  /** Interim (1xx) responses before it. */
  interim: number;
  headers: ResponseHead['headers'];
  /** The body, decoded; undefined when the response was cut short. */
  body: Buffer | undefined;
  /** The body as it came (chunked framing included). */
  raw: Buffer;
}

export class ResponseReader {
  readonly #socket: Duplex;
  #buffered: Buffer[] = [];
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(socket: Duplex) {
    this.#socket = socket;
    socket.on('data', (data: Buffer) => {
      this.#buffered.push(data);
      this.#wake?.();
    });
    const onEnd = (): void => {
      this.#ended = true;
      this.#wake?.();
    };
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', () => undefined);
  }

  /** The next final response to a `method` request; undefined if the connection ended first, or at `timeoutMs`. */
  async next(method: string, timeoutMs = 3000): Promise<ReadResponse | undefined> {
    let result: ReadResponse | undefined;
    let interim = 0;
    let head: ResponseHead | undefined;
    let chunked = false;
    const body: Buffer[] = [];
    const scanner = new MessageScanner<ResponseHead>(parseResponseHead, {
      onHead: (parsed) => {
        head = parsed;
        const framing = responseBodyFraming(method, parsed.statusCode, parsed.minorVersion, parsed.headers);
        chunked = framing.kind === 'chunked';
        return framing;
      },
      onBody: (data) => body.push(Buffer.from(data)),
      onMessageEnd: () => {
        const done = head as ResponseHead;
        if (done.statusCode < 200) {
          interim++;
          body.length = 0;
          return;
        }
        const raw = Buffer.concat(body);
        result = { status: done.statusCode, interim, headers: done.headers, body: chunked ? decodeCanonicalChunked(raw) : raw, raw };
        scanner.stop();
      },
    }, MAX_HEAD_BYTES);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#buffered.length > 0 && result === undefined) {
        const data = this.#buffered.shift() as Buffer;
        const used = scanner.push(data);
        if (used < data.length) this.#buffered.unshift(data.subarray(used));
      }
      if (result !== undefined) return result;
      if (this.#ended) {
        scanner.end();
        if (result !== undefined) return result;
        // Cut short: what came of it, without a body.
        return head === undefined || head.statusCode < 200 ? undefined : { status: head.statusCode, interim, headers: head.headers, body: undefined, raw: Buffer.concat(body) };
      }
      if (!(await this.#waitForMore(deadline))) return undefined;
    }
  }

  /** Whether the connection ends within `timeoutMs` with nothing more sent; the bytes that came meanwhile, if any. */
  async ends(timeoutMs = 1000): Promise<{ ended: boolean; extra: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#ended && (await this.#waitForMore(deadline)));
    return { ended: this.#ended, extra: Buffer.concat(this.#buffered).toString('latin1') };
  }

  /** Sends bytes (latin1 text: heads are bytes, not UTF-8). */
  write(text: string): void {
    this.#socket.write(Buffer.from(text, 'latin1'));
  }

  destroy(): void {
    this.#socket.destroy();
  }

  async #waitForMore(deadline: number): Promise<boolean> {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve(false);
      }, left);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve(true);
      };
    });
  }
}
