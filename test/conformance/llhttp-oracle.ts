/**
 * Node's own HTTP parser (llhttp, strict: never `insecureHTTPParser`) as the oracle of the differential test, used
 * as Node uses it: a real `http` server on loopback reads request streams from raw sockets, and a real
 * `http.request` reads responses from a raw server. Each case gets its own connection.
 */
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';

export interface OracleMessage {
  /** Request method, or the response's status code as text. */
  start: string;
  target: string;
  body: Buffer;
}

export interface OracleResult {
  /** Messages llhttp read to their end, in order. */
  messages: OracleMessage[];
  /** Interim (1xx) responses (responses only). */
  interim: number;
  /** llhttp's error code, if it refused something (or the connection ended inside a message). */
  error: string | undefined;
}

const CASE_TIMEOUT_MS = 5000;

interface PendingConnection {
  /** Every request llhttp started, in the order it read their heads. */
  started: Array<{ message: OracleMessage; complete: boolean }>;
  open: number;
  socketClosed: boolean;
  error: string | undefined;
  done: (result: OracleResult) => void;
}

/** A server that reports, per client connection, the requests llhttp read from it. */
export class RequestOracle {
  readonly #server: http.Server;
  readonly #pending = new Map<number, PendingConnection>();

  private constructor(server: http.Server) {
    this.#server = server;
  }

  static async start(): Promise<RequestOracle> {
    // requireHostHeader: off, because Host is the relays' rule (checked above the scanner), not framing.
    const server = http.createServer({ requireHostHeader: false, keepAliveTimeout: 1000 });
    const oracle = new RequestOracle(server);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => oracle.#onRequest(req, res));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      const entry = oracle.#pending.get(socket.remotePort ?? -1);
      if (entry !== undefined) entry.error ??= err.code ?? err.message;
      socket.destroy();
    });
    server.on('connection', (socket: net.Socket) => {
      const port = socket.remotePort ?? -1;
      socket.on('close', () => {
        const entry = oracle.#pending.get(port);
        if (entry === undefined) return;
        entry.socketClosed = true;
        oracle.#finishIfDone(port, entry);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return oracle;
  }

  /** Writes `bytes` on a new connection, ends it, and resolves with what llhttp read once the server closes it. */
  async read(bytes: Buffer): Promise<OracleResult> {
    const socket = net.connect({ port: (this.#server.address() as net.AddressInfo).port, host: '127.0.0.1' });
    await once(socket, 'connect');
    const finished = new Promise<OracleResult>((resolve) => {
      this.#pending.set(socket.localPort as number, { started: [], open: 0, socketClosed: false, error: undefined, done: resolve });
    });
    socket.on('error', () => socket.destroy());
    socket.resume();
    socket.end(bytes);
    return withTimeout(finished, () => socket.destroy());
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const port = req.socket.remotePort ?? -1;
    const entry = this.#pending.get(port);
    if (entry === undefined) return;
    const record = { message: { start: req.method ?? '', target: req.url ?? '', body: Buffer.alloc(0) }, complete: false };
    entry.started.push(record);
    entry.open++;
    const chunks: Buffer[] = [];
    let ended = false;
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      ended = true;
      res.end();
    });
    req.on('error', () => undefined);
    // 'close' comes after 'end' or after the connection dropped the request: only then is its fate known.
    req.on('close', () => {
      record.complete = ended && req.complete;
      record.message.body = Buffer.concat(chunks);
      entry.open--;
      this.#finishIfDone(port, entry);
    });
  }

  #finishIfDone(port: number, entry: PendingConnection): void {
    if (!entry.socketClosed || entry.open > 0) return;
    this.#pending.delete(port);
    const complete = entry.started.filter((record) => record.complete);
    // A request that never completed is llhttp's refusal (or the end of the stream inside it).
    const error = entry.error ?? (complete.length < entry.started.length ? 'incomplete request' : undefined);
    entry.done({ messages: complete.map((record) => record.message), interim: 0, error });
  }
}

/**
 * A raw server that answers the one request of each connection with the bytes of the case named in its path, then
 * closes (the end of a body that runs until the close).
 */
export class ResponseOracle {
  readonly #server: net.Server;
  /** The bytes to answer with, by case id (the path of the request). */
  readonly #cases: Map<string, Buffer>;
  #nextId = 0;

  private constructor(server: net.Server, cases: Map<string, Buffer>) {
    this.#server = server;
    this.#cases = cases;
  }

  static async start(): Promise<ResponseOracle> {
    const cases = new Map<string, Buffer>();
    const server = net.createServer((socket) => {
      let head = '';
      socket.on('error', () => socket.destroy());
      socket.on('data', (chunk: Buffer) => {
        if (head.includes('\r\n\r\n')) return;
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        const id = head.slice(head.indexOf('/case/') + '/case/'.length, head.indexOf(' HTTP/1.1'));
        socket.end(cases.get(id) ?? Buffer.alloc(0));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new ResponseOracle(server, cases);
  }

  /** Sends a `method` request with Node's client and resolves with what llhttp read of the answer `bytes`. */
  async read(method: string, bytes: Buffer): Promise<OracleResult> {
    const id = String(this.#nextId++);
    this.#cases.set(id, bytes);
    const result: OracleResult = { messages: [], interim: 0, error: undefined };
    const finished = new Promise<OracleResult>((resolve) => {
      // Done once the request has closed and so has its response, if one came (in either order).
      let waiting = 1;
      const closed = (): void => {
        if (--waiting === 0) resolve(result);
      };
      const req = http.request({ host: '127.0.0.1', port: (this.#server.address() as net.AddressInfo).port, method, path: `/case/${id}`, agent: false });
      req.on('information', () => result.interim++);
      req.on('response', (res) => {
        waiting++;
        const chunks: Buffer[] = [];
        let ended = false;
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          ended = true;
        });
        res.on('error', (err: NodeJS.ErrnoException) => {
          result.error ??= err.code ?? err.message;
        });
        res.on('close', () => {
          if (ended && res.complete) result.messages.push({ start: String(res.statusCode), target: '', body: Buffer.concat(chunks) });
          else result.error ??= 'incomplete response';
          closed();
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        result.error ??= err.code ?? err.message;
      });
      req.on('close', closed);
      req.end();
    });
    try {
      return await withTimeout(finished, () => undefined);
    } finally {
      this.#cases.delete(id);
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

async function withTimeout(promise: Promise<OracleResult>, onTimeout: () => void): Promise<OracleResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<OracleResult>((resolve) => {
    timer = setTimeout(() => {
      onTimeout();
      resolve({ messages: [], interim: 0, error: 'oracle timeout' });
    }, CASE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
