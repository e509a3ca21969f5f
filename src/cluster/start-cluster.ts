/**
 * `run` with `workers` > 1: the admin listener in this (primary) process, serving the workers' metrics added up
 * and answering /readyz for the whole; the proxy in the workers (cluster-primary.ts).
 */
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from '../config/proxy-config.js';
import type { Logger } from '../logging/logger.js';
import { adminServerFromConfig, type AdminServerDeps } from '../admin/admin-from-config.js';
import { ListenerStartError } from '../errors.js';
import { ClusterPrimary } from './cluster-primary.js';

export async function startClusterPrimary(config: ProxyConfig, logger: Logger, workers: number, reload: AdminServerDeps['reload']) {
  const primary = new ClusterPrimary({ config, logger, workers });
  // A primary that exits at once (a second signal, a crash) takes its workers with it.
  process.once('exit', () => primary.kill());
  let adminAddress: AddressInfo | undefined;
  let proxyAddress: AddressInfo | undefined;
  // The dashboard's sampler and history run here, in the primary, over the workers' metrics added up.
  const admin = adminServerFromConfig(config, {
    metrics: primary.metricsSource,
    isReady: () => primary.accepting,
    readyText: () => `ready: ${primary.listeningWorkers} of ${primary.workers} workers listening`,
    logger,
    listening: () => ({ proxyPort: proxyAddress?.port, adminPort: adminAddress?.port }),
    reload,
  });
  try {
    adminAddress = await admin?.listen();
  } catch (err) {
    throw new ListenerStartError('admin', err);
  }
  try {
    proxyAddress = await primary.start(adminAddress ? { bind: config.admin.bind, port: adminAddress.port } : undefined);
  } catch (err) {
    await admin?.close();
    throw err;
  }
  return {
    proxyAddress,
    adminAddress,
    details: { workers },
    registry: primary.registry,
    apply: (next: ProxyConfig) => primary.reload(next),
    async stop(drainMs: number) {
      const result = await primary.stop(drainMs);
      await admin?.close();
      return result;
    },
  };
}
