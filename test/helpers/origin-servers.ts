/**
 * Origin servers the proxy forwards to in tests, on loopback port 0. The default handler reads the whole body,
 * hashes it and answers with what it received, so tests can check headers and byte-identical bodies.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { once } from 'node:events';

export interface EchoReply {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  bodyLength: number;
  bodySha256: string;
}

export interface OriginServer {
  server: http.Server;
  port: number;
  /** http://127.0.0.1:port or https://... */
  url: string;
  /** TCP connections accepted so far. */
  connections: number;
  /** Requests handled so far. */
  requests: number;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export const echoHandler: Handler = (req, res) => {
  const hash = createHash('sha256');
  let length = 0;
  req.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    length += chunk.length;
  });
  req.on('end', () => {
    const reply: EchoReply = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyLength: length,
      bodySha256: hash.digest('hex'),
    };
    const body = JSON.stringify(reply);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
};

export async function startHttpOrigin(handler: Handler = echoHandler): Promise<OriginServer> {
  return listen(http.createServer({ keepAliveTimeout: 30_000 }, handler), 'http');
}

export async function startHttpsOrigin(
  tlsOptions: { key: string; cert: string },
  handler: Handler = echoHandler,
): Promise<OriginServer> {
  return listen(https.createServer({ ...tlsOptions, keepAliveTimeout: 30_000 }, handler), 'https');
}

async function listen(server: http.Server, scheme: string): Promise<OriginServer> {
  const origin: OriginServer = {
    server,
    port: 0,
    url: '',
    connections: 0,
    requests: 0,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on(scheme === 'https' ? 'secureConnection' : 'connection', () => origin.connections++);
  server.on('request', () => origin.requests++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin.port = (server.address() as net.AddressInfo).port;
  origin.url = `${scheme}://127.0.0.1:${origin.port}`;
  return origin;
}

/** A raw TCP server: echoes bytes back, or runs a custom connection handler. */
export async function startTcpServer(
  onConnection: (socket: net.Socket) => void = (socket) => socket.pipe(socket),
  options: net.ServerOpts = {},
): Promise<{ port: number; server: net.Server; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer(options, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    onConnection(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on loopback where nothing listens (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
