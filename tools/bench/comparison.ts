/**
 * The side-by-side benchmark behind `npm run bench`: the same workload (the bench client, N workers × M POSTs of
 * one file) against the null server directly, through egress-proxy (tunnel, plain forwarding, MITM), and through
 * squid and tinyproxy when installed. Scenarios run one after another, never side by side: on a 2-core machine,
 * client, proxy and server already compete for the CPU within one scenario. With several rounds, each round runs
 * every scenario once before the next round starts, so a slow phase of a shared machine hits all scenarios alike.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBenchClient, type BenchResult } from '../../src/bench/bench-client.js';
import { startNullServerProcess, type NullServerProcess } from './null-server-process.js';
import { startTreeCpuMeter } from './process-tree-cpu.js';
import { interleavedSchedule, summariseRounds, type RoundOutcome, type ScenarioRecord, type ScenarioSummary } from './rounds.js';
import { SCENARIOS, type ProxyForClient, type Scenario } from './scenarios.js';

export const DEFAULT_WARMUP_REQUESTS = 10;

/**
 * Untimed POSTs per worker when a scenario's processes start (not with `freshProcesses`). A proxy in production
 * runs for days; what a JIT runtime does in its first second (TurboFan compiling the hot path was 13 % of the
 * proxy's CPU in a fresh process's first 1,760 requests, measured with perf) is not what its users see.
 */
export const STEADY_STATE_WARMUP_REQUESTS = 100;

export interface ComparisonOptions {
  /** Workers (connections). */
  connections: number;
  /** Requests per worker. */
  requestsPerConnection: number;
  body: Buffer;
  /** Scenario names to run; default all. */
  only?: readonly string[];
  /** How many times each scenario runs, interleaved: round 1 runs every scenario in order, then round 2... Default 1. */
  rounds?: number;
  /**
   * Untimed requests per worker before each timed run, on the same connections, so the run does not include
   * connection set-up (TCP, CONNECT, TLS handshakes). Default 10.
   */
  warmupRequests?: number;
  /**
   * Start a new null server and proxy for every run, so every measurement includes each process's cold start.
   * Default false: each scenario's processes start once, are warmed up with STEADY_STATE_WARMUP_REQUESTS untimed
   * POSTs per worker, and serve all of its rounds.
   */
  freshProcesses?: boolean;
  /** Told when a run starts, for a progress display. */
  onScenarioStart?: (scenario: Scenario, round: number, rounds: number) => void;
  /** Told when a scenario's null server and proxy have been started. */
  onProcessesStarted?: (scenario: Scenario) => void;
}

/**
 * Runs the selected scenarios `rounds` times, interleaved, and summarises each over its rounds (see rounds.ts).
 * A failing run is recorded as that round's outcome, never thrown; an unavailable scenario is skipped once.
 */
export async function runComparison(options: ComparisonOptions): Promise<ScenarioSummary[]> {
  const selected = selectScenarios(options.only);
  const rounds = options.rounds ?? 1;
  const records = new Map<string, ScenarioRecord>();
  for (const scenario of selected) {
    const reason = scenario.unavailable?.();
    records.set(scenario.name, {
      name: scenario.name,
      ...(scenario.baseline !== undefined ? { baseline: scenario.baseline } : {}),
      ...(reason !== undefined ? { skipped: reason } : {}),
      rounds: [],
    });
  }
  const runnable = selected.filter((s) => records.get(s.name)?.skipped === undefined);
  if (runnable.length > 0) {
    // A warm-up that fails (say, no free port) only costs accuracy; the scenarios report real failures themselves.
    await warmUpClient(options).catch(() => undefined);
  }
  const kept = new Map<string, ScenarioProcesses>();
  try {
    for (const run of interleavedSchedule(runnable.map((s) => s.name), rounds)) {
      const scenario = runnable.find((s) => s.name === run.scenario) as Scenario;
      const record = records.get(scenario.name) as ScenarioRecord;
      options.onScenarioStart?.(scenario, run.round, rounds);
      let processes = kept.get(scenario.name);
      try {
        if (processes === undefined) {
          processes = await startScenarioProcesses(scenario, options);
          if (!options.freshProcesses) kept.set(scenario.name, processes);
        }
        record.rounds.push({ round: run.round, ...(await runTimed(processes, options)) });
        if (options.freshProcesses) await processes.stop();
      } catch (err) {
        record.rounds.push({ round: run.round, state: 'error', message: oneLine(err) });
        // Whatever failed is not reused: the next round starts the scenario's processes again.
        kept.delete(scenario.name);
        await processes?.stop();
      }
    }
  } finally {
    for (const processes of kept.values()) await processes.stop();
  }
  return summariseRounds([...records.values()]);
}

/** The scenarios named in `only`, in the standard order; throws on an unknown name. */
export function selectScenarios(only?: readonly string[]): Scenario[] {
  if (only === undefined || only.length === 0) return [...SCENARIOS];
  const unknown = only.filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  return SCENARIOS.filter((s) => only.includes(s.name));
}

/**
 * One untimed pass of the client against both null servers. The client lives in this process for every scenario,
 * so without this its JIT warm-up would slow whichever scenario runs first (the direct baseline).
 */
async function warmUpClient(options: ComparisonOptions): Promise<void> {
  for (const tls of [true, false]) {
    const server = await startNullServerProcess({ tls });
    try {
      await runBenchClient({
        target: `${server.url}/v1/write/metric`,
        connections: options.connections,
        requestsPerConnection: 20,
        body: options.body,
        caPem: server.caPem,
      });
    } finally {
      await server.stop();
    }
  }
}

/** A scenario's null server and proxy (none for direct scenarios); `stop` also removes their temp dir. */
interface ScenarioProcesses {
  server: NullServerProcess;
  proxy: ProxyForClient | undefined;
  stop(): Promise<void>;
}

async function startScenarioProcesses(scenario: Scenario, options: ComparisonOptions): Promise<ScenarioProcesses> {
  const workDir = await mkdtemp(join(tmpdir(), `egress-proxy-bench-${scenario.name}-`));
  let server: NullServerProcess | undefined;
  let proxy: ProxyForClient | undefined;
  const stop = async (): Promise<void> => {
    await proxy?.stop();
    await server?.stop();
    await rm(workDir, { recursive: true, force: true });
  };
  try {
    server = await startNullServerProcess({ tls: scenario.upstream === 'https' });
    proxy = await scenario.startProxy?.({ server, workDir });
    const processes = { server, proxy, stop };
    if (!options.freshProcesses) await runClient(processes, options, STEADY_STATE_WARMUP_REQUESTS, 0);
    options.onProcessesStarted?.(scenario);
    return processes;
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * One timed run, with the CPU used during exactly its timed requests by the proxy's process tree, and by the client
 * (this process: nothing else runs in it meanwhile) and the null server's tree together.
 */
async function runTimed(processes: ScenarioProcesses, options: ComparisonOptions): Promise<Omit<Extract<RoundOutcome, { state: 'ok' }>, 'round'>> {
  const proxyPid = processes.proxy?.pid;
  const serverPid = processes.server.pid;
  let proxyCpuSeconds: number | undefined;
  let clientServerCpuSeconds: number | undefined;
  const meter = async (): Promise<() => Promise<void>> => {
    const stopProxy = proxyPid === undefined ? undefined : await startTreeCpuMeter(proxyPid);
    const stopServer = serverPid === undefined ? undefined : await startTreeCpuMeter(serverPid);
    const clientBefore = process.cpuUsage();
    return async () => {
      const client = process.cpuUsage(clientBefore);
      proxyCpuSeconds = await stopProxy?.();
      const serverSeconds = await stopServer?.();
      if (serverSeconds !== undefined) clientServerCpuSeconds = serverSeconds + (client.user + client.system) / 1e6;
    };
  };
  const result = await runClient(processes, options, options.requestsPerConnection, options.warmupRequests ?? DEFAULT_WARMUP_REQUESTS, meter);
  return {
    state: 'ok',
    result,
    ...(proxyCpuSeconds !== undefined ? { proxyCpuSeconds } : {}),
    ...(clientServerCpuSeconds !== undefined ? { clientServerCpuSeconds } : {}),
  };
}

function runClient(
  { server, proxy }: ScenarioProcesses,
  options: ComparisonOptions,
  requestsPerConnection: number,
  warmupRequests: number,
  onTimedPhase?: () => Promise<() => Promise<void>>,
): Promise<BenchResult> {
  return runBenchClient({
    target: `${server.url}/v1/write/metric`,
    proxy: proxy?.url,
    connections: options.connections,
    requestsPerConnection,
    body: options.body,
    caPem: proxy?.clientCaPem ?? server.caPem,
    warmupRequests,
    ...(onTimedPhase !== undefined ? { onTimedPhase } : {}),
  });
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
}
