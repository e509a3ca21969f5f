/**
 * `egress-proxy bench server`: the reference's `null-server`. Serves HTTPS with -cert/-key, HTTPS with a fresh
 * self-signed certificate when neither is given (written to a temp file so a client can pass `--ca FILE`), or plain
 * HTTP with --plain. Runs until SIGINT/SIGTERM.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { waitForStop, type CommandIo } from './command-io.js';
import { readFlagFile } from './read-flag-file.js';
import { formatFlagUsage, parseGoFlags, type FlagSpecs } from './go-flags.js';
import { startNullServer, type NullServerOptions } from './null-server.js';

const SERVER_FLAGS = {
  listen: { kind: 'string', default: 'localhost:54321', valueName: 'HOST:PORT', usage: 'address to listen on (:PORT = every interface)' },
  cert: { kind: 'string', valueName: 'FILE', usage: 'TLS certificate (PEM); needs -key' },
  key: { kind: 'string', valueName: 'FILE', usage: 'TLS private key (PEM); needs -cert' },
  plain: { kind: 'bool', usage: 'serve plain HTTP instead of HTTPS with a self-signed certificate' },
} satisfies FlagSpecs;

export const SERVER_USAGE = `Usage: egress-proxy bench server [flags]

Answers POST /v1/write/:category with an empty 200 (the body is drained, not stored) and anything else with 404,
keeping connections alive. Without -cert/-key it serves HTTPS with a self-signed certificate made at startup
(valid for localhost, 127.0.0.1 and ::1) and prints the file to pass to 'bench client --ca'.

Flags (-flag, --flag, -flag=value and -flag value are all accepted):
${formatFlagUsage(SERVER_FLAGS)}
`;

export async function runServerCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const parsed = parseGoFlags(argv, SERVER_FLAGS);
  if (parsed.help) {
    io.stdout.write(SERVER_USAGE);
    return 0;
  }
  const flags = parsed.values;
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument: ${parsed.positionals[0]}`);
  if ((flags.cert === undefined) !== (flags.key === undefined)) throw new UsageError('-cert and -key must be given together');
  if (flags.plain && flags.cert !== undefined) throw new UsageError('-plain cannot be combined with -cert/-key');

  const { host, port } = parseListenAddress(flags.listen);
  let tls: NullServerOptions['tls'] = 'self-signed';
  if (flags.plain) tls = false;
  else if (flags.cert !== undefined && flags.key !== undefined) {
    tls = { certPem: await readFlagFile('-cert', flags.cert), keyPem: await readFlagFile('-key', flags.key) };
  }

  let server;
  try {
    server = await startNullServer({ host, port, tls });
  } catch (err) {
    io.stderr.write(`bench server: cannot listen on ${flags.listen}: ${(err as Error).message}\n`);
    return 1;
  }

  let certDir: string | undefined;
  let certNote = '';
  if (server.caPem !== undefined) {
    certDir = await mkdtemp(join(tmpdir(), 'egress-proxy-bench-'));
    const certFile = join(certDir, 'null-server-cert.pem');
    await writeFile(certFile, server.caPem);
    certNote = ` (cert: ${certFile})`;
  }
  io.stdout.write(`null server listening on ${server.url}${certNote}\n`);

  await waitForStop(io);
  await server.close();
  if (certDir !== undefined) await rm(certDir, { recursive: true, force: true });
  return 0;
}

/** Go's `host:port` listen syntax: `localhost:54321`, `[::1]:54321`, `:54321` (every interface). */
export function parseListenAddress(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) {
    throw new UsageError(`invalid value "${value}" for flag -listen: want HOST:PORT, [IPv6]:PORT or :PORT`);
  }
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '::' : host, port };
}
