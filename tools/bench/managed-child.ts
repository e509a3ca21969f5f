/**
 * A proxy process started for a benchmark: keeps the tail of its output for error messages, waits for it to
 * listen, and stops it (SIGTERM, then SIGKILL if it lingers) so no benchmark leaves a proxy running behind it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';

const TAIL_LINES = 20;

export interface ManagedChild {
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** The last lines the process wrote to stdout and stderr, newest last. */
  outputTail(): string[];
  /** SIGTERM, then SIGKILL after `graceMs` (default 5 s); resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** A proxy (or relay) process a scenario started: where clients connect, and its pid for the CPU meter. */
export interface RunningProxy {
  url: string;
  /** The root of its process tree (process-tree-cpu.ts); undefined if it could not be spawned. */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** The `RunningProxy` for a managed process listening on 127.0.0.1:`port`. */
export function runningProxy(managed: ManagedChild, port: number): RunningProxy {
  return { url: `http://127.0.0.1:${port}`, pid: managed.child.pid, stop: () => managed.stop() };
}

export interface SpawnOptions {
  cwd?: string;
  /** Called for every stdout line, before it is kept in the tail. */
  onStdoutLine?: (line: string) => void;
}

export function spawnManaged(command: string, args: readonly string[], options: SpawnOptions = {}): ManagedChild {
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  // Always read both pipes to the end: a proxy that logs per request would otherwise block on a full pipe.
  createInterface({ input: child.stdout }).on('line', (line) => {
    options.onStdoutLine?.(line);
    keep(line);
  });
  createInterface({ input: child.stderr }).on('line', keep);

  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (err) => {
      keep(err.message);
      resolve(`spawn error: ${err.message}`);
    });
  });

  return {
    child,
    exited,
    outputTail: () => [...tail],
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Spawns a process and waits for the first stdout line that `parse` turns into a value (its port, say). Rejects,
 * with the process stopped and its last output line in the message, if it exits first or `timeoutMs` passes.
 */
export async function spawnUntilLine<T>(
  name: string,
  command: string,
  args: readonly string[],
  parse: (line: string) => T | undefined,
  timeoutMs: number,
): Promise<{ managed: ManagedChild; value: T }> {
  let onValue: (value: T) => void = () => undefined;
  const found = new Promise<T>((resolve) => (onValue = resolve));
  const managed = spawnManaged(command, args, {
    onStdoutLine: (line) => {
      const value = parse(line);
      if (value !== undefined) onValue(value);
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      found,
      managed.exited.then((code) => {
        throw new Error(`${name} exited (${code}) before listening${lastLine(managed)}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs} ms${lastLine(managed)}`)), timeoutMs);
      }),
    ]);
    return { managed, value };
  } catch (err) {
    await managed.stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** A loopback port that was free a moment ago (bound to port 0, then released). */
export async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Resolves once `port` on 127.0.0.1 accepts a TCP connection; rejects if `managed` exits first or `timeoutMs`
 * passes, with the process's last output line in the message.
 */
export async function waitForPort(port: number, managed: ManagedChild, name: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | string | undefined;
  void managed.exited.then((code) => (exitCode = code));
  for (;;) {
    if (exitCode !== undefined) throw new Error(`${name} exited (${exitCode}) before listening${lastLine(managed)}`);
    if (await canConnect(port)) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms${lastLine(managed)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function lastLine(managed: ManagedChild): string {
  const line = managed.outputTail().at(-1);
  return line === undefined ? '' : `: ${line}`;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
