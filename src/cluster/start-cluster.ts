/**
 * `run` with `workers` > 1: the admin listener in this (primary) process, serving the workers' metrics added up
 * and answering /readyz for the whole; the proxy in the workers (cluster-primary.ts).
 */
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from '../config/proxy-config.js';
import type { Logger } from '../logging/logger.js';
import { AdminServer } from '../admin/admin-server.js';
import { ListenerStartError } from '../errors.js';
import { ClusterPrimary } from './cluster-primary.js';

export async function startClusterPrimary(config: ProxyConfig, logger: Logger, workers: number) {
  const primary = new ClusterPrimary({ config, logger, workers });
  // A primary that exits at once (a second signal, a crash) takes its workers with it.
  process.once('exit', () => primary.kill());
  const admin = config.admin.enabled
    ? new AdminServer({
        bind: config.admin.bind,
        port: config.admin.port,
        registry: primary.metricsSource,
        isReady: () => primary.accepting,
        readyText: () => `ready: ${primary.listeningWorkers} of ${primary.workers} workers listening`,
      })
    : undefined;
  let adminAddress: AddressInfo | undefined;
  try {
    adminAddress = await admin?.listen();
  } catch (err) {
    throw new ListenerStartError('admin', err);
  }
  let proxyAddress: AddressInfo;
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
    async stop() {
      const result = await primary.stop();
      await admin?.close();
      return result;
    },
  };
}
