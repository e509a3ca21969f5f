/**
 * The null server as its own process (the product's `egress-proxy bench server -listen 127.0.0.1:0`), for the
 * comparison benchmark: like the reference's setup of three programs, client, proxy and server each get their own
 * event loop, so the direct baseline is not held back by a client and a server sharing one thread while proxied
 * runs get an extra process.
 */
import { readFile } from 'node:fs/promises';
import { spawnUntilLine } from './managed-child.js';
import { productCliArgs } from './entry-points.js';

export interface NullServerProcess {
  /** Origin, e.g. `https://127.0.0.1:40123`. */
  url: string;
  /** Its self-signed certificate (https only): the CA a client or proxy must trust. */
  caPem?: string;
  /** The same certificate as a file, for `--upstream-ca`. */
  certFile?: string;
  /** Its process, for the CPU meter; undefined if it could not be spawned. */
  pid: number | undefined;
  stop(): Promise<void>;
}

const LISTENING = /^null server listening on (\S+)(?: \(cert: (.+)\))?$/;
const START_TIMEOUT_MS = 15_000;

export async function startNullServerProcess(options: { tls: boolean }): Promise<NullServerProcess> {
  const args = [...productCliArgs(), 'bench', 'server', '-listen', '127.0.0.1:0', ...(options.tls ? [] : ['-plain'])];
  const { managed, value: match } = await spawnUntilLine('null server', process.execPath, args, (line) => LISTENING.exec(line) ?? undefined, START_TIMEOUT_MS);
  try {
    const server: NullServerProcess = { url: match[1] as string, pid: managed.child.pid, stop: () => managed.stop() };
    if (match[2] !== undefined) {
      server.certFile = match[2];
      server.caPem = await readFile(match[2], 'utf8');
    }
    return server;
  } catch (err) {
    await managed.stop();
    throw err;
  }
}
