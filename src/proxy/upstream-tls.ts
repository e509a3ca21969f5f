/**
 * How upstream TLS is verified, decided once per process: the trusted roots (Node's, the system bundle, the
 * operator's extra CA) live in one SecureContext built at startup, because building one per connection would parse
 * ~150 root certificates every time. Used by plain forwarding of `https://` URIs and by the MITM relay.
 */
import tls from 'node:tls';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';

export interface UpstreamTlsOptions {
  /** Extra CA file (PEM) trusted in addition to the system roots. */
  extraCaFile: string | undefined;
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
  const secureContext = tls.createSecureContext({ ca: await loadTrustedRoots(options.extraCaFile) });
  return { secureContext, rejectUnauthorized: !options.insecure };
}

/** Node's bundled Mozilla roots, the system bundle when one exists, and the operator's extra CA. */
export async function loadTrustedRoots(extraCaFile: string | undefined): Promise<string[]> {
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
      throw new ConfigError(extraCaFile, 'mitm.upstream_ca_file', `cannot read file: ${(err as Error).message}`);
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError(extraCaFile, 'mitm.upstream_ca_file', 'expected PEM certificates');
    }
    roots.push(pem);
  }
  return roots;
}
