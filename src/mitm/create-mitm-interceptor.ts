/**
 * Builds MITM mode from the config: loads or creates the CA, sets up the leaf certificate cache (reporting
 * generations and hits to the metrics), and returns the interceptor that carries out Intercept decisions. Which
 * hosts are decrypted is a live setting (host-matcher.ts's interceptionPolicy), read per CONNECT.
 */
import type { MitmConfig } from '../config/proxy-config.js';
import type { Logger } from '../logging/logger.js';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { ConnectionTracker } from '../relay/connection-tracker.js';
import type { RelayEngine } from '../relay/relay-engine.js';
import { loadOrCreateCa } from './ca-store.js';
import { LeafCertificateCache } from './leaf-certificate-cache.js';
import { TlsInterceptor } from './tls-interceptor.js';

export interface MitmDeps {
  options: MitmConfig;
  logger: Logger;
  tracker: ConnectionTracker;
  metrics: ProxyMetrics;
  engine: RelayEngine;
}

export async function createMitmInterceptor(deps: MitmDeps): Promise<TlsInterceptor> {
  const { options, logger, metrics } = deps;
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
  return new TlsInterceptor({ logger, tracker: deps.tracker, certificates, engine: deps.engine });
}
