/**
 * The keep-alive connection pools to upstreams, created once per process. TLS settings (trusted roots, the
 * extra CA, verification) live in one SecureContext built at startup: building one per connection would parse
 * ~150 root certificates every time.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';

export interface UpstreamAgentOptions {
  maxSocketsPerHost: number;
  /** Idle time before a pooled socket is closed; keep it below the upstream's own keep-alive timeout. */
  keepAliveMs: number;
  /** Extra CA file (PEM) trusted in addition to the system roots. */
  extraCaFile: string | undefined;
  /** Skip upstream certificate verification (explicit opt-out, warned about at startup). */
  insecure: boolean;
}

/** How upstream TLS is verified, for code that connects without an agent (the MITM relay). */
export interface UpstreamTlsSettings {
  /** Trusted roots: Node's, the system bundle, the operator's extra CA. */
  secureContext: tls.SecureContext;
  rejectUnauthorized: boolean;
}

export interface UpstreamAgents {
  http: http.Agent;
  https: https.Agent;
  tls: UpstreamTlsSettings;
  close(): void;
}

// Debian/Ubuntu, RHEL, Alpine: where the distribution keeps the system's trusted roots.
const SYSTEM_CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

export async function createUpstreamAgents(options: UpstreamAgentOptions): Promise<UpstreamAgents> {
  const common = {
    keepAlive: true,
    timeout: options.keepAliveMs,
    maxSockets: options.maxSocketsPerHost,
    maxFreeSockets: options.maxSocketsPerHost,
    // LIFO reuses the most recently used socket, so surplus sockets go idle and time out instead of all being
    // kept barely alive.
    scheduling: 'lifo' as const,
  };
  const secureContext = tls.createSecureContext({ ca: await loadTrustedRoots(options.extraCaFile) });
  const httpAgent = new http.Agent(common);
  const httpsAgent = new https.Agent({ ...common, secureContext, rejectUnauthorized: !options.insecure });
  return {
    http: httpAgent,
    https: httpsAgent,
    tls: { secureContext, rejectUnauthorized: !options.insecure },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
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
