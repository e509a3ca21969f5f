/**
 * One HTTP/1.1 behaviour, two routes: the tests that describe how the proxy relays HTTP/1.1 run the same table
 * over plain forwarding (absolute-URI requests on the proxy port, plain-HTTP origins) and MITM (origin-form
 * requests inside an intercepted CONNECT tunnel, TLS origins on a test PKI). A harness hides the difference: the
 * client connection, the request target to write, and the origins, which speak plain TCP or TLS as the route needs.
 */
import { once } from 'node:events';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { ProxyAgent, type Dispatcher } from 'undici';
import type { ProxyConfig } from '../../src/config/proxy-config.js';
import type { ConfigOverrides } from '../../src/config/resolve-config.js';
import { RawConversation, tcpUnder } from './http-transcript.js';
import { echoHandler, startHttpOrigin, startHttpsOrigin, type Handler, type OriginServer } from './origin-servers.js';
import { openTunnel } from './raw-client.js';
import { createTestPki, type TestPki } from './test-pki.js';
import { startTestProxy, type TestProxy } from './test-proxy.js';

export type RouteName = 'forward' | 'mitm';
export const ROUTES: readonly RouteName[] = ['forward', 'mitm'];

/** A raw origin's view of one connection: every byte it received, in order. */
export interface RawOriginConnection {
  socket: net.Socket;
  received(): Buffer;
  /** Closes with a TCP reset (under the TLS, for a TLS origin): an origin that crashes mid-response. */
  reset(): void;
}

export interface RawOrigin {
  port: number;
  /** Connections accepted so far, oldest first. */
  connections: RawOriginConnection[];
  close(): Promise<void>;
}

export interface RouteHarness {
  route: RouteName;
  proxy: TestProxy;
  /** The request-target for `path` (starting with `/`) on a local origin port, as the route's clients write it. */
  target(port: number, path: string): string;
  /**
   * A client connection whose bytes reach `port` through the route: a plain socket, or TLS inside a tunnel.
   * `localAddress` makes it come from another loopback address (127.0.0.2, say): another client, to the proxy.
   */
  connect(port: number, localAddress?: string): Promise<net.Socket>;
  /** An HTTP origin (plain or TLS, as the route needs) running `handler`; echoes the request by default. */
  httpOrigin(handler?: Handler): Promise<OriginServer>;
  /** A byte-level origin (plain or TLS) for upstreams that misbehave; records what it received. */
  rawOrigin(onConnection: (connection: RawOriginConnection) => void): Promise<RawOrigin>;
  /**
   * A request head as the route's clients write it, for `path` on the origin at `port`; `extra` is further header
   * lines, each ending in CRLF. Host names the origin (what a tunnel requires; forwarding replaces it anyway).
   */
  head(port: number, path: string, extra?: string, method?: string, version?: '1.0' | '1.1'): string;
  /** A conversation with the origin at `port` through the route, keeping the whole transcript. */
  open(port: number, localAddress?: string): Promise<RawConversation>;
  /** Writes `bytes` through the route and collects what comes back until the connection closes or `timeoutMs`. */
  exchange(port: number, bytes: string | Buffer, timeoutMs?: number): Promise<{ text: string; closedByServer: boolean }>;
  /** The URL a client library asks for: http:// for forwarding, https:// for MITM. */
  url(port: number, path: string): string;
  /** An undici dispatcher that reaches origins through the route (closed by the caller). */
  dispatcher(connections?: number): Dispatcher;
  /** curl arguments that ask for `url(port, path)` through the route. */
  curlArgs(port: number, path: string): string[];
  close(): Promise<void>;
}

export interface RouteOptions {
  overrides?: ConfigOverrides;
  tweak?: (config: ProxyConfig) => void;
}

let sharedPki: Promise<{ pki: TestPki; cert: { key: string; cert: string } }> | undefined;

/** One test PKI per test file: minting it costs a key pair and two signatures. */
function testPki(): Promise<{ pki: TestPki; cert: { key: string; cert: string } }> {
  sharedPki ??= (async () => {
    const pki = await createTestPki();
    return { pki, cert: await pki.serverCert('127.0.0.1') };
  })();
  return sharedPki;
}

/** What both routes' harnesses do the same way, given how each connects and names targets. */
function common(
  connect: (port: number, localAddress?: string) => Promise<net.Socket>,
  target: (port: number, path: string) => string,
): Pick<RouteHarness, 'head' | 'open' | 'exchange'> {
  return {
    head: (port, path, extra = '', method = 'GET', version = '1.1') =>
      `${method} ${target(port, path)} HTTP/${version}\r\nHost: 127.0.0.1:${port}\r\n${extra}\r\n`,
    async open(port, localAddress) {
      return new RawConversation(await connect(port, localAddress));
    },
    async exchange(port, bytes, timeoutMs = 3000) {
      const conversation = new RawConversation(await connect(port));
      conversation.write(bytes);
      const closedByServer = await conversation.closedWithin(timeoutMs);
      conversation.destroy();
      return { text: conversation.text, closedByServer };
    },
  };
}

/** Starts a proxy for `route` (MITM on, trusting the test PKI, for 'mitm') and returns its harness. */
export async function startRoute(route: RouteName, options: RouteOptions = {}): Promise<RouteHarness> {
  const cleanups: Array<() => Promise<unknown>> = [];
  if (route === 'forward') {
    const proxy = await startTestProxy(options.overrides ?? {}, options.tweak);
    const target = (port: number, path: string): string => `http://127.0.0.1:${port}${path}`;
    const connect = async (port: number, localAddress?: string): Promise<net.Socket> => {
      void port;
      const socket = net.connect({ port: proxy.port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
      await once(socket, 'connect');
      return socket;
    };
    return {
      route,
      proxy,
      target,
      connect,
      ...common(connect, target),
      url: target,
      dispatcher: (connections) => new ProxyAgent({ uri: proxy.url, proxyTunnel: false, ...(connections ? { connections } : {}) }),
      curlArgs: (port, path) => ['-x', proxy.url, target(port, path)],
      async httpOrigin(handler = echoHandler) {
        const origin = await startHttpOrigin(handler);
        cleanups.push(() => origin.close());
        return origin;
      },
      async rawOrigin(onConnection) {
        const origin = await startRawOrigin((listener) => net.createServer(listener), onConnection);
        cleanups.push(() => origin.close());
        return origin;
      },
      async close() {
        for (const cleanup of cleanups.reverse()) await cleanup();
        await proxy.stop(100);
      },
    };
  }

  const { pki, cert } = await testPki();
  const dir = await mkdtemp(join(tmpdir(), 'egress-route-'));
  await writeFile(join(dir, 'origin-ca.pem'), pki.caPem);
  const proxy = await startTestProxy(
    { mitm: true, dataDir: join(dir, 'data'), upstreamCaFile: join(dir, 'origin-ca.pem'), ...options.overrides },
    options.tweak,
  );
  const mitmCaFile = join(dir, 'data', 'ca.crt');
  const mitmCaPem = await readFile(mitmCaFile, 'utf8');
  const target = (_port: number, path: string): string => path;
  const connect = async (port: number, localAddress?: string): Promise<net.Socket> => {
    const socket = await openTunnel(proxy.port, `127.0.0.1:${port}`, '127.0.0.1', localAddress);
    const secure = tls.connect({ socket, ca: mitmCaPem, host: '127.0.0.1' });
    tcpUnder.set(secure, socket);
    await once(secure, 'secureConnect');
    return secure;
  };
  const url = (port: number, path: string): string => `https://127.0.0.1:${port}${path}`;
  return {
    route,
    proxy,
    target,
    connect,
    ...common(connect, target),
    url,
    dispatcher: (connections) => new ProxyAgent({ uri: proxy.url, requestTls: { ca: mitmCaPem }, ...(connections ? { connections } : {}) }),
    curlArgs: (port, path) => ['-x', proxy.url, '--cacert', mitmCaFile, url(port, path)],
    async httpOrigin(handler = echoHandler) {
      const origin = await startHttpsOrigin(cert, handler);
      cleanups.push(() => origin.close());
      return origin;
    },
    async rawOrigin(onConnection) {
      // TLS over a TCP socket of our own, so a test can reset the TCP connection under it.
      const origin = await startRawOrigin(
        (listener) =>
          net.createServer((raw) => {
            const secure = new tls.TLSSocket(raw, { isServer: true, ...cert });
            tcpUnder.set(secure, raw);
            raw.on('error', () => raw.destroy());
            listener(secure);
          }),
        onConnection,
      );
      cleanups.push(() => origin.close());
      return origin;
    },
    async close() {
      for (const cleanup of cleanups.reverse()) await cleanup();
      await proxy.stop(100);
    },
  };
}

async function startRawOrigin(
  createServer: (listener: (socket: net.Socket) => void) => net.Server,
  onConnection: (connection: RawOriginConnection) => void,
): Promise<RawOrigin> {
  const connections: RawOriginConnection[] = [];
  const server = createServer((socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => socket.destroy());
    const connection = {
      socket,
      received: () => Buffer.concat(chunks),
      reset: () => {
        (tcpUnder.get(socket) ?? socket).resetAndDestroy();
        socket.destroy();
      },
    };
    connections.push(connection);
    onConnection(connection);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    async close() {
      for (const connection of connections) connection.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
