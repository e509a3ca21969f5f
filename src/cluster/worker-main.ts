/**
 * A cluster worker: a whole proxy, started with the config the primary sends (see cluster-primary.ts). It drains
 * on the primary's word or on a signal of its own (systemd signals the whole control group, a terminal's Ctrl-C
 * the whole process group), and stops when the primary is gone: a worker nobody supervises must not linger.
 */
import { startEgressProxy, type RunningProxy } from '../egress-proxy.js';
import { createLogger, flushLogger } from '../logging/logger.js';
import { startupFailureLine } from '../cli/startup-failure.js';
import { survivePerConnectionErrors } from '../cli/uncaught-errors.js';
import { answerMetricsRequests } from './cluster-metrics.js';
import { isPrimaryMessage, type ReloadMessage, type StartMessage, type WorkerMessage } from './worker-messages.js';

survivePerConnectionErrors();
const logger = createLogger();
let proxy: RunningProxy | undefined;
let answerMetrics: ReturnType<typeof answerMetricsRequests> | undefined;
let stopping = false;
let signalsReceived = 0;
let defaultDrainMs = 10_000;
/** Reloads that arrived while the proxy was starting: applied, in order, once it has started. */
const reloadsDuringStart: ReloadMessage[] = [];

function send(message: WorkerMessage): void {
  if (process.connected) process.send!(message);
}

async function start(message: StartMessage): Promise<void> {
  defaultDrainMs = message.config.timeouts.drainMs;
  try {
    const externalListeners = message.adminListener ? [message.adminListener] : [];
    proxy = await startEgressProxy(message.config, logger, { externalListeners });
  } catch (err) {
    send({ type: 'egress-proxy:start-failed', line: startupFailureLine(err, message.config), detail: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    await flushLogger(logger);
    process.exit(1);
  }
  answerMetrics = answerMetricsRequests(proxy.metrics.registry, send);
  send({ type: 'egress-proxy:listening', address: proxy.proxyAddress });
  for (const reloadMessage of reloadsDuringStart.splice(0)) reload(reloadMessage);
  // Asked to stop while starting: now that there is something to stop, stop it.
  if (stopping) void stop(defaultDrainMs);
}

/** Applies a config the primary has validated (src/reload/config-reloader.ts) and says whether it could. */
function reload(message: ReloadMessage): void {
  if (proxy === undefined) {
    // The start message may have carried the config before this one: apply it once the proxy exists.
    reloadsDuringStart.push(message);
    return;
  }
  try {
    proxy.reconfigure(message.config);
    defaultDrainMs = message.config.timeouts.drainMs;
    send({ type: 'egress-proxy:reloaded', id: message.id, error: undefined });
  } catch (err) {
    logger.error({ err }, 'could not apply the reloaded configuration; this worker keeps the previous one');
    send({ type: 'egress-proxy:reloaded', id: message.id, error: err instanceof Error ? err.message : String(err) });
  }
}

async function stop(drainMs: number): Promise<void> {
  stopping = true;
  if (proxy === undefined) return; // start() stops it once it exists, or exits on failure
  const { forced } = await proxy.stop(drainMs);
  send({ type: 'egress-proxy:stopped', forced });
  await flushLogger(logger);
  process.exit(0);
}

process.on('message', (message: unknown) => {
  if (!isPrimaryMessage(message)) return;
  switch (message.type) {
    case 'egress-proxy:start':
      void start(message);
      return;
    case 'egress-proxy:drain':
      void stop(message.drainMs);
      return;
    case 'egress-proxy:metrics-request':
      answerMetrics?.(message);
      return;
    case 'egress-proxy:reload':
      reload(message);
      return;
  }
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    // A second signal means "now", as in a single process. Only signals count: under systemd the control group's
    // SIGTERM and the primary's drain message arrive together, and that is one request to stop.
    if (++signalsReceived > 1) process.exit(1);
    void stop(defaultDrainMs);
  });
}

// The primary answers SIGHUP for the whole (a terminal's hangup reaches every process of the group).
process.on('SIGHUP', () => undefined);

// The primary is gone (killed, or crashed): finish what is in flight and exit.
process.on('disconnect', () => void stop(defaultDrainMs));

send({ type: 'egress-proxy:hello' });
