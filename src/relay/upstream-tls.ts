/**
 * How upstream TLS is verified, decided once per process: the trusted roots (Node's, the system bundle, the
 * operator's extra CA) live in one SecureContext built at startup, because building one per connection would parse
 * ~150 root certificates every time. Used by plain forwarding of `https://` URIs and by the MITM relay.
 */
import tls from 'node:tls';
import { readFile } from 'node:fs/promises';
import type { ValueOrigin } from '../config/proxy-config.js';
import { describeSystemError, originError } from '../config/value-origin.js';

export interface UpstreamTlsOptions {
  /** Extra CA file (PEM) trusted in addition to the system roots. */
  extraCaFile: string | undefined;
  /** Where `extraCaFile` was configured, so that a failure names the flag or key to fix. */
  extraCaFileOrigin?: ValueOrigin;
  /** Skip upstream certificate verification (explicit opt-out, warned about at startup). */
  insecure: boolean;
}

export interface UpstreamTlsSettings {
  /** Trusted roots: Node's, the system bundle, the operator's extra CA. */
  secureContext: tls.SecureContext;
  rejectUnauthorized: boolean;
}

// Debian/Ubuntu, RHEL, Alpine: where the distribution keeps the system's trusted roots.
const SYSTEM_CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

export async function createUpstreamTls(options: UpstreamTlsOptions): Promise<UpstreamTlsSettings> {
  const secureContext = tls.createSecureContext({ ca: await loadTrustedRoots(options.extraCaFile, options.extraCaFileOrigin) });
  return { secureContext, rejectUnauthorized: !options.insecure };
}

/** Node's bundled Mozilla roots, the system bundle when one exists, and the operator's extra CA. */
export async function loadTrustedRoots(
  extraCaFile: string | undefined,
  origin: ValueOrigin = { source: 'configuration', key: 'upstream_tls.ca_file' },
): Promise<string[]> {
  const roots = [...tls.rootCertificates];
  const bundles = process.env.SSL_CERT_FILE ? [process.env.SSL_CERT_FILE] : SYSTEM_CA_BUNDLES;
  for (const path of bundles) {
    try {
      roots.push(await readFile(path, 'utf8'));
      break;
    } catch {
      // Not there on this distribution: Node's own roots remain, which is what Node trusts by default.
    }
  }
  if (extraCaFile) {
    let pem: string;
    try {
      pem = await readFile(extraCaFile, 'utf8');
    } catch (err) {
      throw originError(origin, `cannot read ${extraCaFile} (${describeSystemError(err)})`);
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw originError(origin, `${extraCaFile} holds no PEM certificate`);
    }
    roots.push(pem);
  }
  return roots;
}
