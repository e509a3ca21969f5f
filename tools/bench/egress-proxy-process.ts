/**
 * Runs the built egress-proxy (`dist/cli.js run`) as a child process for the comparison benchmark, on a free
 * loopback port it picks itself, and exports its MITM CA. The contract with the CLI: it logs JSON lines on stdout
 * and one of them, `"msg":"proxy listening"`, carries the numeric `port`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { builtCliPath } from './entry-points.js';
import { runningProxy, spawnUntilLine, type RunningProxy } from './managed-child.js';

const START_TIMEOUT_MS = 20_000;

/**
 * The Node flags `npm start` runs the proxy with (docs/memory.md says why each), so the benchmark measures the proxy
 * as it is deployed; test/deploy/packaging.test.ts checks they agree.
 */
export const PROXY_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64', '--max-semi-space-size=16'];

/**
 * The bench's origins (the null server) listen on loopback, on ports picked at start: the destination policy refuses
 * loopback and the port policy those ports by default (docs/security.md), so the benchmark opens exactly that.
 * Checking the policy stays on the measured path: the lists are not empty.
 */
export const BENCH_POLICY_ARGS: readonly string[] = ['--dest-allow', '127.0.0.0/8', '--dest-allow', '::1', '--connect-port', '1-65535', '--http-port', '1-65535'];

/**
 * Starts `egress-proxy run --bind 127.0.0.1 --port 0 --admin-port 0 BENCH_POLICY_ARGS... ...extraArgs` and waits for
 * it to listen. `cli` defaults to the package's built `dist/cli.js`.
 */
export async function startEgressProxy(extraArgs: readonly string[] = [], cli = requireBuiltCli()): Promise<RunningProxy> {
  const args = [...PROXY_NODE_FLAGS, cli, 'run', '--bind', '127.0.0.1', '--port', '0', '--admin-port', '0', ...BENCH_POLICY_ARGS, ...extraArgs];
  const { managed, value: port } = await spawnUntilLine('egress-proxy', process.execPath, args, listeningPort, START_TIMEOUT_MS);
  return runningProxy(managed, port);
}

/** The port of the `"msg":"proxy listening"` JSON log line, or undefined for any other line. */
function listeningPort(line: string): number | undefined {
  if (!line.includes('proxy listening')) return undefined;
  try {
    const record = JSON.parse(line) as { msg?: unknown; port?: unknown };
    return record.msg === 'proxy listening' && typeof record.port === 'number' ? record.port : undefined;
  } catch {
    return undefined; // Not a JSON log line: keep waiting for one.
  }
}

/** `egress-proxy ca export --data-dir DIR`: the MITM CA certificate (PEM) clients must trust. */
export async function exportEgressProxyCa(dataDir: string, cli = requireBuiltCli()): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, 'ca', 'export', '--data-dir', dataDir], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err !== null) {
        const detail = stderr.trim().split('\n')[0] || err.message.split('\n')[0];
        reject(new Error(`ca export failed: ${detail}`));
      } else if (!stdout.includes('-----BEGIN CERTIFICATE-----')) {
        reject(new Error('ca export printed no PEM certificate'));
      } else {
        resolve(stdout);
      }
    });
  });
}

function requireBuiltCli(): string {
  const cli = builtCliPath();
  if (!existsSync(cli)) throw new Error(`${cli} not found: run "npm run build" first`);
  return cli;
}
