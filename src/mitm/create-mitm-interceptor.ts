/**
 * Builds MITM mode from the config: loads or creates the CA, sets up the leaf certificate cache (reporting
 * generations and hits to the metrics) and the host matcher, and returns the interceptor the proxy consults on
 * every CONNECT.
 */
import type { ProxyConfig } from '../config/proxy-config.js';
import type { Logger } from '../logging/logger.js';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { ConnectionTracker } from '../relay/connection-tracker.js';
import type { ExchangeObservers } from '../relay/exchange-records.js';
import type { UpstreamTlsSettings } from '../relay/upstream-tls.js';
import { loadOrCreateCa } from './ca-store.js';
import { HostMatcher } from './host-matcher.js';
import { LeafCertificateCache } from './leaf-certificate-cache.js';
import { TlsInterceptor } from './tls-interceptor.js';
import type { AdmissionGuards } from '../relay/admission-guards.js';

export interface MitmDeps {
  config: ProxyConfig;
  logger: Logger;
  observers: ExchangeObservers;
  upstreamTls: UpstreamTlsSettings;
  tracker: ConnectionTracker;
  metrics: ProxyMetrics;
  guards: AdmissionGuards;
}

export async function createMitmInterceptor(deps: MitmDeps): Promise<TlsInterceptor> {
  const { config, logger, metrics } = deps;
  const options = config.mitmOptions;
  const ca = await loadOrCreateCa(options, (message) => logger.info(message));
  logger.info(
    { ca_cert: ca.certPath ?? null, subject: ca.certificate.subject, not_after: ca.certificate.notAfter.toISOString() },
    'MITM enabled: clients must trust this CA (egress-proxy ca export)',
  );
  const certificates = new LeafCertificateCache({
    ca,
    maxEntries: options.leafCacheSize,
    leafValidityDays: options.leafValidityDays,
    onGenerated: (hostname, ms) => {
      metrics.leafCertificates.inc({ result: 'generated' });
      logger.debug({ host: hostname, ms }, 'leaf certificate generated');
    },
    onHit: () => metrics.leafCertificates.inc({ result: 'cache_hit' }),
  });
  // For the "certificate near expiry" alert (deploy/prometheus/alerts.yml).
  metrics.watchCertificateExpiry(ca.certificate.notAfter, () => certificates.earliestNotAfter());
  return new TlsInterceptor({
    ...deps,
    certificates,
    hosts: new HostMatcher(options.interceptHosts, options.passthroughHosts),
  });
}
