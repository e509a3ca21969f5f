/**
 * The least work TLS interception can cost in Node.js on this machine: the `floor-mitm` scenario of
 * `npm run bench`, a measuring stick for the MITM targets, never a proxy.
 *
 * Per CONNECT it answers 200, terminates the client's TLS with one fixed certificate, opens one verified TLS
 * connection to the target, and pipes the cleartext both ways. No HTTP is parsed or recorded, nothing is pooled
 * or cached beyond the one secure context: whatever egress-proxy's MITM costs above this is the price of reading
 * and recording the requests. A client that sends bytes behind its CONNECT before the 200 (the bench client never
 * does) is disconnected, since they would belong to the TLS layer that does not exist yet.
 */
import net from 'node:net';
import tls from 'node:tls';

const MAX_HEAD_BYTES = 8 * 1024;
const CONNECT_LINE = /^CONNECT (\[[^\]]+\]|[^\s:]+):(\d+) HTTP\/1\.[01]\r\n/;

export interface ReencryptFloorRelayOptions {
  /** The certificate (and key) the relay shows every client; the client must trust it. */
  certPem: string;
  keyPem: string;
  /** The CA the relay verifies targets against (the null server's self-signed certificate). */
  upstreamCaPem: string;
}

export function createReencryptFloorRelay(options: ReencryptFloorRelayOptions): net.Server {
  const secureContext = tls.createSecureContext({ cert: options.certPem, key: options.keyPem });
  return net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    let head = '';
    const onData = (data: Buffer): void => {
      head += data.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD_BYTES) socket.destroy();
        return;
      }
      socket.removeListener('data', onData);
      socket.pause();
      const match = CONNECT_LINE.exec(head);
      if (match === null || end + 4 !== head.length) {
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      const host = (match[1] as string).replace(/^\[|\]$/g, '');
      relay(socket, host, Number(match[2]), secureContext, options.upstreamCaPem);
    };
    socket.on('data', onData);
  });
}

function relay(socket: net.Socket, host: string, port: number, secureContext: tls.SecureContext, ca: string): void {
  socket.setNoDelay(true);
  socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
  const client = new tls.TLSSocket(socket, { isServer: true, secureContext });
  const upstream = tls.connect({ host, port, ca, ...(net.isIP(host) === 0 ? { servername: host } : {}) });
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}
