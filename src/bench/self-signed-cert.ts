/**
 * A throwaway self-signed certificate for the null server, made in memory at startup, so `bench server` serves
 * HTTPS with no files to prepare. Clients trust it by passing the certificate itself as their CA (`--ca FILE`).
 */
import { x509, subtle } from '../mitm/x509-library.js';
import { randomBytes } from 'node:crypto';

export interface SelfSignedCert {
  /** The certificate, PEM: also the only CA a client needs. */
  certPem: string;
  /** Its private key, PKCS#8 PEM. */
  keyPem: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A P-256 certificate valid for `localhost`, `127.0.0.1` and `::1`, for the next `validDays` days. */
export async function createSelfSignedCert(commonName = 'egress-proxy bench null server', validDays = 30): Promise<SelfSignedCert> {
  // P-256: key generation and signing are sub-millisecond (RSA-2048 generation takes ~200 ms here).
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    // Positive, non-zero 16-byte serial (RFC 5280 4.1.2.2): clear the top bit so it is not read as negative.
    serialNumber: ((randomBytes(16)[0] as number) & 0x7f).toString(16).padStart(2, '0') + randomBytes(15).toString('hex'),
    name: `CN=${commonName}`,
    // A little back-dated so a client whose clock is slightly behind still accepts it.
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + validDays * DAY_MS),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      // It is its own trust anchor: marked as a CA so OpenSSL accepts it in a client's `ca` list.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certPem: cert.toString('pem'),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
  };
}
