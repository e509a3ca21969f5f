/**
 * `egress-proxy reload`: asks a running proxy to reload its config, through its admin listener's POST /-/reload,
 * and prints the outcome. It is SIGHUP for where there is none (Windows), or where the process is out of reach
 * of signals but not of loopback (`kubectl exec`, `docker exec`, another user): the same reload, with an answer.
 *
 * The listener is found the way `run` would find it (`--config` or EGRESS_PROXY_CONFIG, the EGRESS_PROXY_ADMIN_*
 * variables, `--admin-bind`/`--admin-port`), or given outright with `--admin-url`. Resolving the config first also
 * means a file that would be refused is reported here, before the proxy is asked.
 */
import http from 'node:http';
import net from 'node:net';
import { resolveConfig } from '../config/resolve-config.js';
import { basicCredentialsField } from '../auth/basic-credentials.js';
import { UsageError } from '../errors.js';
import { RELOAD_PATH } from '../admin/admin-server.js';
import { parseCommandArgs } from './command-args.js';
import { RELOAD_USAGE } from './usage.js';

/** The password for `--user`: never a flag, which every user of the machine can read in the process list. */
export const ADMIN_PASSWORD_VARIABLE = 'EGRESS_PROXY_ADMIN_PASSWORD';
/** Above the cluster primary's wait for its workers (5 s) with room for a slow file system. */
const REQUEST_TIMEOUT_MS = 30_000;

export async function reloadCommand(argv: string[]): Promise<number> {
  const { values } = parseReloadArgs(argv);
  if (values.help) {
    process.stdout.write(RELOAD_USAGE);
    return 0;
  }
  const url = values['admin-url'] !== undefined ? reloadUrl(values['admin-url']) : await reloadUrlFromConfig(values);
  if (typeof url !== 'object') return fail(url);
  const headers: Record<string, string> = {};
  if (values.user !== undefined) {
    const password = process.env[ADMIN_PASSWORD_VARIABLE];
    if (password === undefined) return fail(`--user ${values.user} needs the password in ${ADMIN_PASSWORD_VARIABLE}`);
    headers['authorization'] = basicCredentialsField(values.user, password);
  }
  let answer: { status: number; body: string };
  try {
    answer = await post(url, headers);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return fail(`cannot reach the admin listener at ${url.origin} (${code}): is the proxy running, with its admin listener there?`);
  }
  if (answer.status === 401) return fail(`the admin listener at ${url.origin} needs credentials: --user NAME, with the password in ${ADMIN_PASSWORD_VARIABLE}`);
  let outcome: { result?: string; hash?: string; restart_needed?: string[]; message?: string };
  try {
    outcome = JSON.parse(answer.body) as typeof outcome;
  } catch {
    return fail(`${url.href} answered ${answer.status}: ${answer.body.trim()}`);
  }
  if (outcome.result === 'success') {
    process.stdout.write(`reloaded: config hash ${outcome.hash}\n`);
    if (outcome.restart_needed?.length) process.stdout.write(`changed but not applied until a restart: ${outcome.restart_needed.join(', ')}\n`);
    return 0;
  }
  return fail(`reload refused, the running configuration stays: ${outcome.message ?? answer.body.trim()}`);
}

function fail(line: string): number {
  process.stderr.write(`egress-proxy: ${line}\n`);
  return 1;
}

interface ReloadFlags {
  config?: string;
  'admin-bind'?: string;
  'admin-port'?: string;
}

/** The admin listener `run` would open with these flags and the environment, or why there is none to ask. */
async function reloadUrlFromConfig(flags: ReloadFlags): Promise<URL | string> {
  const port = flags['admin-port'];
  if (port !== undefined && !/^\d+$/.test(port)) throw new UsageError(`--admin-port: expected a number, got "${port}"`);
  let config;
  try {
    ({ config } = await resolveConfig({ configFile: flags.config, adminBind: flags['admin-bind'], adminPort: port === undefined ? undefined : Number(port) }, process.env));
  } catch (err) {
    return `${(err as Error).message}; the running proxy was not asked to reload`;
  }
  if (!config.admin.enabled) return 'the admin listener is off (admin.enabled = false or --no-admin): send the proxy SIGHUP instead';
  if (config.admin.port === 0) return 'admin.port is 0 (a free port chosen at start): give the port the proxy logged with --admin-url';
  return reloadUrl(`http://${hostForUrl(connectableAddress(config.admin.bind))}:${config.admin.port}`);
}

/** A wildcard listen address is reached on loopback. */
function connectableAddress(bind: string): string {
  if (bind === '0.0.0.0') return '127.0.0.1';
  if (bind === '::') return '::1';
  return bind;
}

function hostForUrl(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host;
}

function reloadUrl(base: string): URL {
  let url: URL;
  try {
    url = new URL(RELOAD_PATH, base);
  } catch {
    throw new UsageError(`--admin-url: not a URL: ${base}`);
  }
  if (url.protocol !== 'http:') throw new UsageError(`--admin-url: the admin listener speaks http://, not ${url.protocol}`);
  return url;
}

function post(url: URL, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': '0' }, agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

function parseReloadArgs(argv: string[]) {
  return parseCommandArgs(argv, {
    config: { type: 'string' },
    'admin-bind': { type: 'string' },
    'admin-port': { type: 'string' },
    'admin-url': { type: 'string' },
    user: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
}
