/**
 * The null server as its own process (`bench server -listen 127.0.0.1:0`), for the comparison benchmark: like the
 * reference's setup of three programs, client, proxy and server each get their own event loop, so the direct
 * baseline is not held back by a client and a server sharing one thread while proxied runs get an extra process.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { lastLine, spawnManaged } from './managed-child.js';

export interface NullServerProcess {
  /** Origin, e.g. `https://127.0.0.1:40123`. */
  url: string;
  /** Its self-signed certificate (https only): the CA a client or proxy must trust. */
  caPem?: string;
  /** The same certificate as a file, for `--upstream-ca`. */
  certFile?: string;
  stop(): Promise<void>;
}

const LISTENING = /^null server listening on (\S+)(?: \(cert: (.+)\))?$/;
const START_TIMEOUT_MS = 15_000;

export async function startNullServerProcess(options: { tls: boolean }): Promise<NullServerProcess> {
  const args = [...entryPointArgs(), 'server', '-listen', '127.0.0.1:0', ...(options.tls ? [] : ['-plain'])];
  let onLine: (match: RegExpExecArray) => void = () => undefined;
  const listening = new Promise<RegExpExecArray>((resolve) => (onLine = resolve));
  const managed = spawnManaged(process.execPath, args, {
    onStdoutLine: (line) => {
      const match = LISTENING.exec(line);
      if (match !== null) onLine(match);
    },
  });

  let timer: NodeJS.Timeout | undefined;
  try {
    const match = await Promise.race([
      listening,
      managed.exited.then((code) => {
        throw new Error(`null server exited (${code}) before listening${lastLine(managed)}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`null server did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      }),
    ]);
    const server: NullServerProcess = { url: match[1] as string, stop: () => managed.stop() };
    if (match[2] !== undefined) {
      server.certFile = match[2];
      server.caPem = await readFile(match[2], 'utf8');
    }
    return server;
  } catch (err) {
    await managed.stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** `node` arguments that run the bench entry point next to this module: built JS, or TypeScript through tsx. */
function entryPointArgs(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    return ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./bench-command-main.ts', import.meta.url))];
  }
  return [fileURLToPath(new URL('./bench-command-main.js', import.meta.url))];
}
