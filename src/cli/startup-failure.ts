/**
 * What a failed start tells the operator: one line naming the setting to change and where it was written (file and
 * key, variable or flag), for the failures that come from the machine rather than from the config's syntax: an
 * address that does not resolve or is not on this host, a port in use or privileged, a CA file that cannot be read,
 * a data directory that cannot be written. Anything not recognised here is a bug, and keeps its stack trace.
 */
import path from 'node:path';
import type { ProxyConfig, ValueOrigin } from '../config/proxy-config.js';
import { describeSystemError, originError } from '../config/value-origin.js';
import { ConfigError, ListenerStartError, StartupTimeoutError } from '../errors.js';
import { CaInvalidError, CaKeyMismatchError, CaStoreError } from '../mitm/mitm-errors.js';

/** Errno codes of name resolution: the listen address is a name, and it did not resolve. */
const RESOLUTION_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);

/**
 * The one line (without the `egress-proxy: ` prefix) for a start-up failure, or undefined for an unexpected error.
 * `config` is undefined when the failure came before the config was resolved.
 */
export function startupFailureLine(err: unknown, config: ProxyConfig | undefined): string | undefined {
  if (err instanceof ConfigError) return `config error: ${err.message}`;
  if (err instanceof StartupTimeoutError) return err.message;
  if (config === undefined) return undefined;
  if (err instanceof ListenerStartError) return listenerFailure(err, config)?.message;
  if (err instanceof CaStoreError || err instanceof CaInvalidError || err instanceof CaKeyMismatchError) {
    return caFailure(err, config).message;
  }
  return undefined;
}

function listenerFailure(err: ListenerStartError, config: ProxyConfig): ConfigError | undefined {
  const cause = err.cause as NodeJS.ErrnoException & { address?: string; port?: number };
  const isProxy = err.listener === 'proxy';
  const bind = isProxy ? config.bind : config.admin.bind;
  const port = isProxy ? config.port : config.admin.port;
  const origins = isProxy
    ? { bind: config.origins.bind, port: config.origins.port }
    : { bind: config.origins.adminBind, port: config.origins.adminPort };
  const what = isProxy ? 'the proxy listener' : 'the admin listener';
  const where = `${bind.includes(':') ? `[${bind}]` : bind}:${port}`;
  const code = cause?.code ?? '';
  if (RESOLUTION_CODES.has(code)) {
    return originError(origins.bind, `${what} cannot listen on ${JSON.stringify(bind)}: the name does not resolve (${code})`);
  }
  switch (code) {
    case 'EADDRINUSE':
      return originError(origins.port, `${what} cannot listen on ${where}: the port is in use (EADDRINUSE)`);
    case 'EADDRNOTAVAIL':
      return originError(origins.bind, `${what} cannot listen on ${where}: ${bind} is not an address of this machine (EADDRNOTAVAIL)`);
    case 'EACCES':
    case 'EPERM':
      return originError(origins.port, `${what} cannot listen on ${where}: permission denied (${code}); ports below 1024 need privileges`);
    case 'EAFNOSUPPORT':
      return originError(origins.bind, `${what} cannot listen on ${where}: this machine has no ${bind.includes(':') ? 'IPv6' : 'IPv4'} (EAFNOSUPPORT)`);
    default:
      return code ? originError(origins.bind, `${what} cannot listen on ${where}: ${describeSystemError(cause)}`) : undefined;
  }
}

/** The CA failure, blamed on the setting that names the path it is about. */
function caFailure(err: CaStoreError | CaInvalidError | CaKeyMismatchError, config: ProxyConfig): ConfigError {
  const { caCertFile, caKeyFile, dataDir } = config.mitmOptions;
  const { origins } = config;
  const files: Array<[string | undefined, ValueOrigin]> = [
    [caCertFile, origins.caCertFile],
    [caKeyFile, origins.caKeyFile],
  ];
  const failedPath = err instanceof CaStoreError ? err.path : err instanceof CaInvalidError ? err.file : err.keyFile;
  for (const [file, origin] of files) {
    if (file !== undefined && failedPath !== undefined && path.resolve(file) === path.resolve(failedPath)) {
      return originError(origin, err.message);
    }
  }
  // Otherwise the path is the data directory, or a file or lock inside it.
  return originError(origins.dataDir, `MITM data directory ${dataDir}: ${stripPrefix(err.message, path.resolve(dataDir))}`);
}

/** `/dir/ca.lock: problem` becomes `ca.lock: problem`, and `/dir: problem` becomes `problem`. */
function stripPrefix(message: string, dir: string): string {
  if (message.startsWith(`${dir}: `)) return message.slice(dir.length + 2);
  if (message.startsWith(`${dir}${path.sep}`)) return message.slice(dir.length + 1);
  return message;
}
