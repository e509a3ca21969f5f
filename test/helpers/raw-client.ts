/** Raw TCP clients for what real HTTP clients will not send: malformed requests, pipelined CONNECT bytes. */
import net from 'node:net';
import { once } from 'node:events';

/** Sends `bytes` and collects everything until the server closes (or `timeoutMs`). */
export async function rawExchange(
  port: number,
  bytes: string | Buffer,
  options: { host?: string; timeoutMs?: number; endAfterWrite?: boolean } = {},
): Promise<{ text: string; closedByServer: boolean }> {
  const socket = net.connect({ port, host: options.host ?? '127.0.0.1' });
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(bytes);
  if (options.endAfterWrite) socket.end();
  const closedByServer = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), options.timeoutMs ?? 3000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.once('error', () => undefined);
  });
  socket.destroy();
  return { text: Buffer.concat(chunks).toString('latin1'), closedByServer };
}

/** Reads from `socket` until `predicate(received)` holds; resolves with all received text. */
export async function readUntil(socket: net.Socket, predicate: (text: string) => boolean, timeoutMs = 3000): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out; received so far: ${JSON.stringify(text)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (predicate(text)) {
        cleanup();
        resolve(text);
      }
    };
    const onClose = (): void => {
      cleanup();
      if (predicate(text)) resolve(text);
      else reject(new Error(`closed; received: ${JSON.stringify(text)}`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/** Opens a CONNECT tunnel through the proxy; resolves with the socket once `200` arrived. */
export async function openTunnel(proxyPort: number, authority: string, proxyHost = '127.0.0.1', localAddress?: string): Promise<net.Socket> {
  const socket = net.connect({ port: proxyPort, host: proxyHost, ...(localAddress ? { localAddress } : {}) });
  await once(socket, 'connect');
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  const head = await readUntil(socket, (t) => t.includes('\r\n\r\n'));
  if (!head.startsWith('HTTP/1.1 200')) {
    socket.destroy();
    throw new Error(`CONNECT refused: ${head.split('\r\n')[0]}`);
  }
  return socket;
}

/** The status code of a raw HTTP/1.1 response text (0 when there is none). */
export function statusOf(text: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
}
