/**
 * The least work plain forwarding can cost in Node.js on this machine: the `floor-forward` scenario of
 * `npm run bench`, a measuring stick for the forwarding target, never a proxy.
 *
 * Per client connection it reads into one reused buffer (as egress-proxy's tunnels do, see
 * src/proxy/read-buffer-relay.ts), rewrites each request line from absolute-form to origin-form, passes
 * Content-Length bodies through untouched, and relays the responses back byte for byte over one upstream
 * connection opened for the first request. What it leaves out is everything a proxy owes its users: header
 * validation, hop-by-hop stripping, Via, the allow-list, timeouts, pooling, metrics. A request it cannot frame
 * without a real parser (Transfer-Encoding, no absolute http:// target, another origin than the first) gets 501
 * and the connection closes.
 */
import net from 'node:net';
import { adoptClientSocket } from '../../../src/proxy/adopt-client-socket.js';
import { ReadBufferRelay } from '../../../src/proxy/read-buffer-relay.js';

const READ_BUFFER_BYTES = 64 * 1024;
const MAX_HEAD_BYTES = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n/i;
const TRANSFER_ENCODING = /\r\ntransfer-encoding:/i;
const NOT_IMPLEMENTED = 'HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';

/** A server that relays each accepted connection as described above; listen on it as usual. */
export function createForwardFloorRelay(): net.Server {
  // Paused so that no byte is read before the handle moves into a socket with our read buffer.
  return net.createServer({ pauseOnConnect: true }, (accepted) => {
    const connection = new ForwardFloorConnection();
    if (!connection.adopt(accepted)) accepted.destroy();
  });
}

class ForwardFloorConnection {
  readonly #readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  #client: net.Socket | undefined;
  #upstream: net.Socket | undefined;
  #origin: string | undefined;
  /** A request head not complete yet (copied out of the read buffer, which the next read overwrites). */
  #partialHead: Buffer | undefined;
  #bodyBytesLeft = 0;
  #writesInFlight = 0;
  #waitingForWrites = false;

  adopt(accepted: net.Socket): boolean {
    const adopted = adoptClientSocket(accepted, {
      buffer: () => this.#readBuffer,
      callback: (bytesRead, buffer) => this.#onRead(buffer.subarray(0, bytesRead)),
    });
    if (adopted === undefined) return false;
    const client = adopted.socket;
    this.#client = client;
    client.setNoDelay(true);
    client.on('error', () => this.#upstream?.destroy());
    client.on('end', () => this.#upstream?.end());
    client.on('close', () => this.#upstream?.destroy());
    return true;
  }

  /** Returns false to stop reading while a write still refers to the read buffer. */
  #onRead(data: Buffer): boolean {
    let rest = data;
    while (rest.length > 0) {
      if (this.#bodyBytesLeft > 0) {
        const take = Math.min(this.#bodyBytesLeft, rest.length);
        this.#send(rest.subarray(0, take));
        this.#bodyBytesLeft -= take;
        rest = rest.subarray(take);
        continue;
      }
      const head = this.#partialHead === undefined ? Buffer.from(rest) : Buffer.concat([this.#partialHead, rest]);
      const end = head.indexOf(HEAD_END);
      if (end < 0) {
        if (head.length > MAX_HEAD_BYTES) return this.#refuse();
        this.#partialHead = head;
        return true;
      }
      this.#partialHead = undefined;
      // The head ends inside `rest` (the earlier part had no blank line), so what follows it is a tail of `rest`.
      const afterHead = head.length - (end + HEAD_END.length);
      if (!this.#forwardHead(head.toString('latin1', 0, end + HEAD_END.length))) return this.#refuse();
      rest = rest.subarray(rest.length - afterHead);
    }
    if (this.#upstream === undefined || this.#upstream.writableLength === 0) return true;
    this.#waitingForWrites = true;
    return false;
  }

  #forwardHead(head: string): boolean {
    const firstSpace = head.indexOf(' ');
    const secondSpace = head.indexOf(' ', firstSpace + 1);
    if (firstSpace < 0 || secondSpace < 0 || TRANSFER_ENCODING.test(head)) return false;
    let url: URL;
    try {
      url = new URL(head.slice(firstSpace + 1, secondSpace));
    } catch {
      return false;
    }
    if (url.protocol !== 'http:' || (this.#origin !== undefined && url.origin !== this.#origin)) return false;
    const contentLength = CONTENT_LENGTH.exec(head);
    this.#bodyBytesLeft = contentLength === null ? 0 : Number(contentLength[1]);
    if (this.#upstream === undefined) this.#connect(url);
    this.#send(head.slice(0, firstSpace + 1) + url.pathname + url.search + head.slice(secondSpace));
    return true;
  }

  #connect(url: URL): void {
    this.#origin = url.origin;
    const toClient = new ReadBufferRelay();
    const upstream = net.connect({ host: url.hostname, port: Number(url.port || 80), onread: toClient.onread });
    this.#upstream = upstream;
    upstream.setNoDelay(true);
    toClient.start(upstream, this.#client as net.Socket);
    upstream.on('error', () => this.#client?.destroy());
    upstream.on('close', () => this.#client?.destroy());
  }

  #send(chunk: Buffer | string): void {
    this.#writesInFlight++;
    (this.#upstream as net.Socket).write(chunk, this.#afterWrite);
  }

  readonly #afterWrite = (): void => {
    this.#writesInFlight--;
    if (!this.#waitingForWrites || this.#writesInFlight > 0) return;
    this.#waitingForWrites = false;
    if (this.#client !== undefined && !this.#client.destroyed) this.#client.resume();
  };

  #refuse(): false {
    this.#client?.end(NOT_IMPLEMENTED);
    this.#upstream?.destroy();
    return false;
  }
}
