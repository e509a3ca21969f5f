/**
 * Every scenario `npm run bench` can run: the same client workload against the null server directly, through
 * egress-proxy (tunnel, plain forwarding, MITM), through squid and tinyproxy when installed, and through the floor
 * relays (floor/: the least each kind of proxy can cost on the machine). The order here is the table's order.
 *
 * Adding a scenario (say, egress-proxy with two workers):
 *   1. Add an entry to SCENARIOS: a unique `name`, a `description` for the progress lines, the null server's
 *      `upstream` protocol, the direct scenario of that protocol as `baseline` (the ratio column), and a
 *      `startProxy` that starts its process(es) and resolves once it listens, e.g.
 *        { name: 'egress-tunnel-2w', description: 'egress-proxy, 2 workers, CONNECT tunnel to https',
 *          upstream: 'https', baseline: 'direct-https', startProxy: () => startEgressProxy(['--workers', '2']) }
 *      `startProxy` must return the root pid of the process tree (see managed-child.ts `runningProxy`): the CPU
 *      column sums user+sys over that tree, so a proxy that forks workers is measured whole. Give `unavailable`
 *      when it needs something that may be missing (a binary, a compiler); the row then says why it was skipped.
 *   2. It runs in every workload unless the workload lists its scenarios (workloads.ts); a target that uses it
 *      goes into that workload's `targets` (targets.ts has the kinds).
 *   3. The tests in tools/bench/test list the scenarios by name (comparison.test.ts, workloads.test.ts): add it.
 * A measurement that is not "N workers x M POSTs" (the memory of idle tunnels, the cost of an open dashboard) is a
 * module of its own next to this one, run by compare.ts after the workloads, with its own block of output and its
 * own key in the --json document.
 */
import { join } from 'node:path';
import { openDashboardViewer } from './dashboard-viewer.js';
import { exportEgressProxyCa, startEgressProxy } from './egress-proxy-process.js';
import { spliceRelayUnavailable, startForwardFloorRelay, startReencryptFloorRelay, startSpliceTunnelRelay } from './floor/floor-relay-process.js';
import { freeLoopbackPort, type RunningProxy } from './managed-child.js';
import type { NullServerProcess } from './null-server-process.js';
import { findExecutable, startSystemProxy, type SystemProxyName } from './system-proxies.js';

/** What a scenario's proxy gives the client: where to connect, and which CA to trust for the target if not the server's. */
export interface ProxyForClient extends RunningProxy {
  clientCaPem?: string;
}

export interface ScenarioContext {
  /** The null server; its `certFile` (https) is for proxies that verify the upstream. */
  server: NullServerProcess;
  /** A temp dir the scenario may use; removed afterwards. */
  workDir: string;
}

export interface Scenario {
  name: string;
  description: string;
  /** Whether the null server speaks TLS. */
  upstream: 'https' | 'http';
  /** The scenario this one's req/s is divided by in the ratio column. */
  baseline?: string;
  /** Why the scenario cannot run here (e.g. a binary is missing), or undefined when it can. */
  unavailable?: () => string | undefined;
  /** Starts the proxy between client and server; absent for direct scenarios. */
  startProxy?: (ctx: ScenarioContext) => Promise<ProxyForClient>;
}

function systemProxyScenarios(name: SystemProxyName): Scenario[] {
  const unavailable = (): string | undefined => (findExecutable(name) === undefined ? 'not installed' : undefined);
  const start = (): Promise<RunningProxy> => startSystemProxy(name, findExecutable(name) as string);
  return [
    { name: `${name}-tunnel`, description: `${name}, CONNECT tunnel to https`, upstream: 'https', baseline: 'direct-https', unavailable, startProxy: start },
    { name: `${name}-forward`, description: `${name}, absolute-URI forwarding to http`, upstream: 'http', baseline: 'direct-http', unavailable, startProxy: start },
  ];
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'direct-https', description: 'client → null HTTPS server', upstream: 'https' },
  { name: 'direct-http', description: 'client → null HTTP server', upstream: 'http' },
  {
    name: 'egress-tunnel',
    description: 'egress-proxy, CONNECT tunnel to https',
    upstream: 'https',
    baseline: 'direct-https',
    startProxy: () => startEgressProxy(),
  },
  {
    name: 'egress-forward',
    description: 'egress-proxy, absolute-URI forwarding to http',
    upstream: 'http',
    baseline: 'direct-http',
    startProxy: () => startEgressProxy(),
  },
  {
    // The cost of an open dashboard page: the same as egress-forward, with one page's event stream open for the
    // whole run. Compare its req/s and CPU µs/req with egress-forward's in the same rounds.
    name: 'egress-forward-dashboard',
    description: 'egress-proxy, absolute-URI forwarding to http, with a dashboard page open',
    upstream: 'http',
    baseline: 'direct-http',
    startProxy: startEgressProxyWithDashboardViewer,
  },
  {
    // workers = 2 against egress-forward's 1: the CPU column sums the primary and both workers (the process tree).
    // What a 2-core machine shared with the client and the server can show is in docs/workers.md.
    name: 'egress-forward-2w',
    description: 'egress-proxy with --workers 2, absolute-URI forwarding to http',
    upstream: 'http',
    baseline: 'direct-http',
    startProxy: () => startEgressProxy(['--workers', '2']),
  },
  ...systemProxyScenarios('squid'),
  ...systemProxyScenarios('tinyproxy'),
  {
    name: 'egress-mitm',
    description: 'egress-proxy with --mitm, decrypting https',
    upstream: 'https',
    baseline: 'direct-https',
    startProxy: async ({ server, workDir }) => {
      const dataDir = join(workDir, 'egress-data');
      const proxy = await startEgressProxy(['--mitm', '--data-dir', dataDir, '--upstream-ca', server.certFile as string]);
      try {
        return { ...proxy, clientCaPem: await exportEgressProxyCa(dataDir) };
      } catch (err) {
        await proxy.stop();
        throw err;
      }
    },
  },
  // The floors: the least each kind of proxy can cost here (see floor/), measured in the same rounds.
  {
    name: 'floor-tunnel',
    description: 'floor for tunnels: a C relay that splices CONNECT tunnels inside the kernel',
    upstream: 'https',
    baseline: 'direct-https',
    unavailable: spliceRelayUnavailable,
    startProxy: ({ workDir }) => startSpliceTunnelRelay(workDir),
  },
  {
    name: 'floor-forward',
    description: 'floor for forwarding in Node.js: a relay that only rewrites request lines',
    upstream: 'http',
    baseline: 'direct-http',
    startProxy: () => startForwardFloorRelay(),
  },
  {
    name: 'floor-mitm',
    description: 'floor for interception in Node.js: a relay that only decrypts and re-encrypts',
    upstream: 'https',
    baseline: 'direct-https',
    startProxy: ({ server, workDir }) => startReencryptFloorRelay(workDir, server.certFile as string),
  },
];


/** egress-proxy on a known admin port, with a dashboard viewer that is closed before the proxy stops. */
async function startEgressProxyWithDashboardViewer(): Promise<ProxyForClient> {
  const adminPort = await freeLoopbackPort();
  const proxy = await startEgressProxy(['--admin-port', String(adminPort)]);
  try {
    const viewer = await openDashboardViewer(adminPort);
    return {
      ...proxy,
      stop: async () => {
        viewer.close();
        await proxy.stop();
      },
    };
  } catch (err) {
    await proxy.stop();
    throw err;
  }
}
