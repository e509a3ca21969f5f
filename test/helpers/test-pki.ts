/** A throwaway CA and server certificates for the origin servers the tests proxy to (made fresh per run). */
import { createCaCertificate, createLeafCertificate } from '../../src/mitm/certificate-factory.js';
import { certificateAuthorityFromPem, type CertificateAuthority } from '../../src/mitm/certificate-authority.js';
import { parseLeafHostname } from '../../src/mitm/leaf-hostname.js';

export interface TestPki {
  ca: CertificateAuthority;
  caPem: string;
  /** key + cert (chain) for a TLS server named `host` (DNS name or IP). */
  serverCert(host: string): Promise<{ key: string; cert: string }>;
}

export async function createTestPki(commonName = 'egress-proxy test origin CA'): Promise<TestPki> {
  const generated = await createCaCertificate({ commonName, validityDays: 2, keyType: 'ec' });
  const ca = await certificateAuthorityFromPem({ ...generated, source: 'user' });
  return {
    ca,
    caPem: generated.certPem,
    async serverCert(host: string) {
      const leaf = await createLeafCertificate(ca, parseLeafHostname(host), { now: Date.now(), validityDays: 1 });
      return { key: leaf.keyPem, cert: leaf.certPem + ca.chainPem };
    },
  };
}
