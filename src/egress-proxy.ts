/**
 * Assembles a running egress-proxy from a resolved config: the live settings, the relay engine (upstream dialer,
 * pool, slots, timeout sweep), the proxy listener, metrics, access log, the admin listener and (when enabled) MITM.
 * The CLI and the tests start the proxy through here, so both run exactly the same wiring.
 */
import type { AddressInfo, LookupFunction } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';
import { readFile } from 'node:fs/promises';
import type { ProxyConfig } from './config/proxy-config.js';
import type { Logger } from './logging/logger.js';
import { AccessLog } from './logging/access-log.js';
import { interceptionPolicy } from './mitm/host-matcher.js';
import { ProxyServer } from './proxy/proxy-server.js';
import { tunnelRelay } from './proxy/tunnel-relay-selection.js';
import { ConnectionTracker } from './relay/connection-tracker.js';
import { ExchangeObservers, type ExchangeObserver } from './relay/exchange-records.js';
import { ClientAllowListGuard, SelfLoopGuard, type RequestGuard } from './relay/guards.js';
import { ClientConnectionLimitGuard, PortPolicyGuard, ProxyAuthGuard, ViaLoopGuard } from './relay/security-guards.js';
import { ProxyAuthenticator } from './auth/proxy-authenticator.js';
import type { CredentialVerifierOptions } from './auth/credential-verifier.js';
import { DestinationDeniedError } from './errors.js';
import { RateLimitedLog } from './logging/rate-limited-log.js';
import { ClientConnectionLimit } from './policy/client-connection-limit.js';
import { DestinationPolicy } from './policy/destination-policy.js';
import { PortPolicy } from './policy/port-policy.js';
import { ViaLoopDetector } from './policy/via-loop.js';
import { viaPseudonym } from './policy/via-token.js';
import { DescriptorExhaustionLog } from './system/descriptor-exhaustion.js';
import { DescriptorProbe } from './system/descriptor-probe.js';
import { RelayEngine } from './relay/relay-engine.js';
import { LiveSettings, type RelaySettings } from './relay/relay-settings.js';
import { UpstreamDialer, type ConnectFunction } from './relay/upstream-dialer.js';
import { createUpstreamTls } from './relay/upstream-tls.js';
import { ProxyMetrics } from './metrics/proxy-metrics.js';
import type { AdminServer } from './admin/admin-server.js';
import { adminServerFromConfig, type AdminServerDeps } from './admin/admin-from-config.js';
import { registryMetricsSource } from './admin/metrics-source.js';
import { ListenerStartError } from './errors.js';
import { planConnectionCap, readOpenFilesLimit } from './system/open-files-limit.js';
import { DEFAULT_SOURCE } from './config/defaults.js';
import { describeOrigin } from './config/value-origin.js';
import { restartNeededKeys } from './reload/restart-scope.js';
import { ParentProxy } from './relay/parent-proxy.js';
import { ParentProxyLog } from './logging/parent-proxy-log.js';
import { IdleMemoryReclaimer } from './memory/idle-memory-reclaimer.js';
import type { ReclaimPolicy } from './memory/reclaim-decision.js';
import { memoryReclaimCounter } from './memory/reclaim-metric.js';

export interface RunningProxy {
  proxyAddress: AddressInfo;
  adminAddress: AddressInfo | undefined;
  metrics: ProxyMetrics;
  /** The admin listener, when enabled (its dashboard sampler is reachable for tests). */
  admin: AdminServer | undefined;
  /** Whether the proxy listener is accepting (false once a stop has begun). */
  readonly accepting: boolean;
  /** This proxy's Via pseudonym (src/policy/via-token.ts), as it adds it to every message it relays. */
  readonly via: string;
  /**
   * Applies a new config to every connection and request that starts from now on (allow-list, guards, timeouts,
   * limits, verbose, MITM host lists); what is in flight keeps what it began with. Returns the keys whose new
   * values need a restart and were not applied (listen addresses, MITM on or off, the admin listener, upstream TLS).
   */
  reconfigure(config: ProxyConfig): { restartNeeded: string[] };
  /** Graceful stop: drain for up to `drainMs` (default: the configured drain timeout), then close everything. */
  stop(drainMs?: number): Promise<{ forced: boolean }>;
}

export interface StartOptions {
  /** Replaces the system resolver for every upstream connection (forwarding, MITM, tunnels). */
  lookup?: LookupFunction;
  /** Replaces net.connect for every upstream connection; it is given an IP address the dialer has checked. */
  connect?: ConnectFunction;
  /**
   * Listeners of this proxy served by another process (a cluster worker's admin listener is in the primary): a
   * request aimed at them is a loop, like one aimed at the proxy port.
   */
  externalListeners?: ReadonlyArray<{ bind: string; port: number }>;
  /** What the admin listener's POST /-/reload runs (src/reload/); absent: no reload endpoint. */
  reload?: AdminServerDeps['reload'];
  /** Replaces os.networkInterfaces: the host's own addresses, which the destination policy refuses (tests). */
  networkInterfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** Replaces the proxy port's password check (scrypt): tests wrap the real one to count the checks that run. */
  verifyPassword?: CredentialVerifierOptions['verifyPassword'];
  /** Shorter timings for the idle memory reclaimer (tests; src/memory/reclaim-decision.ts). */
  memoryReclaim?: Partial<ReclaimPolicy>;
}

export async function startEgressProxy(
  resolvedConfig: ProxyConfig,
  logger: Logger,
  options: StartOptions = {},
): Promise<RunningProxy> {
  const version = await packageVersion();
  const { config, reportCap } = await fitConnectionCap(resolvedConfig, logger);
  const tracker = new ConnectionTracker();
  const metrics = new ProxyMetrics({
    maxApiLabels: config.metrics.maxApiLabels,
    maxClientIpLabels: config.metrics.maxClientIpLabels,
    version,
    maxClientConnections: config.limits.maxClientConnections,
    gauges: {
      activeTunnels: () => tracker.activeTunnels,
      requestsInFlight: () => tracker.requestsInFlight,
      clientConnections: () => tracker.clientConnections,
      openTunnelBytes: (count) => tracker.countOpenTunnelBytes(count),
    },
  });
  const countReclaim = memoryReclaimCounter(metrics.registry);
  const loopGuard = new SelfLoopGuard(options.networkInterfaces);
  // Warnings traffic can cause, at most one a minute per reason (an attacker must not be able to flood the log).
  const trafficLog = new RateLimitedLog(logger, { onSuppressed: (reason) => metrics.onLogLineSuppressed(reason) });
  const descriptors = new DescriptorExhaustionLog(trafficLog, () => metrics.onDescriptorsExhausted('accept'));
  const descriptorProbe = new DescriptorProbe((err) => descriptors.acceptsDropped(err));
  const via = await viaPseudonym(config.mitmOptions.dataDir, config.bind, config.port);
  logger.debug({ via: via.pseudonym, ...via.source }, 'Via pseudonym');
  const viaLoops = new ViaLoopGuard(new ViaLoopDetector(via.pseudonym));
  // Counts open connections across reloads: a new cap applies to the connections as they are.
  const connectionsPerClient = new ClientConnectionLimit(() => settings.current.limits.maxConnectionsPerClient);
  // A parent proxy is a restart-only setting (restart-scope.ts): one, and one log of its refusals, for the process.
  const parentProxy = config.upstreamProxy === undefined ? undefined : new ParentProxy(config.upstreamProxy, config.upstreamProxyBypass);
  const parentLog = parentProxy === undefined ? undefined : new ParentProxyLog(trafficLog, parentProxy.display);
  /** The settings a reload may change, built the same way at start and at each reconfigure. */
  const relaySettings = (next: ProxyConfig): RelaySettings => {
    const observerList: ExchangeObserver[] = [metrics, descriptors];
    if (next.verbose) observerList.push(new AccessLog(logger, { fullPaths: next.logFullPaths }));
    if (parentLog !== undefined) observerList.push(parentLog);
    // In this order: ports, the self-loop, Via loops, then who is asking (the destination is the dialer's).
    const requestGuards: RequestGuard[] = [
      new PortPolicyGuard(new PortPolicy({ connectPorts: next.destinations.connectPorts, httpPorts: next.destinations.httpPorts, allow: next.destinations.allow })),
      loopGuard,
      viaLoops,
    ];
    if (next.proxyAuth.users.length > 0) requestGuards.push(new ProxyAuthGuard(proxyAuthenticator(next)));
    return {
      timeouts: next.timeouts,
      limits: next.limits,
      connectionGuards: [new ClientAllowListGuard(next.allowedClientCidrs), new ClientConnectionLimitGuard(connectionsPerClient)],
      requestGuards,
      observers: new ExchangeObservers(observerList, (err) => logger.error({ err }, 'metrics or access-log observer failed')),
      interception: config.mitm ? interceptionPolicy(next.mitmOptions) : undefined,
      destinations: new DestinationPolicy({
        allow: next.destinations.allow,
        blockSpecialRanges: next.destinations.blockSpecialRanges,
        isOwnAddress: (address) => loopGuard.isOwnAddress(address),
      }),
      via: via.pseudonym,
      upstreamProxy: parentProxy,
    };
  };
  const proxyAuthenticator = (next: ProxyConfig): ProxyAuthenticator =>
    new ProxyAuthenticator({
      users: next.proxyAuth.users,
      realm: next.proxyAuth.realm,
      maxFailuresPerMinute: next.proxyAuth.maxFailuresPerMinute,
      ...(options.verifyPassword ? { verifier: { verifyPassword: options.verifyPassword } } : {}),
      onFailure: (reason, clientIp) => {
        metrics.onProxyAuthFailure(reason);
        if (reason === 'rate_limited') trafficLog.warn('proxy_auth_rate_limited', { client: clientIp }, 'proxy authentication: a client failed too often and is refused unchecked for a while');
      },
    });
  const settings: LiveSettings = new LiveSettings(relaySettings(config));

  if (config.upstreamTls.insecure) {
    logger.warn('upstream TLS verification is OFF (upstream_tls.insecure = true): upstream certificates are not checked');
  }
  const upstreamTls = await createUpstreamTls({
    extraCaFile: config.upstreamTls.caFile,
    extraCaFileOrigin: config.origins.upstreamCaFile,
    insecure: config.upstreamTls.insecure,
  });
  const dialer = new UpstreamDialer({
    lookup: options.lookup,
    connect: options.connect,
    upstreamTls,
    // The destination policy of the moment, on every address dialled; the self-loop first (its 508 says more).
    checkAddress: (address, target) => loopGuard.checkAddress(address, target) ?? settings.current.destinations.checkAddress(address, target),
    checkName: (target) => settings.current.destinations.checkName(target),
    onRefused: (refusal, target) => {
      if (!(refusal instanceof DestinationDeniedError)) return;
      metrics.onDestinationRefusal(refusal.rule);
      trafficLog.warn(`destination_${refusal.rule}`, { target: target.authority, rule: refusal.rule }, `destination refused: ${refusal.message}`);
    },
    parent: () => settings.current.upstreamProxy,
    // The parent's own address: only the self-loop check (a parent that is this proxy would loop).
    checkParentAddress: loopGuard.checkAddress,
  });
  if (parentProxy !== undefined) logger.info({ upstream_proxy: parentProxy.display, bypass: config.upstreamProxyBypass }, 'upstream connections go through the upstream proxy');
  const engine = new RelayEngine({ settings, tracker, dialer });
  const interceptor = config.mitm
    ? // Loaded only with MITM on: the X.509 stack is a third of the heap, and every major GC walks the whole heap.
      await (await import('./mitm/create-mitm-interceptor.js')).createMitmInterceptor({ options: config.mitmOptions, logger, tracker, metrics, engine })
    : undefined;

  const relay = tunnelRelay();
  logger.info({ tunnel_relay: relay.name, detail: relay.detail }, 'tunnel relay');
  const proxy = new ProxyServer({
    config,
    engine,
    tracker,
    loopGuard,
    interceptor,
    onAcceptError: (err) => {
      if (!descriptors.acceptFailed(err, 'proxy')) logger.error({ err }, 'proxy listener error');
    },
  });
  let proxyAddress: AddressInfo | undefined;
  let adminAddress: AddressInfo | undefined;
  const admin = adminServerFromConfig(config, {
    metrics: registryMetricsSource(metrics.registry),
    isReady: () => proxy.accepting,
    logger,
    listening: () => ({ proxyPort: proxyAddress?.port, adminPort: adminAddress?.port }),
    trafficLog,
    onListenerError: (err) => {
      if (!descriptors.acceptFailed(err, 'admin')) logger.error({ err }, 'admin listener error');
    },
    reload: options.reload,
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
  reportCap();
  descriptorProbe.start();
  // Gives a burst's memory back once its connections have closed and the process is quiet (docs/memory.md).
  const reclaimer = new IdleMemoryReclaimer({
    openConnections: () => tracker.clientConnections,
    logger,
    onReclaim: countReclaim,
    policy: options.memoryReclaim,
  });
  reclaimer.start();
  if (adminAddress) loopGuard.addOwnListener(config.admin.bind, adminAddress.port);
  for (const listener of options.externalListeners ?? []) loopGuard.addOwnListener(listener.bind, listener.port);

  let stopping: Promise<{ forced: boolean }> | undefined;
  return {
    proxyAddress,
    adminAddress,
    metrics,
    admin,
    via: via.pseudonym,
    get accepting() {
      return proxy.accepting;
    },
    reconfigure(next) {
      // A reload also picks up interface addresses added since the start (the policy refuses the host's own).
      loopGuard.refreshInterfaces();
      settings.replace(relaySettings(next));
      return { restartNeeded: restartNeededKeys(resolvedConfig, next) };
    },
    stop(drainMs = config.timeouts.drainMs) {
      stopping ??= (async () => {
        descriptorProbe.stop();
        reclaimer.stop();
        const result = await proxy.drain(drainMs);
        await admin?.close();
        return result;
      })();
      return stopping;
    },
  };
}

/**
 * The config with the client-connection cap lowered to what the open-files limit allows (open-files-limit.ts), and
 * what says so once the proxy listens (a start that fails says only why it failed): a warning when the user set the
 * cap, an info line for the default.
 */
async function fitConnectionCap(config: ProxyConfig, logger: Logger): Promise<{ config: ProxyConfig; reportCap: () => void }> {
  const origin = config.origins.maxClientConnections;
  const byDefault = origin.source === DEFAULT_SOURCE;
  const plan = planConnectionCap(config.limits.maxClientConnections, await readOpenFilesLimit(), byDefault ? `${origin.key} (default)` : describeOrigin(origin));
  const message = plan.message;
  if (message === undefined) return { config, reportCap: () => undefined };
  return {
    config: { ...config, limits: { ...config.limits, maxClientConnections: plan.maxClientConnections } },
    reportCap: () => (byDefault ? logger.info(message) : logger.warn(message)),
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
