/**
 * End-to-end harness for the `egress-proxy` command line: spawns the real CLI (`node --import tsx src/cli.ts`, with
 * the start command's node flags) as a
 * child process, collects its output, waits for JSON log lines, and provides the small loopback servers and raw
 * clients the CLI tests talk to.
 *
 * Every child has a hard lifetime (SIGKILL when it runs out) and is remembered until it exits, so a test file's
 * `after(killAllCliProcesses)` leaves nothing behind even when a test fails half-way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { START_NODE_FLAGS } from '../deploy/start-command.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI_ENTRY = 'src/cli.ts';

/**
 * Bound on a start or a short command. Generous: a start costs ~1.3 s of CPU (tsx plus every dependency), and on a
 * loaded 2-CPU machine a dozen of them queue behind each other. Healthy runs never come near it.
 */
export const STARTUP_TIMEOUT_MS = 60_000;
/** Hard limit on any child's life: it is SIGKILLed after this, whatever the test is doing. */
const DEFAULT_LIFETIME_MS = 90_000;

/**
 * CLI starts are CPU-bound: a test file starting twelve at once only makes each of them slow. At most this many
 * start at a time per test file; the rest wait for a slot (long-running proxies give theirs back once listening).
 */
const MAX_CONCURRENT_STARTS = Math.max(2, os.availableParallelism());
let startsInProgress = 0;
const startQueue: Array<() => void> = [];

async function acquireStartSlot(): Promise<() => void> {
  while (startsInProgress >= MAX_CONCURRENT_STARTS) await new Promise<void>((resolve) => startQueue.push(resolve));
  startsInProgress++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    startsInProgress--;
    startQueue.shift()?.();
  };
}

export interface LogLine {
  level?: string;
  msg?: string;
  [key: string]: unknown;
}

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** When the process exited (performance.now() clock). */
  exitedAt: number;
}

export interface SpawnOptions {
  /** Added to the environment. EGRESS_PROXY_* variables of the test runner's own environment are never passed on. */
  env?: Record<string, string>;
  /** Hard limit: the child is SIGKILLed after this long. */
  lifetimeMs?: number;
  /** The child's open-files limit (`ulimit -n`), set by a shell that then execs node in its place. */
  openFilesLimit?: number;
}

/**
 * What startRun adds to `run`'s arguments: the test origins listen on loopback, on ports chosen at random, and the
 * destination and port policies refuse both by default. A test that passes `--dest-allow` itself, or sets
 * `defaultPolicy`, gets the policy it asks for instead.
 */
export const OPEN_LOOPBACK_ARGS: readonly string[] = ['--dest-allow', '127.0.0.0/8', '--dest-allow', '::1', '--connect-port', '1-65535', '--http-port', '1-65535'];

export interface RunOptions extends SpawnOptions {
  /** Leave the destination and port policies as the arguments, environment and file make them (no OPEN_LOOPBACK_ARGS). */
  defaultPolicy?: boolean;
}

export interface CliProcess {
  readonly child: ChildProcess;
  readonly args: readonly string[];
  /** Resolves once the process has exited and both output streams have ended. */
  readonly exited: Promise<ExitResult>;
  /** Resolves at the first byte on stdout or stderr, or at exit: the process is past loading its modules. */
  readonly firstOutput: Promise<void>;
  stdout(): string;
  stderr(): string;
  /** Every stdout line that parses as a JSON object, in order. */
  logLines(): LogLine[];
  /** The first log line matching `predicate`; rejects if the process exits or `timeoutMs` passes first. */
  waitForLog(predicate: (line: LogLine) => boolean, description: string, timeoutMs?: number): Promise<LogLine>;
  /** The exit result; rejects (and kills the process) after `timeoutMs`. */
  waitForExit(timeoutMs?: number): Promise<ExitResult>;
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL, if still running. */
  kill(): void;
}

const liveProcesses = new Set<CliProcess>();

/** Kills every CLI child still running. Each test file registers it with `after()`. */
export async function killAllCliProcesses(): Promise<void> {
  const running = [...liveProcesses];
  for (const proc of running) proc.kill();
  await Promise.all(running.map((proc) => proc.exited.catch(() => undefined)));
}

process.once('exit', () => {
  for (const proc of liveProcesses) proc.kill();
});

function childEnvironment(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    // The runner's own EGRESS_PROXY_* settings must not leak into a test, nor node:test's child-process marker.
    if (name.startsWith('EGRESS_PROXY_') || name === 'NODE_TEST_CONTEXT') continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

function parseLogLines(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) lines.push(parsed as LogLine);
    } catch {
      // a partial line still being written, or not JSON: ignore
    }
  }
  return lines;
}

function describeOutput(stdout: string, stderr: string): string {
  return `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
}

/** Starts `egress-proxy ARGS...` and returns at once. */
export function spawnCli(args: readonly string[], options: SpawnOptions = {}): CliProcess {
  // The node flags of the start command (package.json `start`, the Dockerfile, the service files): the tests run
  // the proxy as users do, from the sources through tsx instead of dist/.
  const nodeArgs = [...START_NODE_FLAGS, '--import', 'tsx', CLI_ENTRY, ...args];
  const [command, commandArgs] =
    options.openFilesLimit === undefined
      ? [process.execPath, nodeArgs]
      : ['/bin/sh', ['-c', `ulimit -n ${options.openFilesLimit} && exec "$0" "$@"`, process.execPath, ...nodeArgs]];
  const child = spawn(command, commandArgs, {
    cwd: PROJECT_ROOT,
    env: childEnvironment(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of [...listeners]) listener();
  };
  let outputSeen!: () => void;
  const firstOutput = new Promise<void>((resolve) => (outputSeen = resolve));
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    outputSeen();
    notify();
  });
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
    outputSeen();
  });

  let hasExited = false;
  const exited = Promise.all([
    new Promise<{ code: number | null; signal: NodeJS.Signals | null; exitedAt: number }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve({ code, signal, exitedAt: performance.now() }));
    }),
    once(child.stdout, 'end').catch(() => undefined),
    once(child.stderr, 'end').catch(() => undefined),
  ]).then(
    ([status]) => {
      settle();
      return { ...status, stdout, stderr };
    },
    (err: unknown) => {
      settle();
      throw err;
    },
  );
  // A spawn failure nobody awaited yet must not crash the test file; callers still see it through `exited`.
  exited.catch(() => undefined);
  function settle(): void {
    hasExited = true;
    outputSeen();
    clearTimeout(lifetime);
    liveProcesses.delete(proc);
    notify();
  }

  const kill = (): void => {
    if (!hasExited && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const lifetime = setTimeout(kill, options.lifetimeMs ?? DEFAULT_LIFETIME_MS);
  lifetime.unref();

  const proc: CliProcess = {
    child,
    args,
    exited,
    firstOutput,
    stdout: () => stdout,
    stderr: () => stderr,
    logLines: () => parseLogLines(stdout),
    waitForLog(predicate, description, timeoutMs = STARTUP_TIMEOUT_MS) {
      return new Promise<LogLine>((resolve, reject) => {
        const check = (): void => {
          const found = parseLogLines(stdout).find(predicate);
          if (found) {
            finish();
            resolve(found);
          } else if (hasExited) {
            finish();
            reject(new Error(`egress-proxy ${args.join(' ')} exited before logging ${description}${describeOutput(stdout, stderr)}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no ${description} within ${timeoutMs} ms from egress-proxy ${args.join(' ')}${describeOutput(stdout, stderr)}`));
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    waitForExit(timeoutMs = STARTUP_TIMEOUT_MS) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          kill();
          reject(new Error(`egress-proxy ${args.join(' ')} did not exit within ${timeoutMs} ms${describeOutput(stdout, stderr)}`));
        }, timeoutMs);
      });
      return Promise.race([exited, timedOut]).finally(() => clearTimeout(timer));
    },
    signal(signal) {
      if (!hasExited) child.kill(signal);
    },
    kill,
  };
  liveProcesses.add(proc);
  return proc;
}

/** Runs `egress-proxy ARGS...` to completion (killed, and the test failed, if it takes longer than `timeoutMs`). */
export async function runCli(
  args: readonly string[],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<ExitResult> {
  const release = await acquireStartSlot();
  const proc = spawnCli(args, options);
  void proc.firstOutput.then(release);
  try {
    return await proc.waitForExit(options.timeoutMs ?? STARTUP_TIMEOUT_MS);
  } finally {
    release();
  }
}

export const isMessage =
  (msg: string) =>
  (line: LogLine): boolean =>
    line.msg === msg;

export interface RunningCli {
  proc: CliProcess;
  /** The "proxy listening" line. */
  startLine: LogLine;
  proxyPort: number;
  /** Undefined with --no-admin. */
  adminPort: number | undefined;
}

/**
 * `egress-proxy run ARGS... OPEN_LOOPBACK_ARGS` (see RunOptions), resolved once the proxy (and, unless `--no-admin` is given, the admin listener) has
 * logged that it listens, and has then answered one request.
 *
 * Why the request: run-command.ts installs its SIGTERM/SIGINT handlers only after logging "proxy listening", and
 * pino writes that line with an asynchronous fs.write on libuv's thread pool, so a signal sent the moment the line
 * arrives can still meet the default disposition and kill the process (a bug, reported). Any answer from the
 * process's event loop proves the synchronous code after the log line, handlers included, has run.
 */
export async function startRun(args: readonly string[], options: RunOptions = {}): Promise<RunningCli> {
  const release = await acquireStartSlot();
  const open = options.defaultPolicy === true || args.includes('--dest-allow') ? [] : OPEN_LOOPBACK_ARGS;
  try {
    return await startAndWait([...args, ...open], options);
  } finally {
    release();
  }
}

async function startAndWait(args: readonly string[], options: SpawnOptions): Promise<RunningCli> {
  const proc = spawnCli(['run', ...args], options);
  const startLine = await proc.waitForLog(isMessage('proxy listening'), '"proxy listening" line');
  const proxyPort = startLine['port'];
  if (typeof proxyPort !== 'number') throw new Error(`"proxy listening" has no numeric port: ${JSON.stringify(startLine)}`);
  let adminPort: number | undefined;
  if (!args.includes('--no-admin')) {
    const adminLine = await proc.waitForLog(isMessage('admin listening'), '"admin listening" line');
    if (typeof adminLine['port'] !== 'number') throw new Error(`"admin listening" has no numeric port: ${JSON.stringify(adminLine)}`);
    adminPort = adminLine['port'];
  }
  if (adminPort !== undefined) {
    const health = await httpGet(`http://127.0.0.1:${adminPort}/healthz`);
    if (health.status !== 200) throw new Error(`/healthz answered ${health.status}: ${health.body}`);
  } else {
    // An origin-form request to the proxy port, answered without touching any upstream: 400, or 403 when the
    // allow-list leaves loopback out. Any answer will do.
    await httpGet(`http://127.0.0.1:${proxyPort}/`);
  }
  return { proc, startLine, proxyPort, adminPort };
}

/** SIGTERM, then the exit result. */
export async function stopRun(proc: CliProcess, timeoutMs = 10_000): Promise<ExitResult> {
  proc.signal('SIGTERM');
  return proc.waitForExit(timeoutMs);
}

/** stderr as lines, without the final newline. */
export function stderrLines(result: ExitResult): string[] {
  return result.stderr.replace(/\n$/, '').split('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Files

/** A fresh temporary directory; `cleanup` removes it. */
export function tempDir(prefix = 'egress-proxy-cli-'): { dir: string; write(name: string, text: string): string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    write(name, text) {
      const filePath = path.join(dir, name);
      writeFileSync(filePath, text);
      return filePath;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Loopback servers and clients

export interface LocalServer {
  port: number;
  close(): Promise<void>;
}

async function listenLoopback(server: net.Server, sockets: Set<net.Socket>): Promise<LocalServer> {
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An HTTP origin answering every request with JSON `{ method, url }`. */
export async function startHttpOrigin(): Promise<LocalServer & { requests: string[] }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  const local = await listenLoopback(server, new Set());
  return { ...local, requests };
}

/** A TCP server that writes back whatever it receives. */
export async function startEchoServer(): Promise<LocalServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  return listenLoopback(server, sockets);
}

/** A port something already listens on: a config layer naming it would fail with EADDRINUSE if it won. */
export async function occupyPort(): Promise<LocalServer> {
  return listenLoopback(net.createServer((socket) => socket.destroy()), new Set());
}

/** GET on a fresh connection (no keep-alive pool to outlive the test). */
export async function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** An absolute-form GET through the proxy (`GET http://host/path HTTP/1.1`), as DataKit sends plain-HTTP requests. */
export async function proxiedGet(proxyPort: number, url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: proxyPort, method: 'GET', path: url, headers: { Host: target.host }, agent: false, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`proxied GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves with the error code of a TCP connect to 127.0.0.1:port ('connected' if it succeeded). */
export async function tryConnect(port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? err.message);
    });
  });
}

/** Reads from `socket` until `done(received)` holds; rejects on close or timeout first. */
export async function readUntil(socket: net.Socket, done: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (done(text)) {
        cleanup();
        resolve(text);
      }
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error(`socket closed; received ${JSON.stringify(text)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms; received ${JSON.stringify(text)}`));
    }, timeoutMs);
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/** A raw CONNECT tunnel through the proxy to 127.0.0.1:targetPort; resolves once `200` arrived. */
export async function openConnectTunnel(proxyPort: number, targetPort: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port: proxyPort });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const authority = `127.0.0.1:${targetPort}`;
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  const head = await readUntil(socket, (text) => text.includes('\r\n\r\n'));
  if (!/^HTTP\/1\.1 200 /.test(head)) {
    socket.destroy();
    throw new Error(`CONNECT ${authority} answered ${JSON.stringify(head)}`);
  }
  return socket;
}

/** Writes `text` into the tunnel and waits for the echo server's copy of it. */
export async function echoThrough(socket: net.Socket, text: string): Promise<string> {
  const reply = readUntil(socket, (received) => received.includes(text));
  socket.write(text);
  return reply;
}

/** Resolves true when `socket` closes within `timeoutMs`, false otherwise. */
export async function closesWithin(socket: net.Socket, timeoutMs: number): Promise<boolean> {
  if (socket.destroyed && socket.closed) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
