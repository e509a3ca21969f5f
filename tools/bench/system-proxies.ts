/**
 * Squid and tinyproxy as comparison points for the benchmark, when their Debian packages are installed: each is
 * started in the foreground with a generated minimal config in a temp dir, on a free loopback port, allowing
 * CONNECT to any port and caching nothing, so it does the same job as egress-proxy in the same scenario.
 */
import { accessSync, constants } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freeLoopbackPort, runningProxy, spawnManaged, waitForPort, type RunningProxy } from './managed-child.js';

export type SystemProxyName = 'squid' | 'tinyproxy';

// Debian installs squid in /usr/sbin, which a non-root PATH often lacks.
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/bin'];

/** The binary's path, or undefined when it is not installed. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here: try the next directory.
    }
  }
  return undefined;
}

/** squid.conf for a plain forward proxy on 127.0.0.1:`port` with all state and logs in `dir`. */
export function squidConfig(port: number, dir: string): string {
  return [
    `http_port 127.0.0.1:${port}`,
    // "localhost" is one of squid's predefined ACLs. No "deny CONNECT !SSL_ports": CONNECT may go to any port.
    'http_access allow localhost',
    'http_access deny all',
    'cache deny all',
    'cache_mem 0 MB',
    // No per-request access log: egress-proxy runs without one (verbose = false), so neither pays for it.
    'access_log none',
    'cache_store_log none',
    `cache_log ${join(dir, 'cache.log')}`,
    `pid_filename ${join(dir, 'squid.pid')}`,
    `coredump_dir ${dir}`,
    'netdb_filename none',
    // Exit at once on SIGTERM: the default waits 30 s for clients to finish.
    'shutdown_lifetime 0 seconds',
    '',
  ].join('\n');
}

/** tinyproxy.conf for a forward proxy on 127.0.0.1:`port`; no ConnectPort line means CONNECT to any port. */
export function tinyproxyConfig(port: number, dir: string, runningAsRoot: boolean): string {
  return [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Allow 127.0.0.1',
    'Timeout 600',
    'MaxClients 1000',
    `LogFile "${join(dir, 'tinyproxy.log')}"`,
    'LogLevel Warning',
    `PidFile "${join(dir, 'tinyproxy.pid')}"`,
    // tinyproxy refuses to keep root privileges; name an unprivileged user it can switch to.
    ...(runningAsRoot ? ['User nobody', 'Group nogroup'] : []),
    '',
  ].join('\n');
}

/**
 * Starts `name` on a free loopback port with its config, logs and pid file in a fresh temp dir, and waits for it to
 * listen. `stop()` ends it and removes the dir.
 */
export async function startSystemProxy(name: SystemProxyName, binary: string): Promise<RunningProxy> {
  // Directly under the system temp dir (1777): started as root, both proxies switch to an unprivileged user that
  // must reach this dir and write its log and pid files there.
  const dir = await mkdtemp(join(tmpdir(), `egress-proxy-bench-${name}-`));
  const runningAsRoot = process.getuid?.() === 0;
  if (runningAsRoot) await chmod(dir, 0o777);
  const removeDir = (): Promise<void> => rm(dir, { recursive: true, force: true });

  const port = await freeLoopbackPort();
  const configFile = join(dir, `${name}.conf`);
  let args: string[];
  if (name === 'squid') {
    await writeFile(configFile, squidConfig(port, dir));
    args = ['-N', '-f', configFile];
  } else {
    await writeFile(configFile, tinyproxyConfig(port, dir, runningAsRoot));
    args = ['-d', '-c', configFile];
  }
  const managed = spawnManaged(binary, args, { cwd: dir });
  try {
    await waitForPort(port, managed, name);
  } catch (err) {
    await managed.stop();
    await removeDir();
    throw err;
  }
  const proxy = runningProxy(managed, port);
  return {
    ...proxy,
    stop: async () => {
      await proxy.stop();
      await removeDir();
    },
  };
}
