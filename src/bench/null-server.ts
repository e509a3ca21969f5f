/**
 * The benchmark's upstream: answers `POST /v1/write/:category` with an empty 200 as fast as it can, so a benchmark
 * measures the client and the proxy between them, not the server. Bodies are drained, never buffered, and
 * connections stay alive as long as a client wants them, the way a DataWay endpoint behaves for DataKit.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createSelfSignedCert } from './self-signed-cert.js';

export interface NullServerOptions {
  /** Address to listen on. Default `127.0.0.1`; `::` is every interface. */
  host?: string;
  /** Port; 0 picks a free one. Default 0. */
  port?: number;
  /**
   * `'self-signed'` (default): HTTPS with a certificate made in memory, returned as `caPem`.
   * `{ certPem, keyPem }`: HTTPS with that certificate. `false`: plain HTTP.
   */
  tls?: 'self-signed' | { certPem: string | Buffer; keyPem: string | Buffer } | false;
  /** How long an idle keep-alive connection is kept. Default 120 s: longer than any benchmark pause. */
  keepAliveTimeoutMs?: number;
}

export interface NullServerStats {
  /** TCP connections accepted so far. */
  connections: number;
  /** Requests answered so far, any path. */
  requests: number;
  /** Requests answered 200 on `/v1/write/:category`. */
  writes: number;
}

export interface NullServer {
  /** Origin to send requests to, e.g. `https://127.0.0.1:54321`. */
  url: string;
  port: number;
  /** The self-signed certificate clients must trust, when the server made one. */
  caPem?: string;
  /** Live counters, read by tests and the comparison script. */
  stats: NullServerStats;
  /** Stops listening and closes every connection, idle or not. */
  close(): Promise<void>;
}

const WRITE_PATH = /^\/v1\/write\/[^/?]+(\?.*)?$/;

/** Starts a null server and resolves once it is listening. */
export async function startNullServer(options: NullServerOptions = {}): Promise<NullServer> {
  const tlsOption = options.tls ?? 'self-signed';
  let caPem: string | undefined;
  let server: http.Server;
  const stats: NullServerStats = { connections: 0, requests: 0, writes: 0 };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    stats.requests++;
    const status = req.method === 'POST' && WRITE_PATH.test(req.url ?? '') ? 200 : 404;
    if (status === 200) stats.writes++;
    // Drain without buffering, and answer only once the body is fully read: answering earlier would make Node
    // close the connection (it cannot reuse a socket with unread request bytes), and keep-alive is the point.
    req.on('end', () => {
      res.writeHead(status, { 'content-length': '0' });
      res.end();
    });
    req.resume();
  };

  if (tlsOption === false) {
    server = http.createServer(onRequest);
  } else {
    let certPem: string | Buffer;
    let keyPem: string | Buffer;
    if (tlsOption === 'self-signed') {
      const made = await createSelfSignedCert();
      certPem = made.certPem;
      keyPem = made.keyPem;
      caPem = made.certPem;
    } else {
      certPem = tlsOption.certPem;
      keyPem = tlsOption.keyPem;
    }
    server = https.createServer({ cert: certPem, key: keyPem }, onRequest);
  }

  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 120_000;
  // No per-request deadline: a slow benchmark through a slow proxy must not be cut off by its own server.
  server.requestTimeout = 0;

  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  const scheme = tlsOption === false ? 'http' : 'https';
  const result: NullServer = {
    url: `${scheme}://${urlHost(address.address)}:${address.port}`,
    port: address.port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
  if (caPem !== undefined) result.caPem = caPem;
  return result;
}

/** The host part of a URL for a listening address: brackets for IPv6, `localhost` for "every interface". */
function urlHost(address: string): string {
  if (address === '::' || address === '0.0.0.0') return 'localhost';
  return address.includes(':') ? `[${address}]` : address;
}
