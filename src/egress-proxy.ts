/**
 * Assembles a running egress-proxy from a resolved config: upstream pools, admission guards, the proxy
 * listener, metrics, access log, the admin listener and (when enabled) MITM. The CLI and the tests start the
 * proxy through here, so both run exactly the same wiring.
 */
import type { AddressInfo, LookupFunction } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { ProxyConfig } from './config/proxy-config.js';
import type { Logger } from './logging/logger.js';
import { AccessLog } from './logging/access-log.js';
import { AdmissionGuards } from './relay/admission-guards.js';
import { ConnectionTracker } from './relay/connection-tracker.js';
import { tunnelRelay } from './proxy/tunnel-relay-selection.js';
import { ExchangeObservers, type ExchangeObserver } from './relay/exchange-records.js';
import { ProxyServer } from './proxy/proxy-server.js';
import { createUpstreamTls } from './relay/upstream-tls.js';
import { ProxyMetrics } from './metrics/proxy-metrics.js';
import type { AdminServer } from './admin/admin-server.js';
import { adminServerFromConfig } from './admin/admin-from-config.js';
import { registryMetricsSource } from './admin/metrics-source.js';
import { ListenerStartError } from './errors.js';

export interface RunningProxy {
  proxyAddress: AddressInfo;
  adminAddress: AddressInfo | undefined;
  metrics: ProxyMetrics;
  /** The admin listener, when enabled (its dashboard sampler is reachable for tests). */
  admin: AdminServer | undefined;
  /** Whether the proxy listener is accepting (false once a stop has begun). */
  readonly accepting: boolean;
  /** Graceful stop: drain for up to `drainMs` (default: the configured drain timeout), then close everything. */
  stop(drainMs?: number): Promise<{ forced: boolean }>;
}

export interface StartOptions {
  /** Replaces the system resolver for upstream connections. */
  lookup?: LookupFunction;
  /**
   * Listeners of this proxy served by another process (a cluster worker's admin listener is in the primary): a
   * request aimed at them is a loop, like one aimed at the proxy port.
   */
  externalListeners?: ReadonlyArray<{ bind: string; port: number }>;
}

export async function startEgressProxy(
  config: ProxyConfig,
  logger: Logger,
  options: StartOptions = {},
): Promise<RunningProxy> {
  const version = await packageVersion();
  const tracker = new ConnectionTracker();
  const metrics = new ProxyMetrics({
    maxApiLabels: config.metrics.maxApiLabels,
    maxClientIpLabels: config.metrics.maxClientIpLabels,
    version,
    maxClientConnections: config.limits.maxClientConnections,
    gauges: { activeTunnels: () => tracker.activeTunnels, requestsInFlight: () => tracker.requestsInFlight, clientConnections: () => tracker.clientConnections },
  });
  const observerList: ExchangeObserver[] = [metrics];
  if (config.verbose) observerList.push(new AccessLog(logger));
  const observers = new ExchangeObservers(observerList, (err) =>
    logger.error({ err }, 'metrics or access-log observer failed'),
  );

  if (config.upstreamTls.insecure) {
    logger.warn('upstream TLS verification is OFF (upstream_tls.insecure = true): upstream certificates are not checked');
  }
  const upstreamTls = await createUpstreamTls({
    extraCaFile: config.upstreamTls.caFile,
    extraCaFileOrigin: config.origins.upstreamCaFile,
    insecure: config.upstreamTls.insecure,
  });
  const guards = new AdmissionGuards({
    allowedClientCidrs: config.allowedClientCidrs,
    allowedConnectPorts: config.limits.allowedConnectPorts,
  });
  const interceptor = config.mitm
    ? // Loaded only with MITM on: the X.509 stack is a third of the heap, and every major GC walks the whole heap.
      await (await import('./mitm/create-mitm-interceptor.js')).createMitmInterceptor({ config, logger, observers, upstreamTls, tracker, metrics, guards })
    : undefined;

  const relay = tunnelRelay();
  logger.info({ tunnel_relay: relay.name, detail: relay.detail }, 'tunnel relay');
  const proxy = new ProxyServer({ config, logger, observers, upstreamTls, guards, tracker, interceptor, lookup: options.lookup });
  let proxyAddress: AddressInfo | undefined;
  let adminAddress: AddressInfo | undefined;
  const admin = adminServerFromConfig(config, {
    metrics: registryMetricsSource(metrics.registry),
    isReady: () => proxy.accepting,
    logger,
    listening: () => ({ proxyPort: proxyAddress?.port, adminPort: adminAddress?.port }),
  });
  try {
    // Either listener failing (port taken, address not local) must release the other, or the open one keeps
    // the process alive with nothing serving.
    adminAddress = await admin?.listen().catch(listenerFailed('admin'));
    proxyAddress = await proxy.listen().catch(listenerFailed('proxy'));
  } catch (err) {
    await admin?.close().catch(() => undefined);
    throw err;
  }
  if (adminAddress) guards.addOwnListener(config.admin.bind, adminAddress.port);
  for (const listener of options.externalListeners ?? []) guards.addOwnListener(listener.bind, listener.port);

  let stopping: Promise<{ forced: boolean }> | undefined;
  return {
    proxyAddress,
    adminAddress,
    metrics,
    admin,
    get accepting() {
      return proxy.accepting;
    },
    stop(drainMs = config.timeouts.drainMs) {
      stopping ??= (async () => {
        const result = await proxy.drain(drainMs);
        await admin?.close();
        return result;
      })();
      return stopping;
    },
  };
}

function listenerFailed(listener: 'proxy' | 'admin') {
  return (err: unknown): never => {
    throw new ListenerStartError(listener, err);
  };
}

let cachedVersion: string | undefined;
export async function packageVersion(): Promise<string> {
  if (cachedVersion) return cachedVersion;
  // Both src/ (tsx) and dist/ sit one level below the package root.
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  cachedVersion = pkg.version;
  return cachedVersion;
}
